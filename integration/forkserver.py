"""`python -m orchestrator` for Site.run without paying the imports on every run.

Importing the command line costs most of a second of CPU, and the suite runs it a few
thousand times. This server imports orchestrator and hooks once, then forks a process per
run: the process gets the caller's stdin and its own stdout and stderr pipes, argv, cwd and
environment, runs orchestrator/__main__.py as `python -m` would, and ends through the
interpreter's normal exit (atexit, threads, flushing), so its exit code is the real one.
The tests that start `python -m orchestrator` themselves still cover a cold start, and a run
whose environment changes how the interpreter starts (PYTHON*, locale) gets a real one."""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import json
import locale
import os
import pkgutil
import runpy
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

_HEADER = struct.Struct("!I")
_STATUS = struct.Struct("!qq")  # (pid, 0) when started, then (pid, exit code)


def _preload() -> None:
    """Every module a command may import; one that fails here fails in the command too."""
    for package_name in ("orchestrator", "hooks"):
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, package_name + ".",
                                            onerror=lambda name: None):
            if not module.name.endswith("__main__"):
                with contextlib.suppress(Exception):
                    importlib.import_module(module.name)


def _recv_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError("the client went away")
        data += chunk
    return data


def serve(path: str) -> None:
    _preload()
    gc.freeze()  # the forked processes' collections leave the shared pages alone
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".new")
    listener.listen(64)
    os.rename(path + ".new", path)  # ready
    listener.settimeout(1)
    parent = os.getppid()
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            if os.getppid() != parent:  # the test run is gone: so is this server
                return
            continue
        if os.fork() == 0:
            listener.close()
            _handle(conn)  # returns only in the command's process
            return
        conn.close()
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass


def _handle(conn: socket.socket) -> None:
    """In a process of its own per request: fork the command, report its pid and exit
    code, and end."""
    try:
        message, fds, _, _ = socket.recv_fds(conn, _HEADER.size, 3)
        request = json.loads(_recv_exactly(conn, _HEADER.unpack(message)[0]))
        pid = os.fork()
    except BaseException:
        os._exit(1)
    if pid == 0:
        conn.close()
        _become_command(request, fds)  # does not return
    try:
        for fd in fds:
            os.close(fd)
        conn.sendall(_STATUS.pack(pid, 0))
        _, status = os.waitpid(pid, 0)
        conn.sendall(_STATUS.pack(pid, os.waitstatus_to_exitcode(status)))
    finally:
        os._exit(0)


def _become_command(request: dict[str, object], fds: list[int]) -> None:
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(str(request["cwd"]))
    env = request["env"]
    assert isinstance(env, dict)
    os.environ.clear()
    os.environ.update(env)
    time.tzset()  # what a new interpreter takes from the environment when it starts
    tempfile.tempdir = None
    args = request["args"]
    assert isinstance(args, list)
    sys.argv = ["-m", *args]
    try:  # as `python -m orchestrator`: __main__.py runs afresh
        runpy.run_module("orchestrator", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    # The interpreter's exit up to its teardown: threads, atexit, flushing. The teardown
    # itself would touch (and so copy) every page shared with the server.
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


class ForkServer:
    def __init__(self, folder: Path) -> None:
        self.path = folder / "forkserver.sock"
        self.log = folder / "forkserver.log"
        root = Path(__file__).resolve().parent.parent
        self.path.unlink(missing_ok=True)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "integration.forkserver", str(self.path)],
                cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.startup_env = {key: value for key, value in os.environ.items()
                            if _shapes_startup(key)}
        deadline = time.monotonic() + 120
        while not self.path.exists():
            assert self.proc.poll() is None and time.monotonic() < deadline, \
                self.log.read_text(errors="replace")
            time.sleep(0.05)

    def can_run(self, env: Mapping[str, str]) -> bool:
        """Whether env starts an interpreter as the server's was started."""
        return {key: value for key, value in env.items()
                if _shapes_startup(key)} == self.startup_env

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)

    def run(self, args: Sequence[str], env: Mapping[str, str], cwd: Path,
            timeout: float) -> subprocess.CompletedProcess[str]:
        """As subprocess.run([python, -m, orchestrator, *args], capture_output=True,
        text=True, env=env, cwd=cwd, timeout=timeout)."""
        request = json.dumps({"args": list(args), "env": dict(env), "cwd": str(cwd)}).encode()
        out_read, out_write = os.pipe()
        err_read, err_write = os.pipe()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(str(self.path))
            try:
                socket.send_fds(conn, [_HEADER.pack(len(request))], [0, out_write, err_write])
                conn.sendall(request)
            finally:
                os.close(out_write)
                os.close(err_write)
            pid = _STATUS.unpack(_recv_exactly(conn, _STATUS.size))[0]
            deadline = time.monotonic() + timeout
            outputs = _read_until_closed({out_read: bytearray(), err_read: bytearray()},
                                         deadline, pid)
            conn.settimeout(max(deadline - time.monotonic(), 1))
            code = _STATUS.unpack(_recv_exactly(conn, _STATUS.size))[1]
        stdout, stderr = (_as_text(outputs[fd]) for fd in (out_read, err_read))
        return subprocess.CompletedProcess(["orchestrator", *args], code, stdout, stderr)


def _shapes_startup(key: str) -> bool:
    return key.startswith(("PYTHON", "LC_")) or key == "LANG"


def _as_text(data: bytearray) -> str:
    """As subprocess's text mode: the locale's encoding, strict, universal newlines."""
    text = bytes(data).decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_until_closed(buffers: dict[int, bytearray], deadline: float,
                       pid: int) -> dict[int, bytearray]:
    with selectors.DefaultSelector() as selector:
        for fd in buffers:
            selector.register(fd, selectors.EVENT_READ)
        try:
            while selector.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    raise subprocess.TimeoutExpired(["orchestrator"], 0)
                for key, _ in selector.select(left):
                    chunk = os.read(key.fd, 1 << 16)
                    if chunk:
                        buffers[key.fd] += chunk
                    else:
                        selector.unregister(key.fd)
        finally:
            for fd in buffers:
                os.close(fd)
    return buffers


if __name__ == "__main__":
    serve(sys.argv[1])
