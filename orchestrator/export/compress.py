"""Compression on both cores: deflate blocks in parallel (as pigz does), xz streams in parallel.

zlib and lzma release the GIL while they work, so a small thread pool is enough.
Deflate blocks are compressed independently, each primed with the 32 KiB before it
and ended with a sync flush; their concatenation plus an empty final block is one
valid deflate stream. Concatenated .xz streams are one valid .xz file.
"""

from __future__ import annotations

import collections
import lzma
import struct
import time
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

DEFLATE_BLOCK = 1 << 20
XZ_BLOCK = 4 << 20
XZ_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": 2 << 20}]
WINDOW = 32 * 1024
# The empty final block that ends a deflate stream.
FINAL_BLOCK = zlib.compressobj(6, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)


def deflate_block(data: bytes, primer: bytes, level: int) -> bytes:
    if primer:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15, zdict=primer)
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def gather(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Blocks of at least `size` bytes (the last one may be shorter), each joined once."""
    blocks = _Blocks(size)
    for chunk in chunks:
        block = blocks.add(chunk)
        if block is not None:
            yield block
    if blocks.pending:
        yield blocks.take()


class _Blocks:
    """Collects written pieces and hands them on in blocks of at least `size` bytes,
    joined once (no per-write copying, no slicing)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pieces: list[bytes] = []
        self.pending = 0

    def add(self, data: bytes | bytearray | memoryview) -> bytes | None:
        self.pieces.append(data if isinstance(data, bytes) else bytes(data))
        self.pending += len(data)
        return self.take() if self.pending >= self.size else None

    def take(self) -> bytes:
        block = b"".join(self.pieces)
        self.pieces, self.pending = [], 0
        return block


class _PooledWriter(ABC):
    """A write-only file object that collects blocks and hands each to `_submit`."""

    blocks: _Blocks

    def write(self, data: bytes | bytearray | memoryview) -> int:
        block = self.blocks.add(data)
        if block is not None:
            self._submit(block)
        return len(data)

    @abstractmethod
    def _submit(self, block: bytes) -> None: ...

    def flush(self) -> None:
        return None


class ParallelGzipWriter(_PooledWriter):
    """A write-only file object that writes one gzip member, compressed on a pool."""

    def __init__(self, sink: BinaryIO, pool: ThreadPoolExecutor, level: int = 6) -> None:
        self.sink = sink
        self.pool = pool
        self.level = level
        self.pending: collections.deque[Future[bytes]] = collections.deque()
        self.blocks = _Blocks(DEFLATE_BLOCK)
        self.primer = b""
        self.crc = 0
        self.size = 0
        mtime = int(time.time())
        sink.write(b"\x1f\x8b\x08\x00" + struct.pack("<I", mtime) + b"\x00\xff")

    def _submit(self, block: bytes) -> None:
        self.crc = zlib.crc32(block, self.crc)
        self.size += len(block)
        self.pending.append(self.pool.submit(deflate_block, block, self.primer, self.level))
        self.primer = block[-WINDOW:]
        while len(self.pending) > 4:
            self.sink.write(self.pending.popleft().result())

    def close(self) -> None:
        if self.blocks.pending:
            self._submit(self.blocks.take())
        while self.pending:
            self.sink.write(self.pending.popleft().result())
        self.sink.write(FINAL_BLOCK)
        self.sink.write(struct.pack("<II", self.crc, self.size & 0xFFFFFFFF))


def _xz_block(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64,
                         filters=XZ_FILTERS)


class ParallelXzWriter(_PooledWriter):
    """A write-only file object that writes concatenated .xz streams from a pool."""

    def __init__(self, sink: BinaryIO, pool: ThreadPoolExecutor) -> None:
        self.sink = sink
        self.pool = pool
        self.blocks = _Blocks(XZ_BLOCK)
        self.pending: collections.deque[Future[bytes]] = collections.deque()
        self.wrote_any = False

    def _submit(self, block: bytes) -> None:
        self.pending.append(self.pool.submit(_xz_block, block))
        self.wrote_any = True
        # Each LZMA2 encoder holds ~10x its dictionary: two at work keep memory bounded.
        while len(self.pending) > 1:
            self.sink.write(self.pending.popleft().result())

    def close(self) -> None:
        if self.blocks.pending or not self.wrote_any:
            self._submit(self.blocks.take())
        while self.pending:
            self.sink.write(self.pending.popleft().result())
