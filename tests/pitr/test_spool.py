"""The WAL spool: durable, idempotent, never replacing, clean on a full disk."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from orchestrator.pitr import spool
from orchestrator.pitr.ship import batches

SEGMENT = "000000010000000000000007"


def wal(folder: Path, data: bytes, name: str = SEGMENT) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def test_push_is_idempotent_and_refuses_other_content(tmp_path: Path) -> None:
    target = tmp_path / "spool"
    target.mkdir()
    source = wal(tmp_path / "pg_wal", b"a" * 1000)
    assert spool.push(target, source) is True
    assert spool.push(target, source) is False  # PostgreSQL retried: same content
    assert (target / SEGMENT).read_bytes() == b"a" * 1000
    other = wal(tmp_path / "other", b"b" * 1000)
    with pytest.raises(spool.SpoolError, match="other content"):
        spool.push(target, other)
    assert (target / SEGMENT).read_bytes() == b"a" * 1000
    assert [entry.name for entry in spool.entries(target)] == [SEGMENT]


def test_push_into_a_full_disk_fails_and_leaves_nothing(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "spool"
    target.mkdir()
    source = wal(tmp_path / "pg_wal", b"x" * 5000)
    real_write = os.write

    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(spool.SpoolError, match="disk is full"):
        spool.push(target, source)
    assert list(target.iterdir()) == []  # no partial file, not even a temporary one
    monkeypatch.setattr(os, "write", real_write)
    assert spool.push(target, source) is True  # space is back: the retry succeeds


def test_push_refuses_names_and_missing_spools(tmp_path: Path) -> None:
    source = wal(tmp_path / "pg_wal", b"x", name="postgresql.conf")
    with pytest.raises(Exception, match="not a WAL file name"):
        spool.push(tmp_path, source)
    with pytest.raises(spool.SpoolError, match="does not exist"):
        spool.push(tmp_path / "none", wal(tmp_path / "w", b"x"))


def test_entries_skip_temporary_files_and_the_lock(tmp_path: Path) -> None:
    wal(tmp_path, b"1")
    (tmp_path / f".{SEGMENT}.123.tmp").write_bytes(b"half")
    (tmp_path / spool.LOCK_NAME).write_bytes(b"")
    assert [entry.name for entry in spool.entries(tmp_path)] == [SEGMENT]


def test_one_shipper_at_a_time(tmp_path: Path) -> None:
    with spool.ship_lock(tmp_path) as first:
        assert first
        with spool.ship_lock(tmp_path) as second:
            assert not second


def test_batches_cut_by_count_and_size(tmp_path: Path) -> None:
    entries = [spool.SpoolEntry(f"0000000100000000000000{i:02X}", tmp_path, 10, 0.0)
               for i in range(7)]
    assert [len(batch) for batch in batches(entries, 3, 1000)] == [3, 3, 1]
    assert [len(batch) for batch in batches(entries, 100, 25)] == [2, 2, 2, 1]
