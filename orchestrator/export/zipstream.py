"""A ZIP writer for unseekable outputs, with deflate on both cores.

Every entry carries a data descriptor (sizes and CRC follow the data), so nothing
is buffered or rewritten; ZIP64 records are used where sizes, offsets or counts need
them. Unix modes, symlinks and exact mtimes (the 0x5455 extra field) are kept.

Entries are pipelined: add_file() reads an entry's data and hands it to the pool,
then returns, so the next entry is read while this one is compressed. Output is
written strictly in order as the compressed pieces come back, with at most AHEAD
bytes of input in flight. Small files go to the pool several at a time (one job
per batch, not per file); large ones in primed blocks, as for tar.gz.
"""

from __future__ import annotations

import collections
import stat
import struct
import time
import zlib
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import BinaryIO

from orchestrator.export.compress import DEFLATE_BLOCK, FINAL_BLOCK, WINDOW, deflate_block, gather

LIMIT = 0xFFFFFFFF
UTF8_NAME = 1 << 11
DATA_DESCRIPTOR = 1 << 3
STORED, DEFLATED = 0, 8
MADE_BY_UNIX = (3 << 8) | 63
SMALL_FILE = 256 * 1024  # compressed whole, in batches
BATCH_BYTES = 1 << 20
BATCH_FILES = 256
AHEAD = 16 << 20  # input bytes handed to the pool and not yet written out
QUEUED = 4096  # pieces waiting to be written: bounds memory when entries carry no data
LATEST = (2107, 12, 31, 23, 59, 58)  # the last moment a DOS date can hold


def dos_moment(mtime: float) -> tuple[int, int, int, int, int, int]:
    """mtime as local (year, month, day, hour, minute, second), clamped to the years a
    DOS date can hold (1980 to 2107); the exact mtime travels in the 0x5455 extra field."""
    try:
        local = time.localtime(max(mtime, 315532800))  # DOS dates start in 1980
    except (OverflowError, OSError, ValueError):
        return LATEST
    moment = (max(local.tm_year, 1980), local.tm_mon, local.tm_mday, local.tm_hour,
              local.tm_min, min(local.tm_sec, 59))
    return min(moment, LATEST)


