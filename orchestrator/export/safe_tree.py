"""Writing untrusted entries below one root folder, and nowhere else.

Every writer of names that come from outside (restore --from-archive today) goes
through `SafeTree`: a relative name is checked component by component, and the
folders below the root are walked with `O_NOFOLLOW` file descriptors (`openat`
style), so a symlink planted by an earlier entry, or already on disk, is never
followed. Files are created with `O_CREAT|O_EXCL|O_NOFOLLOW` under a temporary
name and renamed into place; modes and times are set through the open descriptor,
never through a path that could lead elsewhere. Set-uid, set-gid and sticky bits
are dropped. The root itself is trusted: it comes from the profile or --target.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.errors import StrongroomError
from orchestrator.export.readers import shown
from orchestrator.run.tempfiles import exclusive_temp

MODE_BITS = 0o777
NAME_MAX = 255
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class UnsafePath(StrongroomError):
    """A name that would land outside its root, or go through a symlink."""

    exit_code = 2


def components(name: str) -> list[str]:
    """A relative name's components; refuses absolute names, `..`, NUL and empty names."""
    if "\x00" in name:
        raise UnsafePath(f"the name {shown(name)} holds a NUL byte")
    if name.startswith("/"):
        raise UnsafePath(f"the name {shown(name)} is absolute")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if any(part == ".." for part in parts):
        raise UnsafePath(f"the name {shown(name)} climbs out with '..'")
    if not parts:
        raise UnsafePath(f"the name {shown(name)} is empty")
    if any(len(part.encode(errors="surrogateescape")) > NAME_MAX for part in parts):
        raise UnsafePath(f"the name {shown(name)} has a component longer than {NAME_MAX} "
                         "bytes")
    return parts


def clean_absolute(path: str, what: str) -> str:
    """An absolute path from outside, refused unless it is already normal (no `..`, no `.`,
    no doubled or trailing slash, no NUL)."""
    if not path.startswith("/") or "\x00" in path:
        raise UnsafePath(f"{what} {shown(path)} is not an absolute path")
    if path != "/" and (path.endswith("/") or "//" in path
                        or any(part in (".", "..") for part in path.split("/"))):
        raise UnsafePath(f"{what} {shown(path)} is not a normal path (holds '..', '.' or "
                         "a doubled slash)")
    return path


class SafeTree:
    """Creates directories, files and symlinks below `root`, never through a symlink."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        try:
            self._root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise StrongroomError(f"cannot open {root}: {exc.strerror}") from None

    def close(self) -> None:
        os.close(self._root_fd)

    def __enter__(self) -> SafeTree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _parent(self, parts: list[str], create: bool) -> Iterator[int]:
        """A descriptor of the folder holding the last component, opened without following
        any symlink on the way; missing folders are created (0700 until their own entry
        sets their mode)."""
        fd = os.dup(self._root_fd)
        try:
            for index, part in enumerate(parts[:-1]):
                try:
                    child = _open_dir(part, fd, parts, index)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(part, 0o700, dir_fd=fd)
                    child = _open_dir(part, fd, parts, index)
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def mkdir(self, name: str) -> None:
        parts = components(name)
        with self._parent(parts, create=True) as fd:
            try:
                os.mkdir(parts[-1], 0o700, dir_fd=fd)
            except FileExistsError:
                info = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
                if not stat.S_ISDIR(info.st_mode):
                    raise UnsafePath(f"{shown(name)} exists and is not a folder") from None

    def set_dir_meta(self, name: str, mode: int, mtime: float) -> None:
        if name == ".":
            os.fchmod(self._root_fd, mode & MODE_BITS)
            os.utime(self._root_fd, (mtime, mtime))
            return
        parts = components(name)
        with self._parent(parts, create=False) as fd:
            child = _open_dir(parts[-1], fd, parts, len(parts) - 1)
            try:
                os.fchmod(child, mode & MODE_BITS)
                os.utime(child, (mtime, mtime))
            finally:
                os.close(child)

    def write_file(self, name: str, chunks: Iterable[bytes], mode: int, mtime: float,
                   limit: int) -> int:
        """Write a file under a temporary name, then rename it over `name` (which replaces a
        file or a symlink itself, never what a symlink points to). Returns its size; more
        than `limit` bytes is refused."""
        parts = components(name)
        with self._parent(parts, create=True) as fd:
            out, temp = exclusive_temp(Path(parts[-1]), 0o600, ".strongroom-partial",
                                       dir_fd=fd)
            written = 0
            try:
                with os.fdopen(out, "wb", closefd=False) as handle:
                    for chunk in chunks:
                        written += len(chunk)
                        if written > limit:
                            raise UnsafePath(f"{shown(name)} holds more data than the archive "
                                             f"declares or the restore allows ({limit} bytes)")
                        handle.write(chunk)
                os.fchmod(out, mode & MODE_BITS)
                os.utime(out, (mtime, mtime))
                self._refuse_folder(fd, parts[-1], name)
                os.replace(temp, parts[-1], src_dir_fd=fd, dst_dir_fd=fd)
            except BaseException:
                os.unlink(temp, dir_fd=fd)
                raise
            finally:
                os.close(out)
        return written

    def symlink(self, name: str, target: str) -> None:
        parts = components(name)
        with self._parent(parts, create=True) as fd:
            if self._refuse_folder(fd, parts[-1], name):
                os.unlink(parts[-1], dir_fd=fd)
            os.symlink(target, parts[-1], dir_fd=fd)

    @staticmethod
    def _refuse_folder(fd: int, last: str, name: str) -> bool:
        """Whether a file or symlink is in the way (the caller has checked force); a folder
        in the way is refused."""
        try:
            info = os.stat(last, dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(info.st_mode):
            raise UnsafePath(f"{shown(name)} exists as a folder; it is not replaced by a file")
        return True


def _open_dir(part: str, fd: int, parts: list[str], index: int) -> int:
    try:
        return os.open(part, _DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            where = "/".join(parts[:index + 1])
            raise UnsafePath(f"{shown('/'.join(parts))} would be written through "
                             f"{shown(where)}, which is not a folder (a symlink or "
                             "a file)") from None
        raise


__all__ = ["SafeTree", "UnsafePath", "clean_absolute", "components", "shown"]
