"""The local WAL spool: `wal-push` makes a WAL file durable here and returns; the shipper
empties it into the repository. A file is in the spool under its own name only once it
is complete and on disk (written to a temporary name, fsynced, linked into place, the
folder fsynced): a crash leaves either the whole file or a temporary one nobody ships.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import StrongroomError
from orchestrator.pitr.walnames import MAX_WAL_FILE, WAL_NAME, checked_name
from orchestrator.run.tempfiles import fsync_folder

CHUNK = 1 << 20
LOCK_NAME = ".ship.lock"


class SpoolError(StrongroomError):
    """The spool cannot take or give a WAL file; PostgreSQL keeps it and retries."""


@dataclass(frozen=True)
class SpoolEntry:
    name: str
    path: Path
    size: int
    mtime: float


def same_content(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as first, b.open("rb") as second:
        while True:
            left, right = first.read(CHUNK), second.read(CHUNK)
            if left != right:
                return False
            if not left:
                return True


def push(spool: Path, source: Path) -> bool:
    """Copy a WAL file durably into the spool. True when copied, False when the spool
    already held the same content; SpoolError when it held other content, or when the
    copy cannot be made durable (a full disk): nothing half-written stays behind."""
    name = checked_name(source.name)
    if not spool.is_dir():
        raise SpoolError(f"the WAL spool {spool} does not exist (run strongroom pitr setup)")
    try:
        info = source.stat()
    except OSError as exc:
        raise SpoolError(f"cannot read {source}: {exc.strerror}") from None
    if not source.is_file() or info.st_size > MAX_WAL_FILE:
        raise SpoolError(f"{source} is not a WAL file")
    target = spool / name
    if target.exists():
        if same_content(source, target):
            return False
        raise SpoolError(f"the spool already holds {name} with other content: refusing to "
                         "replace it (is another cluster archiving into this spool?)")
    temp = spool / f".{name}.{os.getpid()}.tmp"
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with source.open("rb") as reader:
                while chunk := reader.read(CHUNK):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(temp, target)  # never replaces: a racing push of the same file fails here
    except FileExistsError:
        if target.exists() and same_content(source, target):
            return False
        raise SpoolError(f"the spool already holds {name} with other content") from None
    except OSError as exc:
        reason = "the spool's disk is full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) \
            else exc.strerror
        raise SpoolError(f"cannot spool {name}: {reason} ({spool})") from None
    finally:
        temp.unlink(missing_ok=True)
    fsync_folder(spool)
    return True


def entries(spool: Path) -> list[SpoolEntry]:
    """The complete WAL files in the spool, by name."""
    if not spool.is_dir():
        return []
    found = []
    for item in os.scandir(spool):
        if WAL_NAME.match(item.name) and item.is_file(follow_symlinks=False):
            info = item.stat(follow_symlinks=False)
            found.append(SpoolEntry(item.name, Path(item.path), info.st_size, info.st_mtime))
    return sorted(found, key=lambda entry: entry.name)


def remove(spool: Path, names: list[str]) -> None:
    for name in names:
        (spool / checked_name(name)).unlink(missing_ok=True)
    fsync_folder(spool)


@contextmanager
def ship_lock(spool: Path) -> Iterator[bool]:
    """Held by one shipper at a time; yields False when another one holds it."""
    fd = os.open(spool / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