def dos_datetime(mtime: float) -> tuple[int, int]:
    year, month, day, hour, minute, second = dos_moment(mtime)
    date = ((year - 1980) << 9) | (month << 5) | day
    clock = (hour << 11) | (minute << 5) | (second // 2)
    return clock, date


def needs_zip64(size: int) -> bool:
    """Whether an entry of `size` input bytes needs ZIP64 sizes. Deflate can outgrow
    incompressible input a little (stored blocks, one flush per 1 MiB block): decide
    with a margin well above that growth."""
    return size + (size >> 10) + (1 << 20) >= LIMIT


@dataclass(slots=True)
class _Record:
    """One entry as the central directory will describe it; filled in as it is written."""

    name: bytes
    method: int
    clock: int
    date: int
    external: int
    mtime: int
    zip64: bool
    crc: int = 0
    compressed: int = 0
    size: int = 0
    offset: int = 0


def _deflate_whole(files: list[bytes], level: int) -> list[tuple[bytes, int]]:
    """Each file deflated on its own, with its CRC-32: one pool job for many small files.
    A window no larger than the file compresses it the same and starts faster."""
    done = []
    for data in files:
        window_bits = max(9, min(15, (len(data) - 1).bit_length()))
        compressor = zlib.compressobj(level, zlib.DEFLATED, -window_bits)
        done.append((compressor.compress(data) + compressor.flush(), zlib.crc32(data)))
    return done


@dataclass
class _Batch:
    files: list[bytes] = field(default_factory=list)
    size: int = 0
    future: Future[list[tuple[bytes, int]]] | None = None


@dataclass(slots=True)
class _Piece:
    """Output still to be written, in order: a local header (whose offset is fixed when
    it is written), compressed data (ready, or still on the pool), or a descriptor."""

    record: _Record
    kind: str  # "header", "data" or "descriptor"
    data: bytes = b""
    block: Future[bytes] | None = None
    batch: _Batch | None = None
    index: int = 0
    raw: int = 0  # input bytes this piece stands for

    def ready(self) -> bool:
        if self.block is not None:
            return self.block.done()
        if self.batch is not None:
            return self.batch.future is not None and self.batch.future.done()
        return True


class ZipStreamWriter:
    def __init__(self, sink: BinaryIO, pool: ThreadPoolExecutor, level: int = 6) -> None:
        self.sink = sink
        self.pool = pool
        self.level = level
        self.offset = 0
        self.entries: list[_Record] = []
        self.queue: collections.deque[_Piece] = collections.deque()
        self.ahead = 0
        self.batch = _Batch()

    def add_dir(self, name: str, mode: int, mtime: float) -> None:
        name = name.rstrip("/") + "/"
        external = ((stat.S_IFDIR | (mode & 0o7777)) << 16) | 0x10
        self._add_stored(name, external, mtime, b"")

    def add_symlink(self, name: str, target: str, mtime: float) -> None:
        external = (stat.S_IFLNK | 0o777) << 16
        self._add_stored(name, external, mtime, target.encode())

    def add_file(
        self, name: str, mode: int, mtime: float, size: int, chunks: Iterable[bytes]
    ) -> None:
        external = (stat.S_IFREG | (mode & 0o7777)) << 16
        if size == 0:
            self._add_stored(name, external, mtime, b"".join(chunks))
        elif size <= SMALL_FILE:
            self._add_small(name, external, mtime, b"".join(chunks))
        else:
            self._add_large(name, external, mtime, size, chunks)

    def _record(self, name: str, external: int, mtime: float, method: int,
                size: int) -> _Record:
        clock, date = dos_datetime(mtime)
        zip64 = needs_zip64(size)
        record = _Record(name.encode(), method, clock, date, external, int(mtime), zip64)
        extra = struct.pack("<HHQQ", 1, 16, 0, 0) if zip64 else b""
        sizes = LIMIT if zip64 else 0
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20,
                             UTF8_NAME | DATA_DESCRIPTOR, method, clock, date, 0, sizes, sizes,
                             len(record.name), len(extra)) + record.name + extra
        self._push(_Piece(record, "header", data=header))
        return record

    def _add_stored(self, name: str, external: int, mtime: float, data: bytes) -> None:
        record = self._record(name, external, mtime, STORED, len(data))
        record.crc, record.size = zlib.crc32(data), len(data)
        self._push(_Piece(record, "data", data=data))
        self._push(_Piece(record, "descriptor"))

    def _add_small(self, name: str, external: int, mtime: float, data: bytes) -> None:
        record = self._record(name, external, mtime, DEFLATED, len(data))
        record.size = len(data)
        batch = self.batch
        batch.files.append(data)
        batch.size += len(data)
        self._push(_Piece(record, "data", batch=batch, index=len(batch.files) - 1,
                          raw=len(data)))
        self._push(_Piece(record, "descriptor"))
        if batch.size >= BATCH_BYTES or len(batch.files) >= BATCH_FILES:
            self._submit_batch()

    def _submit_batch(self) -> None:
        batch = self.batch
        if batch.files:
            batch.future = self.pool.submit(_deflate_whole, batch.files, self.level)
            self.batch = _Batch()

    def _add_large(self, name: str, external: int, mtime: float, size: int,
                   chunks: Iterable[bytes]) -> None:
        self._submit_batch()  # the small files before this one go first
        record = self._record(name, external, mtime, DEFLATED, size)
        primer = b""
        for block in gather(chunks, DEFLATE_BLOCK):
            record.crc = zlib.crc32(block, record.crc)
            record.size += len(block)
            future = self.pool.submit(deflate_block, block, primer, self.level)
            self._push(_Piece(record, "data", block=future, raw=len(block)))
            primer = block[-WINDOW:]
        self._push(_Piece(record, "data", data=FINAL_BLOCK))
        self._push(_Piece(record, "descriptor"))

    def _push(self, piece: _Piece) -> None:
        self.queue.append(piece)
        self.ahead += piece.raw
        self._flush(AHEAD)

    def _flush(self, limit: int | None) -> None:
        """Write what is ready from the front. While more than `limit` input bytes are in
        flight (with None: while anything is), or more than QUEUED pieces wait, wait for
        the front piece too."""
        queue = self.queue
        while queue:
            piece = queue[0]
            if not piece.ready():
                if limit is not None and self.ahead <= limit and len(queue) <= QUEUED:
                    return
                if piece.batch is not None and piece.batch.future is None:
                    self._submit_batch()
            queue.popleft()
            self.ahead -= piece.raw
            self._write_piece(piece)

    def _write_piece(self, piece: _Piece) -> None:
        record = piece.record
        if piece.kind == "header":
            record.offset = self.offset
            self._write(piece.data)
        elif piece.kind == "data":
            if piece.block is not None:
                data = piece.block.result()
            elif piece.batch is not None:
                assert piece.batch.future is not None
                data, record.crc = piece.batch.future.result()[piece.index]
            else:
                data = piece.data
            record.compressed += len(data)
            self._write(data)
        else:
            if record.zip64:
                self._write(struct.pack("<IIQQ", 0x08074B50, record.crc, record.compressed,
                                        record.size))
            else:
                self._write(struct.pack("<IIII", 0x08074B50, record.crc, record.compressed,
                                        record.size))
            self.entries.append(record)

    def _write(self, data: bytes) -> None:
        self.sink.write(data)
        self.offset += len(data)

    def close(self) -> None:
        self._submit_batch()
        self._flush(None)
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

    def _central(self, entry: _Record) -> bytes:
        big = [value for value in (entry.size, entry.compressed, entry.offset)
               if value >= LIMIT or entry.zip64]
        extra = b""
        if big:
            extra += struct.pack("<HH", 1, 8 * len(big)) + b"".join(
                struct.pack("<Q", value) for value in big)
        extra += struct.pack("<HHBI", 0x5455, 5, 1, entry.mtime & 0xFFFFFFFF)

        def or_limit(value: int) -> int:
            return LIMIT if big and (value >= LIMIT or entry.zip64) else value

        return struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, MADE_BY_UNIX, 45 if big else 20,
            UTF8_NAME | DATA_DESCRIPTOR, entry.method, entry.clock, entry.date, entry.crc,
            or_limit(entry.compressed), or_limit(entry.size), len(entry.name), len(extra), 0, 0, 0,
            entry.external, or_limit(entry.offset),
        ) + entry.name + extra
