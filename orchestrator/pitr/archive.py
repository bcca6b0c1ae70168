"""The `continuous` family in a repository: WAL batches and base backups, their tags,
and reading a batch back.

A WAL batch is one snapshot holding one tar of spooled WAL files, tagged with its first
and last name and the archive time of its newest file. A base backup is two parts: the
tar of `pg_basebackup`, then a small JSON part whose tags carry its WAL range (start and
stop LSN and segment, timeline, times); without that second part the base is
incomplete and never restored. These snapshots carry no `set=` tag: they are not sets,
and the set commands do not see them.
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from orchestrator.engines.base import Engine, Snapshot
from orchestrator.errors import StrongroomError
from orchestrator.pitr.service import FAMILY
from orchestrator.pitr.walnames import (
    MAX_WAL_FILE,
    SEGMENT,
    SEGMENT_SIZE,
    WAL_NAME,
    is_segment,
)
from orchestrator.sets.naming import PRODUCT_TAG

STAMP = "%Y%m%dT%H%M%SZ"
WAL_KIND = "wal"
BASE_KIND = "base"
BASE_INFO_KIND = "base-info"


class ArchiveError(StrongroomError):
    """A part of the continuous family is unusable (a damaged or hostile archive)."""


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(STAMP)


def parse_stamp(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def family_tags(profile: str, service: str, kind: str) -> list[str]:
    return [PRODUCT_TAG, f"family={FAMILY}", f"kind={kind}", f"profile={profile}",
            f"service={service}"]


def batch_tags(profile: str, service: str, names: list[str], newest: datetime) -> list[str]:
    """The batch's names; its segments' range and count (a chain check needs no dump);
    whether it holds a timeline history (never forgotten)."""
    tags = [*family_tags(profile, service, WAL_KIND), f"first={names[0]}", f"last={names[-1]}",
            f"count={len(names)}", f"newest={stamp(newest)}"]
    segments = [name for name in names if is_segment(name)]
    if segments:
        tags += [f"seg-first={segments[0]}", f"seg-last={segments[-1]}",
                 f"segments={len(segments)}"]
    if any(name.endswith(".history") for name in names):
        tags.append("history=1")
    return tags


def batch_filename(service: str, names: list[str]) -> str:
    return f"/continuous/{service}/wal/{names[0]}-{names[-1]}.tar"


def base_filename(service: str, name: str, suffix: str) -> str:
    return f"/continuous/{service}/base/{name}.{suffix}"


@dataclass(frozen=True)
class WalBatch:
    snapshot: Snapshot
    first: str
    last: str
    newest: datetime
    seg_first: str | None = None
    seg_last: str | None = None
    segments: int = 0
    history: bool = False

    def covers(self, name: str) -> bool:
        return self.first <= name <= self.last


@dataclass(frozen=True)
class BaseBackup:
    name: str
    data: Snapshot
    timeline: int
    start_lsn: str
    stop_lsn: str
    start_wal: str
    stop_wal: str
    started: datetime
    finished: datetime
    segment_size: int = SEGMENT_SIZE


def _valid(name: str | None) -> bool:
    return name is not None and bool(WAL_NAME.match(name))


def wal_batches(engine: Engine, profile: str, service: str) -> list[WalBatch]:
    """The service's WAL batches, oldest first; snapshots with bad tags are ignored."""
    return batches_in(engine.snapshots(family_tags(profile, service, WAL_KIND)))


def batches_in(snaps: list[Snapshot]) -> list[WalBatch]:
    """The WAL batches among `snaps` (of one service), oldest first."""
    found = []
    for snap in snaps:
        if snap.tag("kind") != WAL_KIND:
            continue
        first, last, newest = snap.tag("first"), snap.tag("last"), parse_stamp(snap.tag("newest"))
        if _valid(first) and _valid(last) and newest is not None:
            assert first is not None and last is not None
            seg_first, seg_last = snap.tag("seg-first"), snap.tag("seg-last")
            has_range = bool(seg_first and seg_last and SEGMENT.match(seg_first)
                             and SEGMENT.match(seg_last))
            found.append(WalBatch(
                snap, first, last, newest, seg_first if has_range else None,
                seg_last if has_range else None,
                int(snap.tag("segments") or 0) if has_range and (snap.tag("segments") or ""
                                                                 ).isdigit() else 0,
                snap.tag("history") == "1"))
    return sorted(found, key=lambda batch: (batch.newest, batch.last))


def base_backups(engine: Engine, profile: str, service: str) -> list[BaseBackup]:
    """The service's complete base backups (data part and info part), oldest first."""
    return bases_in(engine.snapshots([PRODUCT_TAG, f"family={FAMILY}", f"profile={profile}",
                                      f"service={service}"]))


def bases_in(snaps: list[Snapshot]) -> list[BaseBackup]:
    """The complete base backups among `snaps` (of one service), oldest first."""
    data = {snap.tag("base"): snap for snap in snaps if snap.tag("kind") == BASE_KIND}
    found = []
    for snap in snaps:
        if snap.tag("kind") != BASE_INFO_KIND or snap.tag("base") not in data:
            continue
        try:
            found.append(BaseBackup(
                name=str(snap.tag("base")), data=data[snap.tag("base")],
                timeline=int(snap.tag("timeline") or ""), start_lsn=str(snap.tag("start-lsn")),
                stop_lsn=str(snap.tag("stop-lsn")), start_wal=str(snap.tag("start-wal")),
                stop_wal=str(snap.tag("stop-wal")),
                started=parse_stamp(snap.tag("started")) or snap.time,
                finished=parse_stamp(snap.tag("finished")) or snap.time,
                segment_size=segment_size_tag(snap.tag("segsize"))))
        except ValueError:
            continue
    return sorted((base for base in found if _valid(base.start_wal) and _valid(base.stop_wal)),
                  key=lambda base: base.finished)


def segment_size_tag(text: str | None) -> int:
    """A base's `segsize=` tag: a power of two from 1 MiB to 1 GiB; absent (bases made
    before it was recorded) is the default 16 MiB; anything else is a ValueError."""
    if text is None:
        return SEGMENT_SIZE
    size = int(text)
    if size < 1 << 20 or size > MAX_WAL_FILE or size & (size - 1):
        raise ValueError(f"not a WAL segment size: {text!r}")
    return size


def extract_batch(stream: IO[bytes], folder: Path) -> list[str]:
    """The WAL files of a batch's tar into `folder` (temporary name, then rename). Every
    member must be a regular file named like a WAL file and sized like one."""
    written = []
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                if not member.isreg() or not WAL_NAME.match(member.name) \
                        or member.size > MAX_WAL_FILE:
                    raise ArchiveError(f"unexpected member in a WAL batch: {member.name[:80]!r}")
                source = archive.extractfile(member)
                assert source is not None
                temp = folder / f".{member.name}.{os.getpid()}.tmp"
                with temp.open("wb") as sink:
                    while chunk := source.read(1 << 20):
                        sink.write(chunk)
                os.replace(temp, folder / member.name)
                written.append(member.name)
    except tarfile.TarError as exc:
        raise ArchiveError(f"a WAL batch is not a readable tar: {exc}") from None
    return written
