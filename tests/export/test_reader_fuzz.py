"""Damaged archives of every format: truncations, bit flips, random bytes and random
header fields. Reading every member (and every byte of its data) may fail only with
the project's own one-line errors, never with anything else."""

from __future__ import annotations

import functools
import io
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.errors import StrongroomError
from orchestrator.export.tar_reader import BLOCK, TarFormatError, TarReader
from tests.export.archives import FORMATS, build, consume

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=list(HealthCheck))
WORKDIR = tempfile.TemporaryDirectory(prefix="reader-fuzz-")


@functools.cache
def base(fmt: str) -> bytes:
    return build(fmt)


def read_all(raw: bytes, fmt: str) -> None:
    """The only exceptions allowed are StrongroomError, each on one short line."""
    path = Path(WORKDIR.name) / f"fuzzed.{fmt}"
    path.write_bytes(raw)
    try:
        consume(path)
    except StrongroomError as exc:
        message = exc.render()
        assert "\n" not in message and len(message) < 1000, message


def test_the_unchanged_archives_read_back() -> None:
    for fmt in FORMATS:
        path = Path(WORKDIR.name) / f"valid.{fmt}"
        path.write_bytes(base(fmt))
        members = consume(path)
        assert [m[0].rstrip("/") for m in members] == [
            "metadata.json", "config/app", "config/app/a.txt", "config/app/empty",
            "config/app/link", "services/db/dump.sql"]
        assert members[2][3] == bytes(range(256)) * 5 and members[4][4] == "a.txt"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_truncation(fmt: str) -> None:
    raw = base(fmt)
    step = max(1, len(raw) // 400)
    for end in [*range(0, len(raw), step), len(raw) - 1]:
        read_all(raw[:end], fmt)


@pytest.mark.parametrize("fmt", FORMATS)
@settings(FUZZ, max_examples=120)
@given(data=st.data())
def test_bit_flips(fmt: str, data: st.DataObject) -> None:
    raw = bytearray(base(fmt))
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(0, 7)),
                               min_size=1, max_size=6))
    for offset, bit in flips:
        raw[offset] ^= 1 << bit
    read_all(bytes(raw), fmt)


@pytest.mark.parametrize("fmt", FORMATS)
@settings(FUZZ, max_examples=120)
@given(data=st.data())
def test_random_bytes_over_a_stretch(fmt: str, data: st.DataObject) -> None:
    raw = bytearray(base(fmt))
    offset = data.draw(st.integers(0, len(raw) - 1))
    raw[offset:offset + 16] = data.draw(st.binary(min_size=1, max_size=16))
    read_all(bytes(raw), fmt)


def _tar_headers(raw: bytes) -> list[int]:
    """Offsets of the blocks of a plain tar whose checksum holds: its headers."""
    found = []
    for offset in range(0, len(raw) - BLOCK + 1, BLOCK):
        block = raw[offset:offset + BLOCK]
        stored = block[148:156].split(b"\0", 1)[0].strip(b" ")
        if stored and stored.isdigit() and \
                sum(block) - sum(block[148:156]) + 256 == int(stored, 8):
            found.append(offset)
    return found


TAR_FIELDS = [(0, 100), (100, 8), (124, 12), (136, 12), (156, 1), (157, 100), (257, 8),
              (345, 155)]


def _with_checksum(block: bytearray) -> None:
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % (sum(block) & 0o777777)


@st.composite
def mutated_tar(draw: st.DrawFn) -> bytes:
    """The plain tar with one header field replaced, its checksum fixed or not."""
    raw = bytearray(base("tar"))
    header = draw(st.sampled_from(_tar_headers(bytes(raw))))
    start, length = draw(st.sampled_from(TAR_FIELDS))
    value = draw(st.one_of(
        st.binary(min_size=length, max_size=length),
        st.integers(0, 8 ** (length - 1) - 1).map(lambda n: (b"%o" % n).zfill(length - 1)
                                                  + b"\0"),
        st.binary(min_size=length, max_size=length).map(lambda b: b"\x80" + b[1:]),
        st.sampled_from([b"\xff" * length, b"\0" * length, b"7" * length])))
    block = bytearray(raw[header:header + BLOCK])
    block[start:start + length] = value[:length].ljust(length, b"\0")
    if draw(st.booleans()):
        _with_checksum(block)
    raw[header:header + BLOCK] = block
    return bytes(raw)


@settings(FUZZ, max_examples=300)
@given(raw=mutated_tar())
def test_random_tar_header_fields(raw: bytes) -> None:
    read_all(raw, "tar")


@settings(FUZZ, max_examples=300)
@given(raw=st.one_of(st.binary(max_size=3 * BLOCK), mutated_tar()))
def test_tar_reader_alone(raw: bytes) -> None:
    """The tar reader used by the export path: only TarFormatError."""
    reader = TarReader(io.BytesIO(raw))
    try:
        for member in reader:
            if member.is_file:
                for _ in reader.data(member):
                    pass
    except TarFormatError:
        pass


def _zip_records(raw: bytes) -> list[tuple[int, int]]:
    """(offset, fixed length) of every local header, central directory entry and end record."""
    found = []
    for signature, length in ((b"PK\x03\x04", 30), (b"PK\x01\x02", 46), (b"PK\x05\x06", 22),
                              (b"PK\x06\x06", 56), (b"PK\x07\x08", 16)):
        start = raw.find(signature)
        while start >= 0:
            found.append((start, length))
            start = raw.find(signature, start + 1)
    return found


@pytest.mark.parametrize("fmt", ["zip", "aes.zip", "std.zip"])
@settings(FUZZ, max_examples=250)
@given(data=st.data())
def test_random_zip_header_fields(fmt: str, data: st.DataObject) -> None:
    raw = bytearray(base(fmt))
    record, length = data.draw(st.sampled_from(_zip_records(bytes(raw))))
    at = record + data.draw(st.integers(4, length - 2))
    width = data.draw(st.sampled_from([2, 4]))
    value = data.draw(st.one_of(st.integers(0, 2 ** (8 * width) - 1),
                                st.sampled_from([0, 1, 2 ** (8 * width) - 1, 0x7FFF])))
    raw[at:at + width] = struct.pack("<H" if width == 2 else "<I", value)[:len(raw) - at]
    read_all(bytes(raw), fmt)
