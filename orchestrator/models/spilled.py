"""A list of paths that may run to millions (a restore's conflicts), kept on disk.

The count and the first few paths stay in memory; the rest goes to an unnamed
temporary file (removed by the system once closed) and is read back, in order, when
iterated. As a model field it validates from a list and serializes to one, so a
result's JSON is unchanged; `console.emit` writes it without building that list.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, Annotated, Any, overload

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

HEAD = 100  # paths kept in memory as well: what a person is shown
CHUNK = 1 << 16  # read back in small pieces: a piece splits into thousands of paths
SEPARATOR = b"\0"  # never part of a path


class SpilledPaths(Sequence[str]):
    """Paths appended in order: the first HEAD in memory, the others in a temporary file."""

    def __init__(self, paths: Iterable[str] = ()) -> None:
        self._file: IO[bytes] | None = None
        self._count = 0
        self._head: list[str] = []
        self.extend(paths)

    def append(self, path: str) -> None:
        if SEPARATOR.decode() in path:
            raise ValueError(f"a path holds a NUL byte: {path!r}")
        self._count += 1
        if len(self._head) < HEAD:
            self._head.append(path)
            return
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="strongroom-paths-")
        self._file.write(os.fsencode(path) + SEPARATOR)

    def extend(self, paths: Iterable[str]) -> None:
        for path in paths:
            self.append(path)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        yield from self._head[:]
        if self._file is None:
            return
        self._file.flush()
        fd, offset, rest = self._file.fileno(), 0, b""
        while chunk := os.pread(fd, CHUNK, offset):
            offset += len(chunk)
            *whole, rest = (rest + chunk).split(SEPARATOR)
            for raw in whole:
                yield os.fsdecode(raw)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self._count)
            if step > 0 and stop <= len(self._head):
                return self._head[index]
            return list(itertools.islice(self, start, stop, step)) if step > 0 \
                else list(self)[index]
        position = index + self._count if index < 0 else index
        if not 0 <= position < self._count:
            raise IndexError("path index out of range")
        if position < len(self._head):
            return self._head[position]
        return next(itertools.islice(self, position, None))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"SpilledPaths({len(self)} paths)"

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _validate(value: Any) -> SpilledPaths:
    if isinstance(value, SpilledPaths):
        return value
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise ValueError("a list of paths (strings)")
    return SpilledPaths(value)


Paths = Annotated[
    SpilledPaths,
    PlainValidator(_validate),
    PlainSerializer(list, return_type=list[str]),
    WithJsonSchema({"type": "array", "items": {"type": "string"}}),
]
