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
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

DEFLATE_BLOCK = 1 << 20
XZ_BLOCK = 4 << 20
XZ_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 6, "dict_size": 2 << 20}]
WINDOW = 32 * 1024
# The empty final block that ends a deflate stream.
FINAL_BLOCK = zlib.compressobj(6, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)


def _deflate_block(data: bytes, primer: bytes, level: int) -> bytes:
    if primer:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15, zdict=primer)
    else:
        compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


def _in_order(
    pool: ThreadPoolExecutor, jobs: Iterable[Callable[[], bytes]], window: int
) -> Iterator[bytes]:
    """Run jobs on the pool, at most `window` at once, yielding results in order."""
    pending: collections.deque[Future[bytes]] = collections.deque()
    for job in jobs:
        pending.append(pool.submit(job))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Chunks of exactly `size` bytes (the last one shorter)."""
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    if buffer:
        yield bytes(buffer)


class Deflater:
    """Raw deflate of a byte stream, block-parallel; also keeps CRC-32 and sizes."""

    def __init__(self, pool: ThreadPoolExecutor, level: int = 6, threads: int = 2) -> None:
        self.pool = pool
        self.level = level
        self.window = threads * 2
        self.crc = 0
        self.size = 0
        self.compressed = 0

    def stream(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        def jobs() -> Iterator[Callable[[], bytes]]:
            primer = b""
            for block in rechunk(chunks, DEFLATE_BLOCK):
                self.crc = zlib.crc32(block, self.crc)
                self.size += len(block)
                yield lambda block=block, primer=primer: _deflate_block(  # type: ignore[misc]
                    block, primer, self.level)
                primer = block[-WINDOW:]

        for out in _in_order(self.pool, jobs(), self.window):
            self.compressed += len(out)
            yield out
        self.compressed += len(FINAL_BLOCK)
        yield FINAL_BLOCK


class ParallelGzipWriter:
    """A write-only file object that writes one gzip member, compressed on a pool."""

    def __init__(self, sink: BinaryIO, pool: ThreadPoolExecutor, level: int = 6) -> None:
        self.sink = sink
        self.pool = pool
        self.level = level
        self.pending: collections.deque[tuple[Future[bytes], int, int]] = collections.deque()
        self.buffer = bytearray()
        self.primer = b""
        self.crc = 0
        self.size = 0
        mtime = int(time.time())
        sink.write(b"\x1f\x8b\x08\x00" + struct.pack("<I", mtime) + b"\x00\xff")

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.buffer += data
        while len(self.buffer) >= DEFLATE_BLOCK:
            self._submit(bytes(self.buffer[:DEFLATE_BLOCK]))
            del self.buffer[:DEFLATE_BLOCK]
        return len(data)

    def _submit(self, block: bytes) -> None:
        self.crc = zlib.crc32(block, self.crc)
        self.size += len(block)
        future = self.pool.submit(_deflate_block, block, self.primer, self.level)
        self.primer = block[-WINDOW:]
        self.pending.append((future, 0, 0))
        while len(self.pending) > 4:
            self.sink.write(self.pending.popleft()[0].result())

    def close(self) -> None:
        if self.buffer:
            self._submit(bytes(self.buffer))
            self.buffer.clear()
        while self.pending:
            self.sink.write(self.pending.popleft()[0].result())
        self.sink.write(FINAL_BLOCK)
        self.sink.write(struct.pack("<II", self.crc, self.size & 0xFFFFFFFF))

    def flush(self) -> None:
        return None


def _xz_block(data: bytes) -> bytes:
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64,
                         filters=XZ_FILTERS)


class ParallelXzWriter:
    """A write-only file object that writes concatenated .xz streams from a pool."""

    def __init__(self, sink: BinaryIO, pool: ThreadPoolExecutor) -> None:
        self.sink = sink
        self.pool = pool
        self.buffer = bytearray()
        self.pending: collections.deque[Future[bytes]] = collections.deque()
        self.wrote_any = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.buffer += data
        while len(self.buffer) >= XZ_BLOCK:
            self._submit(bytes(self.buffer[:XZ_BLOCK]))
            del self.buffer[:XZ_BLOCK]
        return len(data)

    def _submit(self, block: bytes) -> None:
        self.pending.append(self.pool.submit(_xz_block, block))
        self.wrote_any = True
        # Each LZMA2 encoder holds ~10x its dictionary: two at work keep memory bounded.
        while len(self.pending) > 1:
            self.sink.write(self.pending.popleft().result())

    def close(self) -> None:
        if self.buffer or not self.wrote_any:
            self._submit(bytes(self.buffer))
            self.buffer.clear()
        while self.pending:
            self.sink.write(self.pending.popleft().result())

    def flush(self) -> None:
        return None
