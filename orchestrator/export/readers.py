"""What every archive reader shares: the member type, the errors, the bounds.

An archive handed to `restore-backup --from-archive` is untrusted input. Whatever
goes wrong while reading it (at open, in a header, in the middle of a member's
data, at the end) becomes one HostileArchive with one short line; names and values
quoted in that line are cut to SHOWN characters and shown with repr, so a
newline or a 64 MB name cannot reach the terminal. A member's data is handed out
exactly as declared: more fails after declared + 1 bytes, less fails at its end.
"""

from __future__ import annotations

import io
import lzma
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

from orchestrator.errors import StrongroomError, UsageError

NAME_MAX = 4096  # bytes of a member's name
LINK_MAX = 4096  # bytes of a symlink's (or hard link's) target
MAX_MEMBERS = 1_000_000
SHOWN = 200  # characters of a name or value quoted in a message


class HostileArchive(StrongroomError):
    """The archive cannot be used as it is: damaged, beyond a bound, or unsafe to write."""

    exit_code = 2


class DamagedArchive(HostileArchive):
    """Not an archive, truncated, corrupt, or failing its authentication (CRC, HMAC, AEAD)."""


class ArchiveLimitExceeded(HostileArchive):
    """A name, link target, member count or member's data beyond its bound."""


def shown(value: str | bytes) -> str:
    """A name or value for a message: repr (control characters visible), cut short."""
    return repr(value[:SHOWN]) + ("..." if len(value) > SHOWN else "")


def _plain(text: str) -> str:
    """Library error text on one line, cut short."""
    cut = text[:SHOWN] + ("..." if len(text) > SHOWN else "")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in cut)


# What the layers below (zipfile/pyzipper, gzip, lzma, bz2, zlib, struct, the file)
# raise on bad input. pyzipper has its own BadZipFile; it is added where it is imported.
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, ValueError, struct.error, zlib.error, lzma.LZMAError,
    zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OverflowError, IndexError,
    KeyError,
)

CAUGHT: tuple[type[BaseException], ...] = (StrongroomError, RuntimeError, *READ_ERRORS)


def translate(archive: str, exc: BaseException, member: str | None = None,
              at_start: bool = False) -> StrongroomError:
    """One error for anything raised while reading: HostileArchive (or UsageError for a
    missing or wrong password) naming the archive and, when known, the member.
    `at_start`: nothing was read yet, so the file may well be no archive at all."""
    if isinstance(exc, (HostileArchive, UsageError)):
        return exc
    where = f"{shown(archive)}" + (f", member {shown(member)}" if member is not None else "")
    if isinstance(exc, RuntimeError):  # pyzipper: a password is missing or wrong
        return UsageError(f"{where}: {_plain(str(exc))} (wrong or missing --password-file?)")
    if isinstance(exc, StrongroomError):
        reason = _plain(exc.message)
    elif isinstance(exc, EOFError):
        reason = "the archive is truncated"
    elif isinstance(exc, UnicodeDecodeError):
        reason = "a name is not valid text; the archive is damaged"
    else:
        reason = _plain(str(exc)) or type(exc).__name__
        reason = reason if at_start else f"the archive is damaged ({reason})"
    if at_start:
        reason = f"not a ZIP or tar archive (plain, .gz, .xz, .bz2, .enc), or damaged: {reason}"
    return DamagedArchive(f"{where}: {reason}")


@dataclass
class Member:
    name: str
    kind: str  # "file", "dir", "symlink", "other"
    mode: int
    mtime: float
    size: int
    link: str = ""
    reader: IO[bytes] | None = None
    # The data (and, in the envelope, also names and metadata) is authenticated by the
    # archive's encryption: an AES zip entry's HMAC, the envelope's AEAD.
    encrypted: bool = False
    detail: str = ""  # for kind "other": "hardlink", "device", "fifo", "socket", "sparse", ...


class Chunks:
    """read(n) over an iterator of byte strings, without re-copying what is pending."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.pending = b""
        self.offset = 0

    def read(self, size: int = -1) -> bytes:
        pieces: list[bytes] = []
        wanted = size
        while size < 0 or wanted > 0:
            if self.offset >= len(self.pending):
                following = next(self.chunks, None)
                if following is None:
                    break
                self.pending, self.offset = following, 0
                continue
            end = len(self.pending) if size < 0 else min(len(self.pending),
                                                          self.offset + wanted)
            pieces.append(self.pending[self.offset:end])
            wanted -= end - self.offset
            self.offset = end
        return b"".join(pieces)


class MemberData(io.RawIOBase):
    """A member's data: exactly `declared` bytes, or a HostileArchive.

    `source(n)` returns up to n bytes and b"" only at the member's end; it is asked for
    at most declared + 1 bytes in all. `usable()` says whether the archive is still at
    this member (a stream reader cannot go back)."""

    def __init__(self, source: Callable[[int], bytes], declared: int, archive: str,
                 member: str, usable: Callable[[], bool] = lambda: True,
                 errors: tuple[type[BaseException], ...] = CAUGHT) -> None:
        super().__init__()
        self.errors = errors
        self.source = source
        self.declared = declared
        self.archive = archive
        self.member = member
        self.usable = usable
        self.count = 0
        self.finished = False

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.finished or size == 0:
            return b""
        if not self.usable():
            raise StrongroomError(f"{shown(self.member)}: its data was read after the archive "
                                  "moved on to the next member")
        left = self.declared - self.count
        want = left + 1 if size is None or size < 0 else min(size, left + 1)
        try:
            data = self.source(want)
        except self.errors as exc:
            raise translate(self.archive, exc, self.member) from None
        self.count += len(data)
        if self.count > self.declared:
            raise ArchiveLimitExceeded(
                f"{shown(self.archive)}, member {shown(self.member)}: holds more data than "
                f"the {self.declared} bytes it declares")
        if not data:
            self.finished = True
            if self.count < self.declared:
                raise DamagedArchive(
                    f"{shown(self.archive)}, member {shown(self.member)}: its data ends after "
                    f"{self.count} of the {self.declared} bytes it declares")
        return data

    def readall(self) -> bytes:
        return b"".join(iter(lambda: self.read(1 << 20), b""))

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[:len(data)] = data
        return len(data)

    def as_io(self) -> IO[bytes]:
        return cast(IO[bytes], self)


def check_name(archive: str, name: str, count: int, max_members: int) -> None:
    if count > max_members:
        raise ArchiveLimitExceeded(f"{shown(archive)}: more than {max_members} members")
    if len(name.encode("utf-8", "surrogateescape")) > NAME_MAX:
        raise ArchiveLimitExceeded(f"{shown(archive)}: a member name longer than {NAME_MAX} "
                                   f"bytes ({shown(name)})")


def check_link(archive: str, name: str, link: str) -> None:
    if len(link.encode("utf-8", "surrogateescape")) > LINK_MAX:
        raise ArchiveLimitExceeded(f"{shown(archive)}, member {shown(name)}: a link target "
                                   f"longer than {LINK_MAX} bytes ({shown(link)})")
