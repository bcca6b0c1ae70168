"""`strongroom mcp`: the tools over the Model Context Protocol (stdio, or streamable HTTP).

Thin like the CLI: list the registry, validate the input with the tool's request
model, call tools.invoke in a worker thread, return the result as structured
content. Every error a caller can cause comes back as a tool error and the server
keeps serving. Nothing here writes to stdout: that is the protocol's channel.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server
from pydantic import BaseModel

from orchestrator import __version__
from orchestrator.access.tools import TOOLS, invoke, parse
from orchestrator.engines.base import Progress
from orchestrator.errors import StrongroomError
from orchestrator.sets.session import Session

log = logging.getLogger("strongroom.mcp")


def tool_list() -> list[types.Tool]:
    tools = []
    for tool in TOOLS.values():
        if not tool.mcp:
            continue
        schema = tool.request.model_json_schema(by_alias=True)
        tools.append(types.Tool(name=tool.name, description=tool.description,
                                input_schema=schema))
    return tools


def error_result(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)],
                                is_error=True)


def build_server(session: Session, role: str | None) -> Server[Any]:
    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tool_list())

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        name = params.name
        tool = TOOLS.get(name)
        if tool is None or not tool.mcp:
            return error_result(f"no tool named {name!r}; see tools/list")
        try:
            request = parse(tool, dict(params.arguments or {}))
        except StrongroomError as exc:
            return error_result(exc.render())

        def report(progress: Progress) -> None:
            anyio.from_thread.run(ctx.session.report_progress, progress.bytes_done,
                                  float(progress.total_bytes or 0) or None, None)

        try:
            result: BaseModel = await anyio.to_thread.run_sync(
                lambda: invoke(session, name, request, role=role, origin="mcp",
                               progress=report))
        except StrongroomError as exc:
            return error_result(exc.render())
        except Exception as exc:  # noqa: BLE001 - a tool failure must not end the server
            log.exception("tool %s failed", name)
            return error_result(f"{name} failed unexpectedly: {type(exc).__name__}: {exc}")
        payload = result.model_dump(mode="json")
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=json.dumps(payload, indent=2))],
            structured_content=payload, is_error=False)

    return Server("strongroom", version=__version__,
                  instructions="Backups of this host: create, list, verify, download and "
                               "restore them. restore-backup needs confirm: true.",
                  on_list_tools=list_tools, on_call_tool=call_tool)


def serve_stdio(session: Session, role: str | None) -> None:
    from mcp.server.stdio import stdio_server

    server = build_server(session, role)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(main)


class BearerToken:
    """ASGI middleware: every HTTP request needs exactly one `Authorization: Bearer <token>`.

    Two or more Authorization headers are a 400, never "the last one wins": a proxy and
    the server must not disagree about which one counted."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        import hmac

        if scope["type"] == "http":
            given = [value for name, value in scope.get("headers") or []
                     if name.lower() == b"authorization"]
            if len(given) > 1:
                await _refuse(send, 400, b"exactly one Authorization header is allowed\n")
                return
            if not given or not hmac.compare_digest(given[0], self.expected):
                await _refuse(send, 401, b"a bearer token is required\n")
                return
        await self.app(scope, receive, send)


async def _refuse(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"text/plain")]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def read_token(path: str) -> str:
    from pathlib import Path

    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise StrongroomError(f"cannot read --token-file {path}: {exc.strerror}") from None
    if len(token) < 16:
        raise StrongroomError(f"the token in {path} is too short: use at least 16 characters")
    return token


class WithMetrics:
    """ASGI: GET /metrics answers with the profile's Prometheus metrics (behind the same
    bearer token), everything else goes to the MCP app."""

    def __init__(self, app: Any, session: Session, probe_every: float = 300.0) -> None:
        from orchestrator.observe.serve import MetricsSource

        self.app = app
        self.source = MetricsSource(session, probe_every)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") != "/metrics":
            await self.app(scope, receive, send)
            return
        from prometheus_client import CONTENT_TYPE_LATEST

        if scope.get("method") != "GET":
            await _refuse(send, 405, b"GET /metrics\n")
            return
        try:
            body = await anyio.to_thread.run_sync(self.source.text)
        except Exception:  # noqa: BLE001 - a failed scrape must not end the server
            log.exception("metrics could not be collected")
            await _refuse(send, 500, b"the metrics could not be collected\n")
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", CONTENT_TYPE_LATEST.encode())]})
        await send({"type": "http.response.body", "body": body})


def serve_http(session: Session, role: str | None, address: str, token_file: str) -> None:
    import uvicorn

    host, _, port_text = address.rpartition(":")
    if not host or not port_text.isdigit():
        raise StrongroomError(f"--http takes HOST:PORT, e.g. 127.0.0.1:8765 (got {address!r})")
    token = read_token(token_file)
    app = build_server(session, role).streamable_http_app(host=host)
    uvicorn.run(BearerToken(WithMetrics(app, session), token), host=host, port=int(port_text),
                log_level="warning")
