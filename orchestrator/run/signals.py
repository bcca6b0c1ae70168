"""SIGTERM and SIGHUP end a command the way Ctrl-C does.

Inside `raising()` (the CLI's error guard) the handler raises Terminated, a
KeyboardInterrupt, in the main thread: every path that already ends children and marks
a set incomplete on Ctrl-C does the same for these signals. Outside it (argument
parsing, printing the result) nothing needs cleaning up and an exception would reach
click, which calls it "Aborted!": the message is written and the process exits. Only
the first signal counts; later ones would cut the cleanup short.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
        if _depth:
            raise Terminated(signum)
        message, code = interrupted(Terminated(signum))
        try:
            sys.stdout.flush()
        finally:
            os.write(2, f"strongroom: error: {message}\n".encode())
            os._exit(code)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)


_depth = 0


@contextmanager
def raising() -> Iterator[None]:
    """Within this block SIGTERM and SIGHUP raise Terminated."""
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1


def interrupted(exc: KeyboardInterrupt) -> tuple[str, int]:
    """The message and exit code for an interrupt: Ctrl-C, SIGTERM or SIGHUP."""
    if isinstance(exc, Terminated):
        name = signal.Signals(exc.signum).name
        return f"terminated by {name}", EXIT_CODES.get(signal.Signals(exc.signum), 128 + exc.signum)
    return "interrupted", 130
