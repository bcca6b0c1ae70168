from __future__ import annotations

import io
import os

import pytest

from orchestrator.export.envelope import (
    HEADER_SIZE,
    SEGMENT,
    TAG,
    EnvelopeError,
    EnvelopeWriter,
    decrypt_stream,
)


def seal(data: bytes, password: bytes = b"pw") -> bytes:
    sink = io.BytesIO()
    writer = EnvelopeWriter(sink, password)
    writer.write(data)
    writer.close()
    return sink.getvalue()


def open_(raw: bytes, password: bytes = b"pw") -> bytes:
    return b"".join(decrypt_stream(io.BytesIO(raw), password))


@pytest.mark.parametrize("size", [0, 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT + 5])
def test_round_trip(size: int) -> None:
    data = os.urandom(size)
    assert open_(seal(data)) == data


def test_two_seals_of_the_same_data_differ() -> None:
    assert seal(b"same") != seal(b"same")


def test_wrong_password() -> None:
    with pytest.raises(EnvelopeError, match="wrong password"):
        open_(seal(b"data"), b"other")


@pytest.mark.parametrize("cut", ["at-boundary", "mid-segment", "last-byte"])
def test_truncation_is_detected(cut: str) -> None:
    raw = seal(os.urandom(2 * SEGMENT + 100))
    end = {"at-boundary": HEADER_SIZE + 2 * (SEGMENT + TAG), "mid-segment": len(raw) - 50,
           "last-byte": len(raw) - 1}[cut]
    with pytest.raises(EnvelopeError):
        open_(raw[:end])


def test_flipped_byte_and_swapped_segments_are_detected() -> None:
    raw = bytearray(seal(os.urandom(3 * SEGMENT)))
    flipped = bytearray(raw)
    flipped[HEADER_SIZE + SEGMENT + TAG + 10] ^= 1
    with pytest.raises(EnvelopeError, match="segment 1"):
        open_(bytes(flipped))
    first = slice(HEADER_SIZE, HEADER_SIZE + SEGMENT + TAG)
    second = slice(HEADER_SIZE + SEGMENT + TAG, HEADER_SIZE + 2 * (SEGMENT + TAG))
    swapped = bytearray(raw)
    swapped[first], swapped[second] = raw[second], raw[first]
    with pytest.raises(EnvelopeError):
        open_(bytes(swapped))


def test_not_an_envelope() -> None:
    with pytest.raises(EnvelopeError, match="bad header"):
        open_(b"\x1f\x8b" + b"\0" * 100)
