"""A profile and session in a temporary state directory, with no repository contacted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.profile.schema import Profile
from orchestrator.sets.session import Session


def make_session(tmp_path: Path, **tables: Any) -> Session:
    profile = Profile.model_validate({
        "name": "site", "host": "box", "state_dir": str(tmp_path / "state"),
        "repositories": {"local": {"url": str(tmp_path / "repo"),
                                   "password_file": str(tmp_path / "pass")}},
        **tables})
    return Session(profile)


@pytest.fixture(autouse=True)
def no_state_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRONGROOM_STATE_DIR", raising=False)
