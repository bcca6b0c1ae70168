"""`strongroom serve-metrics`: the profile's metrics at GET /metrics, for Prometheus to
scrape. Repositories are probed at most once per `probe_every` seconds (a scrape
every 15 s must not run restic every 15 s); each scrape reads the local records anew.
"""

from __future__ import annotations

import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST

from orchestrator.errors import UsageError
from orchestrator.models import StatusRequest, StatusResult
from orchestrator.observe.metrics import render
from orchestrator.observe.records import ObserveState
from orchestrator.observe.status import build_status
from orchestrator.sets.session import Session

log = logging.getLogger("strongroom")


class MetricsSource:
    def __init__(self, session: Session, probe_every: float) -> None:
        self.session = session
        self.probe_every = probe_every
        self.lock = threading.Lock()
        self.probed: StatusResult | None = None
        self.probed_at = 0.0

    def text(self) -> bytes:
        with self.lock:  # one scrape at a time: the session is not shared between threads
            if self.probed is None or time.monotonic() - self.probed_at >= self.probe_every:
                self.probed = build_status(self.session, StatusRequest(probe=True))
                self.probed_at = time.monotonic()
            status = build_status(self.session, StatusRequest(probe=False))
            status.repositories = self.probed.repositories
            status.health = max((status.health, self.probed.health),
                                key=("OK", "WARN", "FAIL").index)
            status.exit_code = ("OK", "WARN", "FAIL").index(status.health)
            observed = ObserveState(self.session.state.root, self.session.profile.profile_name)
            return render(status, observed)


def parse_listen(address: str) -> tuple[str, int]:
    host, _, port_text = address.rpartition(":")
    host = host.strip("[]")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"--listen takes HOST:PORT, e.g. 127.0.0.1:9469 (got {address!r})")
    return host, int(port_text)


def metrics_server(source: MetricsSource, address: str) -> ThreadingHTTPServer:
    host, port = parse_listen(address)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.split("?", 1)[0] != "/metrics":
                self.send_error(404, "only /metrics is served here")
                return
            try:
                body = source.text()
            except Exception as exc:  # noqa: BLE001 - a failed scrape must not end the server
                log.warning("metrics: %s: %s", type(exc).__name__, exc)
                self.send_error(500, "the metrics could not be collected")
                return
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("metrics: %s", format % args)

    try:
        return ThreadingHTTPServer((host, port), Handler)
    except OSError as exc:
        raise UsageError(f"cannot listen on {address}: {exc.strerror}") from None


def serve_metrics(session: Session, address: str, probe_every: float) -> None:
    server = metrics_server(MetricsSource(session, probe_every), address)
    log.warning("serving metrics at http://%s/metrics; stop with Ctrl-C", address)
    try:
        server.serve_forever()
    finally:
        server.server_close()
