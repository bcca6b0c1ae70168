from __future__ import annotations

import gzip
import io
import lzma
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from orchestrator.export import zipstream
from orchestrator.export.compress import (
    DEFLATE_BLOCK,
    ParallelGzipWriter,
    ParallelXzWriter,
    gather,
)
from orchestrator.export.zipstream import ZipStreamWriter


class Unseekable(io.RawIOBase):
    """An output that cannot seek or tell, like a pipe."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: Any) -> int:
        self.data += b
        return len(b)

    def writable(self) -> bool:
        return True


@pytest.fixture(scope="module")
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def payload(size: int) -> bytes:
    text = b"the quick brown fox jumps over the lazy dog " * (size // 44 + 1)
    mixed = bytearray(text[:size])
    for offset in range(0, size, 7919):
        mixed[offset:offset + 64] = os.urandom(min(64, size - offset))
    return bytes(mixed)


@pytest.mark.parametrize("size", [0, 1, DEFLATE_BLOCK - 1, DEFLATE_BLOCK, 3 * DEFLATE_BLOCK + 5])
def test_parallel_gzip_is_one_valid_member(pool: ThreadPoolExecutor, size: int) -> None:
    data = payload(size)
    sink = Unseekable()
    writer = ParallelGzipWriter(sink, pool)  # type: ignore[arg-type]
    for start in range(0, len(data), 100_003):
        writer.write(data[start:start + 100_003])
    writer.close()
    assert gzip.decompress(bytes(sink.data)) == data
    assert len(sink.data) < max(len(data), 100)


@pytest.mark.parametrize("size", [0, 10, 9 * (1 << 20) + 3])
def test_parallel_xz_streams_concatenate_into_one_file(pool: ThreadPoolExecutor,
                                                       size: int) -> None:
    data = payload(size)
    sink = Unseekable()
    writer = ParallelXzWriter(sink, pool)  # type: ignore[arg-type]
    writer.write(data)
    writer.close()
    assert lzma.decompress(bytes(sink.data)) == data


@pytest.mark.parametrize("ahead", [zipstream.AHEAD, 1])
def test_zip_entries_stay_in_order_across_batches_and_blocks(
    pool: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch, ahead: int
) -> None:
    """Small files in batches, large ones in blocks, stored ones inline: all written in
    the order they were added, each with its own CRC and sizes (ahead=1: always waiting)."""
    monkeypatch.setattr(zipstream, "AHEAD", ahead)
    files: dict[str, bytes] = {}
    for number in range(zipstream.BATCH_FILES + 40):
        files[f"small/{number:04}"] = payload(1 + (number * 37) % 9000)
        if number % 100 == 50:
            files[f"large/{number}"] = payload(zipstream.SMALL_FILE + 1 + number)
            files[f"empty/{number}"] = b""
    files["large/last"] = payload(2 * DEFLATE_BLOCK + 3)
    sink = Unseekable()
    writer = ZipStreamWriter(sink, pool)  # type: ignore[arg-type]
    for name, data in files.items():
        writer.add_file(name, 0o644, 1_600_000_000, len(data),
                        iter([data[i:i + 65536] for i in range(0, len(data), 65536)]))
    writer.close()
    with zipfile.ZipFile(io.BytesIO(bytes(sink.data))) as archive:
        assert archive.testzip() is None  # every CRC checked
        assert archive.namelist() == list(files)
        for info in archive.infolist():
            assert archive.read(info) == files[info.filename]
            assert info.compress_type == (zipfile.ZIP_DEFLATED if files[info.filename]
                                          else zipfile.ZIP_STORED)


def test_small_files_use_a_window_no_larger_than_themselves() -> None:
    data = payload(3000)
    [(compressed, crc)] = zipstream._deflate_whole([data], 6)
    assert zlib.decompress(compressed, -15) == data and crc == zlib.crc32(data)


def test_gather_joins_pieces_into_blocks_of_at_least_the_size() -> None:
    blocks = list(gather([b"a" * 5, b"b" * 2, b"c" * 2, b"d"], 4))
    assert [len(b) for b in blocks] == [5, 4, 1]
    assert b"".join(blocks) == b"a" * 5 + b"b" * 2 + b"c" * 2 + b"d"


def test_zip_stream_writer_is_read_by_zipfile(pool: ThreadPoolExecutor) -> None:
    sink = Unseekable()
    writer = ZipStreamWriter(sink, pool)  # type: ignore[arg-type]
    big = payload(2 * DEFLATE_BLOCK + 9)
    writer.add_dir("config", 0o750, 1_600_000_000)
    writer.add_file("config/ünïcødé ✓.txt", 0o640, 1_600_000_001, len(big), [big[i:i + 50000] for i in range(0, len(big), 50000)])
    writer.add_file("config/empty", 0o600, 1_600_000_002, 0, [])
    writer.add_symlink("config/link", "ünïcødé ✓.txt", 1_600_000_003)
    writer.close()
    with zipfile.ZipFile(io.BytesIO(bytes(sink.data))) as archive:
        assert archive.testzip() is None
        infos = {info.filename: info for info in archive.infolist()}
        assert list(infos) == ["config/", "config/ünïcødé ✓.txt", "config/empty", "config/link"]
        assert archive.read("config/ünïcødé ✓.txt") == big
        assert stat.S_IMODE(infos["config/ünïcødé ✓.txt"].external_attr >> 16) == 0o640
        assert stat.S_ISLNK(infos["config/link"].external_attr >> 16)
        assert archive.read("config/link") == "ünïcødé ✓.txt".encode()
        assert stat.S_ISDIR(infos["config/"].external_attr >> 16)


def test_entries_without_data_do_not_pile_up_behind_an_open_batch(
        pool: ThreadPoolExecutor) -> None:
    sink = Unseekable()
    writer = ZipStreamWriter(sink, pool)  # type: ignore[arg-type]
    writer.add_file("first", 0o644, 1_600_000_000, 5, [b"small"])  # opens a batch
    longest = 0
    for number in range(3 * zipstream.QUEUED):
        writer.add_file(f"empty/{number}", 0o644, 1_600_000_000, 0, [])
        longest = max(longest, len(writer.queue))
    assert longest <= zipstream.QUEUED + 3
    writer.close()
    with zipfile.ZipFile(io.BytesIO(bytes(sink.data))) as archive:
        assert archive.read("first") == b"small"
        assert len(archive.infolist()) == 1 + 3 * zipstream.QUEUED


def test_zip64_is_chosen_with_room_for_deflate_to_outgrow_the_input() -> None:
    assert not zipstream.needs_zip64(1 << 30)
    assert zipstream.needs_zip64(0xFFFFFFFF - (2 << 20))  # incompressible, deflate adds 0.03%
    assert zipstream.needs_zip64(0xFFFFFFFF)


@pytest.mark.parametrize("mtime", [4_500_000_000, 2**40, 1e300])
def test_dates_past_2107_are_clamped_in_the_dos_fields(mtime: float) -> None:
    clock, date = zipstream.dos_datetime(mtime)
    assert (date >> 9) + 1980 == 2107 and (date >> 5) & 0xF == 12 and date & 0x1F == 31
    assert zipstream.dos_datetime(0) == zipstream.dos_datetime(315532800)


def test_aes_zip_takes_a_date_past_2107() -> None:
    import pyzipper

    from orchestrator.export.entries import Entry
    from orchestrator.export.writers import AesZipWriter

    sink = Unseekable()
    writer = AesZipWriter(sink, b"secret")  # type: ignore[arg-type]
    writer.add(Entry("far", "file", 0o644, 4_500_000_000, 3, chunks=iter([b"abc"])))
    writer.close()
    with pyzipper.AESZipFile(io.BytesIO(bytes(sink.data))) as archive:
        archive.setpassword(b"secret")
        assert archive.read("far") == b"abc"
        assert archive.getinfo("far").date_time[0] == 2107
