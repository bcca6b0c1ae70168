"""WAL file names: segments, timeline histories, backup history files, partial segments.

Names come from PostgreSQL (%f), from the spool and from archives in the repository:
each is checked against these patterns before it becomes a path.
"""

from __future__ import annotations

import re

from orchestrator.errors import UsageError

SEGMENT = re.compile(r"^[0-9A-F]{24}$")
WAL_NAME = re.compile(
    r"^(?:[0-9A-F]{24}(?:\.partial)?|[0-9A-F]{8}\.history|[0-9A-F]{24}\.[0-9A-F]{8}\.backup)$")
LSN = re.compile(r"^([0-9A-F]{1,8})/([0-9A-F]{1,8})$")
SEGMENT_SIZE = 16 * 1024 * 1024  # the default; a cluster's own size is read at setup
MAX_WAL_FILE = 1024 * 1024 * 1024  # wal_segment_size can be at most 1 GiB


def checked_name(name: str) -> str:
    if not WAL_NAME.match(name):
        raise UsageError(f"not a WAL file name: {name!r}")
    return name


def is_segment(name: str) -> bool:
    return bool(SEGMENT.match(name))


def timeline_of(name: str) -> int:
    return int(name[:8], 16)


def lsn_value(text: str) -> int:
    match = LSN.match(text.strip().upper())
    if not match:
        raise ValueError(f"not an LSN: {text!r}")
    return (int(match[1], 16) << 32) | int(match[2], 16)


def segment_of(timeline: int, lsn: int, segment_size: int = SEGMENT_SIZE) -> str:
    """The name of the segment holding `lsn` on `timeline`."""
    number = lsn // segment_size
    per_log = 0x100000000 // segment_size
    return f"{timeline:08X}{number // per_log:08X}{number % per_log:08X}"


def segment_number(name: str, segment_size: int = SEGMENT_SIZE) -> int:
    per_log = 0x100000000 // segment_size
    return int(name[8:16], 16) * per_log + int(name[16:24], 16)


def segments_between(first: str, last: str, segment_size: int = SEGMENT_SIZE) -> list[str]:
    """Every segment name from first to last on first's timeline."""
    timeline = timeline_of(first)
    start, end = segment_number(first, segment_size), segment_number(last, segment_size)
    return [segment_of(timeline, number * segment_size, segment_size)
            for number in range(start, end + 1)]
