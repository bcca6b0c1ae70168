"""The tool registry: which tools MCP callers see and may call."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import models
from orchestrator.access.mcp import tool_list
from orchestrator.access.tools import TOOLS, invoke
from orchestrator.errors import UsageError
from orchestrator.profile.schema import Profile
from orchestrator.sets.session import Session


def test_key_tools_are_cli_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"key-list", "key-change"} <= set(TOOLS)
    listed = {tool.name for tool in tool_list()}
    assert "backup-encrypt" in listed and not listed & {"key-list", "key-change"}
    monkeypatch.setenv("STRONGROOM_STATE_DIR", str(tmp_path / "state"))
    session = Session(Profile.model_validate({
        "name": "p", "repositories": {"local": {"url": str(tmp_path / "r"),
                                                "password_file": str(tmp_path / "pw")}}}))
    for name, request in (("key-list", models.KeyListRequest()),
                          ("key-change", models.KeyChangeRequest(action="rotate"))):
        with pytest.raises(UsageError, match="no tool named"):
            invoke(session, name, request, role=None, origin="mcp")
