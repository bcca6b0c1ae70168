"""`strongroom mcp` driven by the MCP SDK's stdio client, as an assistant would."""

from __future__ import annotations

import json
import os
import sys
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from integration.conftest import Site, compare_trees

TOOL_NAMES = {
    "create-backup", "list-backups", "restore-backup", "verify-backup", "download-backup",
    "schedule-backup", "backup-database", "backup-files", "backup-containers",
    "backup-vm-snapshot", "backup-compare", "backup-migrate", "backup-encrypt", "backup-sync",
    "apply-retention", "drill", "status", "report", "recover", "pitr-setup", "pitr-status",
    "pitr-ship", "pitr-verify", "pitr-prune", "restore-continuous",
}

Body = Callable[[Any], Awaitable[None]]


def with_client(site: Site, body: Body, role: str | None = None) -> None:
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    args = ["-m", "orchestrator", *(["--role", role] if role else []), "mcp", "-p",
            str(site.profile)]
    params = StdioServerParameters(command=sys.executable, args=args, cwd=str(site.root),
                                   env={"STRONGROOM_STATE_DIR": str(site.state),
                                        "PATH": os.environ["PATH"],
                                        # the code under test, not an installed copy
                                        "PYTHONPATH": os.environ.get("PYTHONPATH", "")})

    async def main() -> None:
        with open(site.root / "mcp-stderr.log", "w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write), \
                    ClientSession(read, write) as session:
                await session.initialize()
                await body(session)

    anyio.run(main)


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    return dict(result.structured_content)


def error_text(result: Any) -> str:
    assert result.is_error
    return str(result.content[0].text)


def test_tools_and_a_full_round_trip(site: Site) -> None:
    # Large enough that restic reports progress while it works.
    with open(site.path("srv/data/progress.bin"), "wb") as handle:
        for _ in range(200):
            handle.write(os.urandom(1 << 20))
    # An MCP caller names paths inside the [access] folders (defaults under the state dir).
    out = site.state / "exports" / "export.zip"
    target = site.state / "restores" / "restored"
    seen: dict[str, Any] = {}

    async def body(session: Any) -> None:
        listed = await session.list_tools()
        tools = {tool.name: tool for tool in listed.tools}
        assert set(tools) == TOOL_NAMES
        create_props = tools["create-backup"].input_schema["properties"]
        assert {"type", "name", "services", "includeData", "destination", "encrypt",
                "compress", "verify"} <= set(create_props)
        assert {"backupName", "format", "encrypt", "password", "downloadPath"} <= set(
            tools["download-backup"].input_schema["properties"])
        assert {"name", "schedule", "backupType", "services", "destination", "retention",
                "encrypt"} <= set(tools["schedule-backup"].input_schema["properties"])

        progress: list[float] = []

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            progress.append(done)

        made = structured(await session.call_tool(
            "create-backup", {"type": "full", "name": "assistant", "includeData": True},
            progress_callback=on_progress))
        seen["made"] = made
        assert progress and progress == sorted(progress)
        backups = structured(await session.call_tool("list-backups", {}))["backups"]
        assert [b["set"] for b in backups] == [made["set"]]
        exported = structured(await session.call_tool(
            "download-backup", {"backupName": made["set"], "format": "zip",
                                "downloadPath": "export.zip"}))
        assert exported["output"] == str(out)
        refused = await session.call_tool("restore-backup", {"backup": made["set"],
                                                             "target": "restored"})
        assert "confirm: true" in error_text(refused)
        restored = structured(await session.call_tool(
            "restore-backup", {"backup": made["set"], "target": "restored", "confirm": True}))
        assert restored["restored"] is True
        verified = structured(await session.call_tool(
            "verify-backup", {"backup": made["set"], "deepCheck": True}))
        assert verified["ok"] is True and verified["log_part"] == "logs/verification.log"
        same = await session.call_tool("backup-sync", {"from": "local", "to": "local"})
        assert "both 'local'" in error_text(same)
        outside = await session.call_tool("drill", {"workdir": "/etc"})
        assert "restore_targets" in error_text(outside)
        drilled = structured(await session.call_tool("drill", {"services": ["other"]}))
        assert drilled["ok"] is True and drilled["set"] == made["set"]
        # recover only plans without a role allowing it; this profile has no such set.
        assert "may only plan it" in error_text(await session.call_tool("recover", {}))
        assert "no complete disaster-recovery set" in error_text(
            await session.call_tool("recover", {"dryRun": True}))

    with_client(site, body)
    host = site.root / "host"
    compare_trees(host, target / str(host).lstrip("/"), skip=(".terraform",))
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist()[0] == "metadata.json"
    entries = [json.loads(line) for line in (site.state / "audit.log").read_text().splitlines()]
    assert [(e["tool"], e["result"], e["origin"]) for e in entries] == [
        ("create-backup", "ok", "mcp"), ("download-backup", "ok", "mcp"),
        ("restore-backup", "denied", "mcp"), ("restore-backup", "ok", "mcp"),
        ("verify-backup", "ok", "mcp"), ("backup-sync", "error", "mcp"),
        ("drill", "denied", "mcp"), ("drill", "ok", "mcp"),
        ("recover", "denied", "mcp"), ("recover", "error", "mcp")]
    assert entries[0]["set"] == seen["made"]["set"]
    assert site.run("audit", "verify").returncode == 0


def test_malformed_calls_are_tool_errors_and_the_server_keeps_serving(site: Site) -> None:
    async def body(session: Any) -> None:
        wrong_type = await session.call_tool("create-backup", {"type": "everything"})
        assert "type" in error_text(wrong_type)
        unknown_field = await session.call_tool("list-backups", {"colour": "blue"})
        assert "colour" in error_text(unknown_field)
        bad_name = await session.call_tool("create-backup", {"name": "a b"})
        assert "name" in error_text(bad_name)
        missing = await session.call_tool("restore-backup", {"backup": "no-such-set",
                                                             "confirm": True})
        assert "no complete backup" in error_text(missing)
        no_tool = await session.call_tool("format-disk", {})
        assert "no tool named" in error_text(no_tool)
        bad_cron = await session.call_tool("schedule-backup", {
            "name": "x", "schedule": "every day", "destination": "local", "retention": "30d"})
        assert bad_cron.is_error and "has five fields" in error_text(bad_cron)
        added = structured(await session.call_tool("schedule-backup", {
            "name": "assistant-daily", "schedule": "@daily", "backupType": "full",
            "retention": "30d", "install": "none"}))
        assert added["change"] == "added" and added["install"] == "none"
        listed = structured(await session.call_tool("schedule-backup", {"action": "list"}))
        assert [item["name"] for item in listed["schedules"]] == ["nightly", "assistant-daily"]
        # Still serving:
        assert structured(await session.call_tool("list-backups", {}))["backups"] == []

    with_client(site, body)
    assert '[schedules.assistant-daily]\nschedule = "@daily"\ntype = "full"\nretention = ' \
        '"30d"\n' in site.profile.read_text()


def test_a_role_without_restore_is_denied_and_audited(site: Site) -> None:
    site.profile.write_text(site.profile.read_text() + """
[access.roles.assistant]
tools = ["create-backup", "list-backups", "download-backup"]

[access.download]
require_encryption = true
""")
    secret_password = "do-not-log-this-pw"

    async def body(session: Any) -> None:
        made = structured(await session.call_tool("create-backup", {}))
        denied = await session.call_tool("restore-backup", {"backup": made["set"],
                                                            "confirm": True})
        assert "may not use restore-backup" in error_text(denied)
        plain = await session.call_tool("download-backup", {"backupName": made["set"]})
        assert "require_encryption" in error_text(plain)
        encrypted = structured(await session.call_tool("download-backup", {
            "backupName": made["set"], "encrypt": True, "password": secret_password,
            "downloadPath": "secret.zip"}))
        assert encrypted["encrypted"] is True

    with_client(site, body, role="assistant")
    log_text = (site.state / "audit.log").read_text()
    entries = [json.loads(line) for line in log_text.splitlines()]
    assert [(e["tool"], e["result"], e["role"]) for e in entries] == [
        ("create-backup", "ok", "assistant"), ("restore-backup", "denied", "assistant"),
        ("download-backup", "denied", "assistant"), ("download-backup", "ok", "assistant")]
    everything = log_text + (site.root / "mcp-stderr.log").read_text()
    everything += "".join(p.read_text(errors="replace") for p in site.state.rglob("*.log"))
    assert secret_password not in everything
    cli = site.run("--role", "assistant", "restore-backup", "--backup", "latest", check=False)
    assert cli.returncode == 4 and "may not use restore-backup" in cli.stderr


@pytest.mark.parametrize("tamper", ["edit", "delete", "insert", "reorder", "edit-last",
                                    "truncate"])
def test_audit_verify_names_the_tampered_line(site: Site, tamper: str) -> None:
    for name in ("one", "two", "three", "four"):
        site.run("backup-files", "--path", str(site.path("etc/netplan")), "--name", name)
    log = site.state / "audit.log"
    lines = log.read_text().splitlines()
    assert len(lines) == 4 and site.run("audit", "verify").returncode == 0
    if tamper == "edit":
        lines[1] = lines[1].replace('"ok"', '"error"')
    elif tamper == "delete":
        del lines[1]
    elif tamper == "insert":
        lines.insert(2, lines[1])
    elif tamper == "reorder":
        lines[1], lines[2] = lines[2], lines[1]
    elif tamper == "edit-last":
        lines[3] = lines[3].replace('"ok"', '"error"')
    else:
        lines = lines[:3]
    log.write_text("\n".join(lines) + "\n")
    result = site.run("audit", "verify", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    expected_line = {"edit": "line 2", "delete": "line 2", "insert": "line 3",
                     "reorder": "line 2", "edit-last": "line 4", "truncate": "line 3"}[tamper]
    assert expected_line in result.stderr, result.stderr


def test_audit_show(site: Site, tmp_path: Path) -> None:
    site.run("create-backup")
    shown = site.run("audit", "show", "--json").json()
    assert [e["tool"] for e in shown] == ["create-backup"] and shown[0]["origin"] == "cli"
    assert "create-backup" in site.run("audit", "show").stdout


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_streamable_http_needs_the_bearer_token(site: Site) -> None:
    import subprocess
    import time
    import urllib.error
    import urllib.request

    token = "t0ken-" + "x" * 20
    token_file = site.root / "token"
    token_file.write_text(token + "\n")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "mcp", "-p", str(site.profile), "--http",
         f"127.0.0.1:{port}", "--token-file", str(token_file)],
        env={**os.environ, "STRONGROOM_STATE_DIR": str(site.state)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)  # noqa: S310
            except urllib.error.HTTPError as exc:
                assert exc.code == 401
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)

        import httpx2
        from mcp.client.session import ClientSession
        from mcp.client.streamable_http import streamable_http_client

        async def main() -> None:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
                    streamable_http_client(url, http_client=http) as (read, write), \
                    ClientSession(read, write) as session:
                await session.initialize()
                listed = await session.list_tools()
                assert {tool.name for tool in listed.tools} == TOOL_NAMES
                made = structured(await session.call_tool("create-backup", {}))
                assert made["set"].startswith("config-")

        anyio.run(main)
    finally:
        server.terminate()
        server.wait(timeout=30)
