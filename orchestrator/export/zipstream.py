"""A ZIP writer for unseekable outputs, with deflate on both cores.

Every entry carries a data descriptor (sizes and CRC follow the data), so nothing
is buffered or rewritten; ZIP64 records are used where sizes, offsets or counts need
them. Unix modes, symlinks and exact mtimes (the 0x5455 extra field) are kept.
"""

from __future__ import annotations

import stat
import struct
import time
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

from orchestrator.export.compress import Deflater

LIMIT = 0xFFFFFFFF
UTF8_NAME = 1 << 11
DATA_DESCRIPTOR = 1 << 3
STORED, DEFLATED = 0, 8
MADE_BY_UNIX = (3 << 8) | 63


def dos_datetime(mtime: float) -> tuple[int, int]:
    local = time.localtime(max(mtime, 315532800))  # DOS dates start in 1980
    year = max(local.tm_year, 1980)
    date = ((year - 1980) << 9) | (local.tm_mon << 5) | local.tm_mday
    clock = (local.tm_hour << 11) | (local.tm_min << 5) | (local.tm_sec // 2)
    return clock, date


@dataclass
class _Written:
    name: bytes
    method: int
    clock: int
    date: int
    crc: int
    compressed: int
    size: int
    offset: int
    external: int
    mtime: int
    zip64: bool


class ZipStreamWriter:
    def __init__(self, sink: BinaryIO, pool: ThreadPoolExecutor, level: int = 6) -> None:
        self.sink = sink
        self.pool = pool
        self.level = level
        self.offset = 0
        self.entries: list[_Written] = []

    def _write(self, data: bytes) -> None:
        self.sink.write(data)
        self.offset += len(data)

    def add_dir(self, name: str, mode: int, mtime: float) -> None:
        name = name.rstrip("/") + "/"
        external = ((stat.S_IFDIR | (mode & 0o7777)) << 16) | 0x10
        self._add(name, external, mtime, [], STORED, 0)

    def add_symlink(self, name: str, target: str, mtime: float) -> None:
        external = (stat.S_IFLNK | 0o777) << 16
        data = target.encode()
        self._add(name, external, mtime, [data], STORED, len(data))

    def add_file(
        self, name: str, mode: int, mtime: float, size: int, chunks: Iterable[bytes]
    ) -> None:
        external = (stat.S_IFREG | (mode & 0o7777)) << 16
        self._add(name, external, mtime, chunks, DEFLATED if size else STORED, size)

    def _add(
        self, name: str, external: int, mtime: float, chunks: Iterable[bytes], method: int,
        size_hint: int,
    ) -> None:
        raw_name = name.encode()
        # Compressed data can outgrow its input a little: decide ZIP64 with a margin.
        zip64 = size_hint >= LIMIT - (1 << 20) or self.offset >= LIMIT
        clock, date = dos_datetime(mtime)
        offset = self.offset
        version = 45 if zip64 else 20
        extra = struct.pack("<HHQQ", 1, 16, 0, 0) if zip64 else b""
        sizes = LIMIT if zip64 else 0
        self._write(struct.pack("<IHHHHHIIIHH", 0x04034B50, version,
                                UTF8_NAME | DATA_DESCRIPTOR, method, clock, date, 0, sizes,
                                sizes, len(raw_name), len(extra)) + raw_name + extra)
        crc = size = compressed = 0
        if method == DEFLATED:
            deflater = Deflater(self.pool, self.level)
            for out in deflater.stream(chunks):
                self._write(out)
            crc, size, compressed = deflater.crc, deflater.size, deflater.compressed
        else:
            for chunk in chunks:
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
                self._write(chunk)
            compressed = size
        if zip64:
            self._write(struct.pack("<IIQQ", 0x08074B50, crc, compressed, size))
        else:
            self._write(struct.pack("<IIII", 0x08074B50, crc, compressed, size))
        self.entries.append(_Written(raw_name, method, clock, date, crc, compressed, size,
                                     offset, external, int(mtime), zip64))

    def close(self) -> None:
        start = self.offset
        for entry in self.entries:
            self._write(self._central(entry))
        length = self.offset - start
        count = len(self.entries)
        if count >= 0xFFFF or start >= LIMIT or length >= LIMIT:
            record = self.offset
            self._write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, MADE_BY_UNIX, 45, 0, 0,
                                    count, count, length, start))
            self._write(struct.pack("<IIQI", 0x07064B50, 0, record, 1))
            self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, LIMIT,
                                    LIMIT, 0))
        else:
            self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, length, start,
                                    0))

    def _central(self, entry: _Written) -> bytes:
        big = [value for value in (entry.size, entry.compressed, entry.offset)
               if value >= LIMIT or entry.zip64]
        extra = b""
        if big:
            extra += struct.pack("<HH", 1, 8 * len(big)) + b"".join(
                struct.pack("<Q", value) for value in big)
        extra += struct.pack("<HHBI", 0x5455, 5, 1, entry.mtime & 0xFFFFFFFF)

        def field(value: int) -> int:
            return LIMIT if big and (value >= LIMIT or entry.zip64) else value

        return struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, MADE_BY_UNIX, 45 if big else 20,
            UTF8_NAME | DATA_DESCRIPTOR, entry.method, entry.clock, entry.date, entry.crc,
            field(entry.compressed), field(entry.size), len(entry.name), len(extra), 0, 0, 0,
            entry.external, field(entry.offset),
        ) + entry.name + extra
