"""Reading the continuous family back: the base backup's WAL range from its tar stream,
and WAL batches that are hostile archives."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.engines.base import Snapshot
from orchestrator.pitr.archive import ArchiveError, bases_in, extract_batch
from orchestrator.pitr.basebackup import BaseBackupError, LabelTap, wal_range
from orchestrator.pitr.recovery import RecoveryError, lay_out

LABEL = (b"START WAL LOCATION: 0/3000028 (file 000000010000000000000003)\n"
         b"CHECKPOINT LOCATION: 0/3000060\nSTART TIMELINE: 1\n")


def tar_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def manifest(end: str) -> bytes:
    body = {"Files": [{"Path": f"base/{i}", "Size": 8192} for i in range(3000)],
            "WAL-Ranges": [{"Timeline": 1, "Start-LSN": "0/3000028", "End-LSN": end}]}
    return json.dumps(body).replace('"WAL-Ranges": [{', '"WAL-Ranges": [\n{ ').encode()


@pytest.mark.parametrize("chunk", [1, 511, 512, 4096, 1 << 20])
def test_the_tap_reads_the_range_in_any_chunking(chunk: int) -> None:
    stream = tar_of({"PG_VERSION": b"15\n", "big": b"\0" * 70000, "backup_label": LABEL,
                     "global/pg_control": b"c" * 8192, "backup_manifest": manifest("0/4000100")})
    tap = LabelTap()
    for start in range(0, len(stream), chunk):
        tap.update(memoryview(stream[start:start + chunk]))
    assert wal_range(tap) == (1, "0/3000028", "0/4000100")
    assert tap.total == len(stream)


def test_a_stream_without_label_is_an_error() -> None:
    tap = LabelTap()
    tap.update(memoryview(tar_of({"PG_VERSION": b"15\n"})))
    with pytest.raises(BaseBackupError, match="backup_label"):
        wal_range(tap)


def test_a_batch_extracts_wal_files(tmp_path: Path) -> None:
    data = tar_of({"000000010000000000000003": b"w" * 100, "00000002.history": b"h"})
    assert extract_batch(io.BytesIO(data), tmp_path) == ["000000010000000000000003",
                                                         "00000002.history"]
    assert (tmp_path / "000000010000000000000003").read_bytes() == b"w" * 100


@pytest.mark.parametrize("name", ["../000000010000000000000003", "/etc/passwd",
                                  "postgresql.conf"])
def test_a_hostile_batch_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ArchiveError, match="unexpected member"):
        extract_batch(io.BytesIO(tar_of({name: b"x"})), tmp_path / "cache")
    assert not (tmp_path / "etc").exists()


def test_a_batch_with_a_link_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo("000000010000000000000003")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/shadow"
        archive.addfile(info)
    with pytest.raises(ArchiveError):
        extract_batch(io.BytesIO(buffer.getvalue()), tmp_path)


@pytest.mark.parametrize("name", ["../escape", "/abs", "a/../../b"])
def test_a_hostile_base_backup_is_refused(tmp_path: Path, name: str) -> None:
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    with pytest.raises(RecoveryError, match="unsafe name"):
        lay_out(io.BytesIO(tar_of({"PG_VERSION": b"15\n", name: b"x"})), pgdata)
    assert not (tmp_path / "escape").exists()


def test_a_base_backup_lays_out(tmp_path: Path) -> None:
    lay_out(io.BytesIO(tar_of({"PG_VERSION": b"15\n", "base/1/1234": b"d" * 9000})), tmp_path)
    assert (tmp_path / "base/1/1234").stat().st_size == 9000


def test_a_base_backup_takes_no_dump_options() -> None:
    from orchestrator.errors import UsageError
    from orchestrator.models import BackupDatabaseRequest
    from orchestrator.pitr.basebackup import base_backup

    request = BackupDatabaseRequest(service="db", database=["shop"], base=True)
    with pytest.raises(UsageError, match="drop --database"):
        base_backup(None, request)  # type: ignore[arg-type]  # refused before any use


def family_snapshot(kind: str, *tags: str) -> Snapshot:
    return Snapshot(id=kind * 8, short_id=kind[:8], time=datetime(2024, 12, 24, tzinfo=UTC),
                    hostname="h", paths=(), tags=(f"kind={kind}", "base=db-base-1", *tags))


INFO = ("timeline=1", "start-lsn=0/3000028", "stop-lsn=0/3000100",
        "start-wal=000000010000000000000003", "stop-wal=000000010000000000000003")


@pytest.mark.parametrize(("segsize", "expected"), [(None, 16 << 20), ("1048576", 1 << 20),
                                                   ("1073741824", 1 << 30)])
def test_a_base_records_its_segment_size(segsize: str | None, expected: int) -> None:
    tags = (*INFO, f"segsize={segsize}") if segsize else INFO
    bases = bases_in([family_snapshot("base"), family_snapshot("base-info", *tags)])
    assert [base.segment_size for base in bases] == [expected]


@pytest.mark.parametrize("segsize", ["3", "1000000", "2147483648", "16MB", ""])
def test_a_base_with_a_hostile_segment_size_is_ignored(segsize: str) -> None:
    snaps = [family_snapshot("base"), family_snapshot("base-info", *INFO, f"segsize={segsize}")]
    assert bases_in(snaps) == []
