"""Starting a test server on 127.0.0.1: a free port, waiting until it listens, and
stopping it (with everything it started) whatever the test did."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def listening(argv: Sequence[str], port: int, log_path: Path, *, seconds: float = 30,
              env: Mapping[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """The server process, once 127.0.0.1:port accepts connections; its output goes to
    log_path, which an assertion shows when it dies or never listens."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(list(argv), env=None if env is None else dict(env),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + seconds
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, \
                        log_path.read_text(errors="replace")
                    time.sleep(0.1)
            yield proc
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group (node and sshd start children), then
    SIGKILL after 10 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue
