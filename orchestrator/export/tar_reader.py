"""A streaming reader for the tar that `restic dump --archive tar` writes.

tarfile's stream mode copies each byte of member data several times on its way
through its own buffers. This reader parses the 512-byte headers itself (ustar,
PAX `x` records, GNU `L`/`K` long names) and hands member data on in the chunks
the stream's read() returns: one copy, from the pipe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, TypeVar

from orchestrator.errors import EndedEarly, StrongroomError

BLOCK = 512
CHUNK = 1 << 20
Number = TypeVar("Number", int, float)
LONGEST_META = 1 << 20  # a PAX or GNU long-name block larger than this is not restic's
REGULAR = frozenset(b"07\x00")
DIRECTORY, SYMLINK, HARDLINK = ord("5"), ord("2"), ord("1")
PAX_LOCAL, PAX_GLOBAL, GNU_LONGNAME, GNU_LONGLINK = (ord(c) for c in "xgLK")


class TarFormatError(StrongroomError):
    """The stream is not a tar archive, or it is damaged."""


class TarEndedEarly(TarFormatError, EndedEarly):
    """The stream ended before the archive's end marker."""


@dataclass
class TarMember:
    name: str
    type: int  # the typeflag byte
    mode: int
    mtime: float
    size: int
    linkname: str

    @property
    def is_file(self) -> bool:
        return self.type in REGULAR

    @property
    def is_dir(self) -> bool:
        return self.type == DIRECTORY

    @property
    def is_symlink(self) -> bool:
        return self.type == SYMLINK


def _text(field: bytes) -> str:
    end = field.find(b"\0")
    return (field if end < 0 else field[:end]).decode("utf-8", "surrogateescape")


def _number(field: bytes) -> int:
    if field[0] == 0xFF:  # base-256 negative: two's complement over the whole field
        return int.from_bytes(field, "big", signed=True)
    if field[0] & 0x80:  # base-256, for values that do not fit in octal
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    digits = field.split(b"\0", 1)[0].strip(b" ")
    try:
        return int(digits, 8) if digits else 0
    except ValueError:
        raise TarFormatError(f"bad number in a tar header: {field!r}") from None


def _pax_records(data: bytes) -> dict[str, str]:
    """`LENGTH key=value\n` records; LENGTH counts the whole record."""
    records: dict[str, str] = {}
    position = 0
    while position < len(data) and data[position] != 0:
        space = data.find(b" ", position, position + 20)
        try:
            length = int(data[position:space]) if space > position else 0
        except ValueError:
            length = 0
        end = position + length
        if space <= position or length <= space - position or end > len(data) \
                or data[end - 1] != ord("\n"):
            raise TarFormatError("bad PAX record in the tar stream: the stream is damaged")
        key, _, value = data[space + 1:end - 1].partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8",
                                                                       "surrogateescape")
        position = end
    return records


def _pax_number(records: dict[str, str], key: str, parse: Callable[[str], Number]) -> Number:
    try:
        return parse(records[key])
    except ValueError:
        raise TarFormatError(f"bad PAX {key} in the tar stream: {records[key]!r}") from None


class TarReader:
    """Members of a tar stream, in order. A member's data must be read (through
    `data`) before the next member is asked for; whatever is left unread is skipped."""

    def __init__(self, stream: IO[bytes], trailing_limit: int | None = None) -> None:
        self.stream = stream
        self.trailing_limit = trailing_limit  # bytes allowed after the end marker
        self.unread = 0  # data and padding of the current member not yet read
        self.current: TarMember | None = None

    def _exactly(self, count: int) -> bytes:
        data = self.stream.read(count)
        if len(data) != count:
            raise TarEndedEarly("the tar stream ended in the middle of an entry")
        return data

    def _skip_rest(self) -> None:
        while self.unread:
            self.unread -= len(self._exactly(min(self.unread, CHUNK)))

    def __iter__(self) -> Iterator[TarMember]:
        while True:
            member = self._next()
            if member is None:
                return
            yield member

    def _next(self) -> TarMember | None:
        self._skip_rest()
        self.current = None
        overrides: dict[str, str] = {}
        meta = 0  # metadata bytes read for this member: bounded, however many blocks
        while True:
            header = self.stream.read(BLOCK)
            if not header:
                raise TarEndedEarly("the tar stream ended before its end marker")
            if len(header) != BLOCK:
                raise TarEndedEarly("the tar stream ended in the middle of a header")
            if header.count(0) == BLOCK:
                self._drain()
                return None
            self._check(header)
            kind = header[156]
            size = _number(header[124:136])
            if size < 0:
                raise TarFormatError("negative size in a tar header: the stream is damaged")
            if kind in (PAX_LOCAL, PAX_GLOBAL, GNU_LONGNAME, GNU_LONGLINK):
                meta += size
                if meta > LONGEST_META:
                    raise TarFormatError(f"tar metadata of more than {LONGEST_META} bytes for "
                                         "one entry: too large")
                data = self._exactly(size + (-size % BLOCK))[:size]
                if kind == PAX_LOCAL:
                    overrides.update(_pax_records(data))
                elif kind == GNU_LONGNAME:
                    overrides["path"] = _text(data)
                elif kind == GNU_LONGLINK:
                    overrides["linkpath"] = _text(data)
                continue  # a global header's defaults do not matter for restic's tar
            return self._member(header, kind, size, overrides)

    @staticmethod
    def _check(header: bytes) -> None:
        stored = _number(header[148:156])
        if sum(header) - sum(header[148:156]) + 8 * 32 != stored:
            raise TarFormatError("bad checksum in a tar header: the stream is damaged")

    def _member(self, header: bytes, kind: int, size: int,
                overrides: dict[str, str]) -> TarMember:
        name = _text(header[0:100])
        if header[257:263] == b"ustar\x00" and header[345]:
            name = _text(header[345:500]) + "/" + name
        mtime: float = _number(header[136:148])
        if "path" in overrides:
            name = overrides["path"]
        if "size" in overrides:
            size = _pax_number(overrides, "size", int)
            if size < 0:
                raise TarFormatError("negative PAX size in the tar stream")
        if "mtime" in overrides:
            mtime = _pax_number(overrides, "mtime", float)
        if name.endswith("/") and kind in (0, DIRECTORY):  # old tars mark folders so
            kind, name = DIRECTORY, name.rstrip("/")
        member = TarMember(name=name, type=kind, mode=_number(header[100:108]), mtime=mtime,
                           size=size if kind in REGULAR else 0,
                           linkname=overrides.get("linkpath", _text(header[157:257])))
        self.unread = size + (-size % BLOCK) if kind not in (DIRECTORY, SYMLINK) else 0
        self.current = member
        return member

    def data(self, member: TarMember) -> Iterator[bytes]:
        """The member's data, in chunks of up to 1 MiB as the stream hands them over.
        It can be asked for once, before the next member."""
        if member is not self.current:
            raise TarFormatError(f"{member.name}: its data was already read or passed over")
        self.current = None
        return self._chunks(member.size)

    def _chunks(self, remaining: int) -> Iterator[bytes]:
        while remaining:
            chunk = self._exactly(min(remaining, CHUNK))
            remaining -= len(chunk)
            self.unread -= len(chunk)
            yield chunk
        self._skip_rest()  # the padding

    def _drain(self) -> None:
        """After the end marker: read to the end, so the writer is not cut off (or, for
        an archive file, up to `trailing_limit`: the rest of a tar record)."""
        trailing = 0
        while chunk := self.stream.read(CHUNK):
            trailing += len(chunk)
            if self.trailing_limit is not None and trailing > self.trailing_limit:
                raise TarFormatError(f"more than {self.trailing_limit} bytes after the tar's "
                                     "end marker")
