"""Byte count and digest of a stream as it passes: the manifest records both."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any


def _hasher() -> tuple[str, Callable[[], Any]]:
    # xxh3-128 costs ~1/30 of a core where sha256 costs a fifth at dump speeds: the
    # digest guards against corruption on the way, while restic authenticates storage.
    try:
        import xxhash

        return "xxh3-128", xxhash.xxh3_128
    except ImportError:  # pragma: no cover - xxhash is a dependency
        return "blake2b", hashlib.blake2b


ALGORITHM, _NEW = _hasher()


class StreamDigest:
    """A tap for run.pipeline: counts bytes and hashes them."""

    algorithm = ALGORITHM

    def __init__(self, on_bytes: Callable[[int], None] | None = None) -> None:
        self.bytes = 0
        self._hash = _NEW()
        self.on_bytes = on_bytes

    def update(self, data: memoryview) -> None:
        self.bytes += len(data)
        self._hash.update(data)
        if self.on_bytes is not None:
            self.on_bytes(len(data))

    def hexdigest(self) -> str:
        return str(self._hash.hexdigest())

    @property
    def label(self) -> str:
        """`algorithm:hex`, as the manifest stores it."""
        return f"{self.algorithm}:{self.hexdigest()}"


def digest_of(data: bytes, algorithm: str = ALGORITHM) -> str:
    if algorithm != ALGORITHM:
        raise ValueError(f"unknown digest algorithm {algorithm!r}")
    hasher = StreamDigest()
    hasher.update(memoryview(data))
    return hasher.label
