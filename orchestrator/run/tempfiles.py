"""A temp file beside its final name that nothing else can have planted."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def exclusive_temp(path: Path, mode: int, suffix: str = ".partial",
                   dir_fd: int | None = None) -> tuple[int, Path]:
    """A new file in `path`'s folder: a random name, created with O_EXCL (never an
    existing file) and O_NOFOLLOW (never through a link), with exactly `mode` whatever
    the umask. With `dir_fd`, `path` is a name relative to that open folder (openat).
    Returns its descriptor and its path."""
    while True:
        temp = path.with_name(f".{path.name[:200]}.{secrets.token_hex(8)}{suffix}")
        try:
            fd = os.open(temp, FLAGS, mode, dir_fd=dir_fd)
        except FileExistsError:
            continue
        os.fchmod(fd, mode)
        return fd, temp


def fsync_folder(folder: Path) -> None:
    """Make a rename or a new name in `folder` durable (fsync of the folder itself)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o600, durable: bool = True) -> None:
    """`path` replaced whole by `data` (readers see the old file or the new one), in a
    private folder made if missing; `durable`: on disk before the rename."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = exclusive_temp(path, mode, ".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def replace_quietly(path: Path, data: bytes) -> None:
    """A small cache file, written as write_atomic does but not synced; a folder that
    cannot take it only means the cache is asked in vain next time."""
    try:
        write_atomic(path, data, durable=False)
    except OSError:
        pass
