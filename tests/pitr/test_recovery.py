"""Choosing the base backup and the data directory of a point-in-time restore."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.engines.base import Snapshot
from orchestrator.errors import NotFoundError, UsageError
from orchestrator.pitr.archive import BaseBackup
from orchestrator.pitr.recovery import choose_base, prepare_folder, recovery_settings

NOON = datetime(2024, 12, 24, 12, 0, tzinfo=UTC)


def base(name: str, finished: datetime) -> BaseBackup:
    snap = Snapshot(id=name * 8, short_id=name, time=finished, hostname="h", paths=(), tags=())
    return BaseBackup(name, snap, 1, "0/3000028", "0/3000100", "000000010000000000000003",
                      "000000010000000000000003", finished - timedelta(minutes=1), finished)


def test_the_latest_base_finished_before_the_time() -> None:
    bases = [base("a", NOON), base("b", NOON + timedelta(hours=2))]
    assert choose_base(bases, NOON + timedelta(hours=1)).name == "a"
    assert choose_base(bases, NOON + timedelta(hours=3)).name == "b"
    with pytest.raises(NotFoundError, match="before the first base backup"):
        choose_base(bases, NOON - timedelta(seconds=1))
    with pytest.raises(NotFoundError, match="no complete base backup"):
        choose_base([], NOON)


def test_a_non_empty_folder_needs_force(tmp_path: Path) -> None:
    (tmp_path / "PG_VERSION").write_text("15\n")
    with pytest.raises(UsageError, match="--force"):
        prepare_folder(tmp_path, force=False)
    assert (tmp_path / "PG_VERSION").exists()
    prepare_folder(tmp_path, force=True)
    assert list(tmp_path.iterdir()) == []


def test_a_running_cluster_is_refused_even_with_force(tmp_path: Path) -> None:
    (tmp_path / "postmaster.pid").write_text(f"{os.getpid()}\n/data\n")
    with pytest.raises(UsageError, match="running PostgreSQL cluster"):
        prepare_folder(tmp_path, force=True)
    assert (tmp_path / "postmaster.pid").exists()


def test_recovery_settings() -> None:
    text = recovery_settings("strongroom wal-fetch 'x' %f %p", NOON, 5499, copy=True)
    assert "restore_command = 'strongroom wal-fetch ''x'' %f %p'" in text
    assert "recovery_target_time = '2024-12-24T12:00:00+00:00'" in text
    assert "recovery_target_action = 'promote'" in text
    assert "port = 5499" in text and "archive_mode = 'off'" in text
    to_end = recovery_settings("c", None, None, copy=False)
    assert "recovery_target_time =" not in to_end and "archive_mode" not in to_end
