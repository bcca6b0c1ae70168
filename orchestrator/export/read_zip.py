"""Members of a ZIP archive, plain or WinZip AES (through pyzipper), in central-directory
order, duplicates included.

Before pyzipper parses the central directory its entry count is checked; each
member's local header must agree with its central-directory entry, and each
member's data must end before the next local header (overlapping entries are the
classic zip bomb). Only stored and deflated data is read: other methods have
decompressors that cannot bound their output.
"""

from __future__ import annotations

import copy
import stat
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from orchestrator.export.readers import (
    CAUGHT,
    LINK_MAX,
    ArchiveLimitExceeded,
    DamagedArchive,
    Member,
    MemberData,
    check_link,
    check_name,
    shown,
    translate,
)

LOCAL = struct.Struct("<4sHHHHHIIIHH")
ENCRYPTED, DATA_DESCRIPTOR, UTF8 = 1, 1 << 3, 1 << 11
AES_METHOD = 99
METHODS = (0, 8)  # stored, deflated
UNKNOWN = 0xFFFFFFFF
NO_LIMIT = 1 << 62
OTHER_KINDS = {stat.S_IFIFO: "fifo", stat.S_IFCHR: "device", stat.S_IFBLK: "device",
               stat.S_IFSOCK: "socket"}


def _errors() -> tuple[type[BaseException], ...]:
    import pyzipper

    return (pyzipper.BadZipFile, pyzipper.LargeZipFile, *CAUGHT)


@contextmanager
def zip_members(path: Path, password: bytes | None,
                max_members: int) -> Iterator[Iterator[Member]]:
    import pyzipper

    archive = str(path)
    with open(path, "rb") as handle:
        try:
            _check_count(handle, archive, max_members)
            opened = pyzipper.AESZipFile(handle)
        except _errors() as exc:
            raise translate(archive, exc) from None
        with opened:
            if password is not None:
                opened.setpassword(password)
            yield _members(opened, handle, archive, max_members)


def _check_count(handle: BinaryIO, archive: str, max_members: int) -> None:
    from pyzipper import zipfile as internals

    end = internals._EndRecData(handle)
    if not end:
        raise DamagedArchive(f"{shown(archive)}: no ZIP end record; the archive is truncated "
                             "or not a ZIP file")
    if end[internals._ECD_ENTRIES_TOTAL] > max_members:
        raise ArchiveLimitExceeded(f"{shown(archive)}: more than {max_members} members")


def _members(opened: Any, handle: BinaryIO, archive: str,
             max_members: int) -> Iterator[Member]:
    infos = opened.infolist()
    starts = sorted(info.header_offset for info in infos)
    if len(set(starts)) != len(starts):
        raise DamagedArchive(f"{shown(archive)}: two entries share one local header "
                             "(overlapping entries)")
    following = dict(zip(starts, [*starts, opened.start_dir][1:], strict=True))
    turn = [0]
    previous: _Source | None = None
    for info in infos:
        if previous is not None:
            previous.close()
            previous = None
        turn[0] += 1
        try:
            member, previous = _member(opened, handle, info, archive, turn,
                                       following[info.header_offset], max_members)
        except _errors() as exc:
            raise translate(archive, exc, info.filename[:LINK_MAX]) from None
        yield member
    turn[0] += 1
    if previous is not None:
        previous.close()


