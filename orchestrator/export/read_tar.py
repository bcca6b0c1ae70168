"""Members of a tar, tar.gz, tar.xz or tar.bz2 archive, optionally inside the envelope.

The headers are parsed by the project's own tar reader (which refuses damaged PAX
records and oversized metadata) over a decompressing stream; each decompressor is
asked for at most what the tar reader wants, so memory stays bounded whatever the
compression ratio.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

from orchestrator.errors import UsageError
from orchestrator.export.envelope import HEADER_SIZE, decrypt_stream, is_envelope
from orchestrator.export.readers import (
    CAUGHT,
    Chunks,
    Member,
    MemberData,
    check_link,
    check_name,
    translate,
)
from orchestrator.export.tar_reader import HARDLINK, TarMember, TarReader

TRAILING = 1 << 20  # after the end marker: record padding is 10 KiB at most in practice
GZIP, XZ, BZIP2 = b"\x1f\x8b", b"\xfd7zXZ\x00", b"BZh"
OTHER_KINDS = {HARDLINK: "hardlink", ord("3"): "device", ord("4"): "device",
               ord("6"): "fifo", ord("S"): "sparse"}


class _Peeked:
    """A stream with its first bytes read ahead (to tell the compression) and put back."""

    def __init__(self, stream: Any, size: int) -> None:
        self.stream = stream
        self.head = stream.read(size)

    def read(self, size: int = -1) -> bytes:
        if not self.head:
            return bytes(self.stream.read(size))
        if size < 0:
            data, self.head = self.head + self.stream.read(), b""
            return bytes(data)
        data, self.head = self.head[:size], self.head[size:]
        if len(data) < size:
            data += self.stream.read(size - len(data))
        return bytes(data)


def _decompressed(source: Any) -> IO[bytes]:
    peeked = _Peeked(source, 6)
    head, stream = peeked.head, cast(IO[bytes], peeked)  # read() is all the users need
    if head.startswith(GZIP):
        return cast(IO[bytes], gzip.GzipFile(fileobj=stream, mode="rb"))
    if head.startswith(XZ):
        return lzma.LZMAFile(stream)
    if head.startswith(BZIP2):
        return bz2.BZ2File(stream)
    return stream


def _kind(member: TarMember) -> tuple[str, str]:
    if member.is_dir:
        return "dir", ""
    if member.is_symlink:
        return "symlink", ""
    if member.is_file:
        return "file", ""
    return "other", OTHER_KINDS.get(member.type, f"type {chr(member.type)!r}")


@contextmanager
def tar_members(path: Path, password: bytes | None,
                max_members: int) -> Iterator[Iterator[Member]]:
    archive = str(path)
    with open(path, "rb") as handle:
        head = handle.read(HEADER_SIZE)
        handle.seek(0)
        encrypted = is_envelope(head)
        source: Any = handle
        if encrypted:
            if password is None:
                raise UsageError(f"{path} is encrypted: give --password-file or --password-env")
            source = Chunks(decrypt_stream(handle, password))
        try:
            reader = TarReader(_decompressed(source), TRAILING)
        except CAUGHT as exc:
            raise translate(archive, exc, at_start=not encrypted) from None
        yield _members(reader, archive, encrypted, max_members)


def _members(reader: TarReader, archive: str, encrypted: bool,
             max_members: int) -> Iterator[Member]:
    turn = [0]  # which member the stream is at: a member's data is readable only then
    members = iter(reader)
    while True:
        try:
            member = next(members, None)
        except CAUGHT as exc:
            raise translate(archive, exc, at_start=turn[0] == 0 and not encrypted) from None
        turn[0] += 1
        if member is None:
            return
        check_name(archive, member.name, turn[0], max_members)
        kind, detail = _kind(member)
        if kind in ("symlink", "other"):
            check_link(archive, member.name, member.linkname)
        data = None
        if kind == "file":
            data = MemberData(Chunks(reader.data(member)).read, member.size, archive,
                              member.name, _still_at(turn, turn[0])).as_io()
        yield Member(member.name, kind, member.mode & 0o7777, member.mtime, member.size,
                     member.linkname if kind in ("symlink", "other") else "", data,
                     encrypted=encrypted, detail=detail)


def _still_at(turn: list[int], ours: int) -> Callable[[], bool]:
    return lambda: turn[0] == ours
