"""SIGTERM and SIGHUP end a command the way Ctrl-C does.

The handler raises Terminated, a KeyboardInterrupt, in the main thread: every path that
already ends children and marks a set incomplete on Ctrl-C does the same for these
signals. Only the first signal interrupts; later ones would cut that cleanup short.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}


class Terminated(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


def install() -> None:
    """Handle SIGTERM and SIGHUP in this process (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return
    raised = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if raised.is_set():
            return
        raised.set()
        raise Terminated(signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)


def interrupted(exc: KeyboardInterrupt) -> tuple[str, int]:
    """The message and exit code for an interrupt: Ctrl-C, SIGTERM or SIGHUP."""
    if isinstance(exc, Terminated):
        name = signal.Signals(exc.signum).name
        return f"terminated by {name}", EXIT_CODES.get(signal.Signals(exc.signum), 128 + exc.signum)
    return "interrupted", 130