def _member(opened: Any, handle: BinaryIO, info: Any, archive: str, turn: list[int],
            limit: int, max_members: int) -> tuple[Member, _Source | None]:
    name: str = info.filename
    check_name(archive, name, turn[0], max_members)
    _check_local(handle, info, limit, archive)
    encrypted = bool(info.flag_bits & ENCRYPTED) and info.wz_aes_version is not None
    mode = info.external_attr >> 16
    mtime = _zip_mtime(info)
    kind, detail = _kind(info, mode)
    if kind == "dir":
        return Member(name, kind, mode & 0o7777 or 0o755, mtime, 0, encrypted=encrypted), None
    if kind == "other":
        return Member(name, kind, mode & 0o7777, mtime, 0, encrypted=encrypted,
                      detail=detail), None
    if info.compress_type not in METHODS:
        raise DamagedArchive(f"{shown(archive)}, member {shown(name)}: compression method "
                             f"{info.compress_type} is not supported (only stored, deflated)")
    source = _Source(opened, info)
    data = MemberData(source.read, info.file_size, archive, name, _still_at(turn, turn[0]),
                      _errors())
    if kind == "symlink":
        if info.file_size > LINK_MAX:
            raise ArchiveLimitExceeded(f"{shown(archive)}, member {shown(name)}: a link target "
                                       f"longer than {LINK_MAX} bytes")
        target = b"".join(iter(lambda: data.read(LINK_MAX + 1), b""))
        source.close()
        link = target.decode("utf-8", "surrogateescape")
        check_link(archive, name, link)
        return Member(name, kind, 0o777, mtime, 0, link, encrypted=encrypted), None
    return Member(name, kind, mode & 0o7777 or 0o644, mtime, info.file_size,
                  reader=data.as_io(), encrypted=encrypted), source


def _kind(info: Any, mode: int) -> tuple[str, str]:
    kind = stat.S_IFMT(mode)
    if info.is_dir() or kind == stat.S_IFDIR:
        return "dir", ""
    if kind == stat.S_IFLNK:
        return "symlink", ""
    if kind in (0, stat.S_IFREG):
        return "file", ""
    return "other", OTHER_KINDS.get(kind, f"mode {oct(mode)}")


def _check_local(handle: BinaryIO, info: Any, limit: int, archive: str) -> None:
    """The local header must agree with the central directory, and the data must end
    before the next entry's local header (or the central directory)."""
    handle.seek(info.header_offset)
    head = handle.read(LOCAL.size)
    where = f"{shown(archive)}, member {shown(info.filename)}"
    if len(head) != LOCAL.size or head[:4] != b"PK\x03\x04":
        raise DamagedArchive(f"{where}: no local header where the central directory says")
    _, _, flags, method, _, _, _, csize, usize, name_length, extra_length = LOCAL.unpack(head)
    name = handle.read(name_length)
    expected = info.orig_filename.encode("utf-8" if info.flag_bits & UTF8 else "cp437")
    cd_method = AES_METHOD if info.wz_aes_version is not None else info.compress_type
    differs = name != expected or (flags ^ info.flag_bits) & ENCRYPTED or method != cd_method
    if not differs and not flags & DATA_DESCRIPTOR and UNKNOWN not in (
            csize, usize, info.compress_size, info.file_size):
        differs = (csize, usize) != (info.compress_size, info.file_size)
    if differs:
        raise DamagedArchive(f"{where}: the local header and the central directory disagree")
    end = info.header_offset + LOCAL.size + name_length + extra_length + info.compress_size
    if end > limit:
        raise DamagedArchive(f"{where}: its data overlaps the next entry (overlapping "
                             "entries: a zip bomb, or a damaged archive)")


class _Source:
    """The member's data from pyzipper, opened on first read. pyzipper would stop at
    the declared size (and check the CRC there) without a word about what follows;
    told of no limit, it ends where the compressed data ends, and MemberData stops
    after declared + 1 bytes. pyzipper decompresses at most max(asked, 4 KiB) at once."""

    def __init__(self, opened: Any, info: Any) -> None:
        self.opened = opened
        self.info = info
        self.stream: Any = None

    def read(self, size: int) -> bytes:
        if self.stream is None:
            wider = copy.copy(self.info)
            wider.file_size = NO_LIMIT
            self.stream = self.opened.open(wider)
        return bytes(self.stream.read(size))

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None


def _still_at(turn: list[int], ours: int) -> Callable[[], bool]:
    return lambda: turn[0] == ours


def _zip_mtime(info: Any) -> float:
    extra = info.extra
    while len(extra) >= 4:
        tag, size = int.from_bytes(extra[:2], "little"), int.from_bytes(extra[2:4], "little")
        if tag == 0x5455 and size >= 5 and extra[4] & 1:
            return float(int.from_bytes(extra[5:9], "little"))
        extra = extra[4 + size:]
    try:
        return float(int(time.mktime((*info.date_time, 0, 0, -1))))
    except (OverflowError, ValueError):
        return 0.0
