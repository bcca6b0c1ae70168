"""How every child is started so that it cannot outlive strongroom.

Each child gets its own process group (Ctrl-C on the terminal reaches strongroom only,
and a whole tree can be ended) and, before exec, PR_SET_PDEATHSIG: SIGTERM when the
thread that forked it ends. Because that is the forking *thread*, not the process,
children are forked from the main thread or from one spawner thread that lives as
long as the process; a short-lived worker thread (anyio, a ThreadPoolExecutor) never
forks. PDEATHSIG is not inherited by grandchildren (bash running a pipeline, pg_dump
under a wrapper): the child also registers its process group with the watchdog
(watchdog.py), which ends every registered group once strongroom is gone.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from orchestrator.run.watchdog import ENV_NAME

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

PR_SET_PDEATHSIG = 1
DEATH_SIGNAL = signal.SIGTERM
TOKEN = secrets.token_hex(8)

T = TypeVar("T")

_lock = threading.Lock()
_spawner: ThreadPoolExecutor | None = None
_watchdog: tuple[int, socket.socket, subprocess.Popen[bytes]] | None = None  # owner pid
_live: weakref.WeakSet[subprocess.Popen[bytes]] = weakref.WeakSet()


def _libc(name: str, argtypes: list[Any]) -> Callable[..., int] | None:
    """A libc function looked up in the parent: the child between fork and exec only
    calls it."""
    try:
        function = getattr(ctypes.CDLL(None, use_errno=True), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = argtypes
    function.restype = ctypes.c_ssize_t if name == "send" else ctypes.c_int
    found: Callable[..., int] = function
    return found


_PRCTL = _libc("prctl", [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                         ctypes.c_ulong])
_SEND = _libc("send", [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int])


def guard_env(env: dict[str, str]) -> dict[str, str]:
    """The child's environment with this process's token, which the watchdog checks."""
    env[ENV_NAME] = TOKEN
    return env


def _watchdog_fd() -> int | None:
    """strongroom's end of the socket to the watchdog, starting (or restarting) the
    watchdog when needed. A socket rather than a pipe: the child reports with
    send(MSG_NOSIGNAL), so a watchdog gone for any reason cannot SIGPIPE it."""
    global _watchdog
    with _lock:
        if _watchdog is not None and _watchdog[0] == os.getpid() \
                and _watchdog[2].poll() is None:
            return _watchdog[1].fileno()
        ours, theirs = socket.socketpair()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", str(Path(__file__).with_name("watchdog.py")), TOKEN],
                stdin=theirs.fileno(), stdout=subprocess.DEVNULL, start_new_session=True,
            )
        except OSError:
            ours.close()
            return None
        finally:
            theirs.close()
        ours.shutdown(socket.SHUT_RD)
        _watchdog = (os.getpid(), ours, proc)
        return ours.fileno()


def preexec(parent: int, report_fd: int | None) -> Callable[[], None]:
    """What the child runs between fork and exec (setsid has happened already)."""

    def child() -> None:
        if _PRCTL is not None:
            _PRCTL(PR_SET_PDEATHSIG, int(DEATH_SIGNAL), 0, 0, 0)
        if os.getppid() != parent:  # strongroom died before the line above
            os._exit(255)
        if report_fd is not None and _SEND is not None:
            line = b"%d\n" % os.getpid()
            _SEND(report_fd, line, len(line), socket.MSG_NOSIGNAL)

    return child


def popen(argv: list[str], **options: Any) -> subprocess.Popen[bytes]:
    """subprocess.Popen with its own session, PDEATHSIG and watchdog registration,
    forked from a thread that lives as long as strongroom."""
    report_fd = _watchdog_fd()

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, start_new_session=True,
                                preexec_fn=preexec(os.getpid(), report_fd), **options)

    proc = on_lasting_thread(start)
    _live.add(proc)
    return proc


def running() -> list[subprocess.Popen[bytes]]:
    """The children of this process that have not exited, whichever thread runs them."""
    return [proc for proc in list(_live) if proc.poll() is None]


def on_lasting_thread(function: Callable[[], T]) -> T:
    """Run `function` on the main thread or on the spawner thread, which never ends
    before the process does."""
    if threading.current_thread() is threading.main_thread():
        return function()
    global _spawner
    with _lock:
        if _spawner is None:
            from concurrent.futures import ThreadPoolExecutor  # only worker threads spawn here

            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="strongroom-spawn")
        spawner = _spawner
    return spawner.submit(function).result()
