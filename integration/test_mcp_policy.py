"""The [access] path policy as an assistant meets it: the SDK's clients over stdio and
streamable HTTP, under a role and without one; every refusal is a tool error and an
audited denial, and the server keeps serving."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from integration.conftest import Site
from integration.test_mcp import Body, error_text, free_port, structured, with_client

TOKEN = "policy-t0ken-" + "y" * 20


@contextmanager
def http_server(site: Site, role: str | None) -> Iterator[str]:
    """`strongroom mcp --http` on a free port; yields its URL once it answers."""
    token_file = site.root / "token"
    token_file.write_text(TOKEN + "\n")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *(["--role", role] if role else []), "mcp",
         "-p", str(site.profile), "--http", f"127.0.0.1:{port}", "--token-file",
         str(token_file)],
        env={**os.environ, "STRONGROOM_STATE_DIR": str(site.state)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "no server"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.terminate()
        server.wait(timeout=30)


def with_http_client(site: Site, body: Body, role: str | None = None) -> None:
    import httpx2
    from mcp.client.session import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    with http_server(site, role) as url:
        async def main() -> None:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx2.AsyncClient(headers=headers, timeout=60) as http, \
                    streamable_http_client(url, http_client=http) as (read, write), \
                    ClientSession(read, write) as session:
                await session.initialize()
                await body(session)

        anyio.run(main)


ROLE = """
[access.roles.assistant]
tools = ["*"]
export_dir = "{exports}"
"""


@pytest.mark.parametrize("role", [None, "assistant"])
@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_every_path_refusal_is_a_tool_error_and_an_audited_denial(
        site: Site, transport: str, role: str | None) -> None:
    role_exports = site.root / "assistant-exports"
    site.profile.write_text(site.profile.read_text() + ROLE.format(exports=role_exports))
    made = site.run("create-backup", "--json").json()["set"]
    exports = role_exports if role else site.state / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    elsewhere = site.root / "elsewhere"
    elsewhere.mkdir()
    victim = site.root / "victim"
    victim.write_bytes(b"precious")
    (exports / "out").symlink_to(elsewhere)
    (exports / "victim.zip").symlink_to(victim)
    (site.root / "evil.zip").write_bytes(b"PK\x03\x04")
    refusals: list[tuple[str, dict[str, Any], str]] = [
        ("download-backup", {"downloadPath": "/etc/strongroom-x.zip", "force": True},
         "outside the allowed folder"),
        ("download-backup", {"downloadPath": "../escape.zip"}, "'..' is not allowed"),
        ("download-backup", {"downloadPath": str(site.root / "out.zip")}, "outside"),
        ("download-backup", {"downloadPath": "out/x.zip"}, "outside"),
        ("download-backup", {"downloadPath": "victim.zip", "force": True}, "is a symlink"),
        ("download-backup", {"downloadPath": "-"}, "protocol's channel"),
        ("backup-migrate", {"output": "/etc/strongroom-y.zip"}, "outside"),
        ("restore-backup", {"backup": made, "target": "/tmp/strongroom-x", "confirm": True},
         "target '/tmp/strongroom-x' is outside"),
        ("restore-backup", {"fromArchive": str(site.root / "evil.zip"), "confirm": True},
         "fromArchive"),
        ("backup-files", {"paths": ["/etc/shadow"]}, "outside"),
    ]

    async def body(session: Any) -> None:
        for tool, arguments, message in refusals:
            text = error_text(await session.call_tool(tool, arguments))
            assert message in text and "\n" not in text.strip(), (tool, arguments, text)
        exported = structured(await session.call_tool(
            "download-backup", {"backupName": made, "downloadPath": "fine.zip"}))
        assert exported["output"] == str(exports / "fine.zip")

    (with_client if transport == "stdio" else with_http_client)(site, body, role)
    assert (exports / "fine.zip").stat().st_mode & 0o777 == 0o600
    assert victim.read_bytes() == b"precious" and not os.listdir(elsewhere)
    assert not Path("/etc/strongroom-x.zip").exists() and not (site.root / "out.zip").exists()
    entries = [json.loads(line) for line in (site.state / "audit.log").read_text().splitlines()]
    denied = [e for e in entries if e["result"] == "denied"]
    assert [e["tool"] for e in denied] == [tool for tool, _, _ in refusals]
    assert {(e["origin"], e["role"]) for e in denied} == {("mcp", role)}
    assert all(message in e["error"] for e, (_, _, message) in zip(denied, refusals,
                                                                   strict=True))
    assert entries[-1]["tool"] == "download-backup" and entries[-1]["result"] == "ok"


def test_the_cli_under_a_role_is_confined_and_without_one_is_not(site: Site) -> None:
    site.profile.write_text(site.profile.read_text() + ROLE.format(exports=site.root / "ex"))
    site.run("create-backup")
    anywhere = site.root / "anywhere.zip"
    denied = site.run("--role", "assistant", "download-backup", "--output", str(anywhere),
                      check=False)
    assert denied.returncode == 4 and "outside the allowed folder" in denied.stderr
    assert "Traceback" not in denied.stderr and not anywhere.exists()
    shadow = site.run("--role", "assistant", "backup-files", "--path", "/etc/shadow",
                      check=False)
    assert shadow.returncode == 4 and "outside" in shadow.stderr
    site.run("--role", "assistant", "download-backup", "--output", "mine.zip")
    assert (site.root / "ex" / "mine.zip").is_file()
    site.run("download-backup", "--output", str(anywhere))
    assert anywhere.is_file() and anywhere.stat().st_mode & 0o777 == 0o600
    entries = [json.loads(line) for line in (site.state / "audit.log").read_text().splitlines()]
    assert [(e["tool"], e["result"], e["origin"], e["role"]) for e in entries[1:]] == [
        ("download-backup", "denied", "cli", "assistant"),
        ("backup-files", "denied", "cli", "assistant"),
        ("download-backup", "ok", "cli", "assistant"),
        ("download-backup", "ok", "cli", None)]


def raw_answer(url: str, headers: list[str]) -> tuple[int, bytes]:
    """POST an MCP initialize with exactly these extra header lines (httpx would merge
    or reorder repeated headers); the status and the body."""
    host, _, rest = url.removeprefix("http://").partition("/")
    address, port = host.split(":")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}}).encode()
    request = "\r\n".join([f"POST /{rest} HTTP/1.1", f"Host: {host}",
                           "Content-Type: application/json",
                           "Accept: application/json, text/event-stream",
                           f"Content-Length: {len(body)}", *headers, "Connection: close",
                           "", ""]).encode() + body
    with socket.create_connection((address, int(port)), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, content = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), content


def test_one_authorization_header_exactly(site: Site) -> None:
    good = f"Authorization: Bearer {TOKEN}"
    twice = (400, b"exactly one Authorization header is allowed")
    refused = (401, b"a bearer token is required")
    with http_server(site, None) as url:
        def answer(headers: list[str]) -> tuple[int, bytes]:
            status, content = raw_answer(url, headers)  # the body comes chunked
            return status, next((text for _, text in (twice, refused) if text in content),
                                content)

        assert answer([good, good]) == twice
        assert answer(["Authorization: Bearer wrong", good]) == twice
        assert answer([good, "Authorization: Bearer wrong"]) == twice
        assert answer([good, "authorization: Bearer wrong"]) == twice
        assert answer([f"Authorization: Basic {TOKEN}"]) == refused
        assert answer([f"Authorization: {TOKEN}"]) == refused
        assert answer([f"Authorization: Bearer  {TOKEN}"]) == refused
        assert answer([f"Authorization: Bearer {TOKEN}, Bearer x"]) == refused
        assert answer([]) == refused
        status, content = raw_answer(url, [good])
        assert status == 200 and b"serverInfo" in content
