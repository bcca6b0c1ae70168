"""One run of a profile at a time: an flock on <state>/locks/<profile>.lock.

The lock file holds the holder's PID so that a waiting run can name it. flock goes
away with its process, so a run that was killed leaves no stale lock behind; the
PID left in the file is only read while someone holds the lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.errors import BusyError

log = logging.getLogger("strongroom")
POLL_SECONDS = 0.2


@contextmanager
def profile_lock(state_root: Path, profile: str, wait_seconds: float) -> Iterator[None]:
    """Hold the profile's lock for the block, waiting up to `wait_seconds` for it."""
    path = state_root / "locks" / f"{profile}.lock"
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(fd, path, profile, wait_seconds)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def _acquire(fd: int, path: Path, profile: str, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    announced = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = lock_holder(path)
        if time.monotonic() >= deadline:
            waited = f" after waiting {wait_seconds:g} s" if wait_seconds else ""
            raise BusyError(
                f"another strongroom run of profile {profile!r} is in progress "
                f"({holder}); giving up{waited}",
                hint="try again when it has finished, or raise lock_wait in the profile")
        if not announced:
            log.warning("waiting up to %g s for %s to finish (profile %s)", wait_seconds,
                        holder, profile)
            announced = True
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def lock_holder(path: Path) -> str:
    """'PID n' from the lock file, as far as the holder has written it."""
    try:
        text = path.read_text().strip()
    except OSError:
        text = ""
    return f"PID {text}" if text.isdigit() else "PID unknown"
