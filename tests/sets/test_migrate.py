"""Planning a copy between repositories: which tags travel, when two processes are
needed, the refusal of a set the target holds, and a stream whose digest differs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator import run
from orchestrator.engines.base import BackupSummary, Snapshot
from orchestrator.errors import ConflictError, StrongroomError
from orchestrator.sets.digest import digest_of
from orchestrator.sets.migrate import carried, copy_stream, refuse_held, two_processes

WHEN = datetime(2024, 5, 1, 3, 0, tzinfo=UTC)


def snap(part: str, tags: tuple[str, ...] = ()) -> Snapshot:
    return Snapshot(id="f" * 64, short_id="ffffffff", time=WHEN, hostname="web1",
                    paths=(f"/{part}",), tags=("strongroom", "set=s-20240501-030000",
                                               f"part={part}", *tags))


class FakeTarget:
    """Takes a stream as a real engine would: hands every byte to the tap."""

    def __init__(self, data: bytes, held: list[Snapshot] | None = None) -> None:
        self.data = data
        self.held = held or []
        self.forgotten: list[str] = []
        self.stored: list[tuple[str, list[str], datetime, str]] = []

    def snapshots(self, tags: Any = ()) -> list[Snapshot]:
        return self.held

    def backup_stream(self, producer: run.Command, filename: str, *, tags: list[str],
                      time: datetime, host: str, tap: Any = None) -> BackupSummary:
        self.stored.append((filename, tags, time, host))
        tap.update(memoryview(self.data))
        return BackupSummary(snapshot_id="new-id")

    def forget(self, ids: list[str]) -> None:
        self.forgotten += ids

    def copy_clash(self, source: Any) -> list[str]:
        return ["AWS_ACCESS_KEY_ID"] if getattr(source, "clash", False) else []


class FakeSource:
    def __init__(self, clash: bool = False) -> None:
        self.clash = clash

    def dump_command(self, snapshot_id: str, path: str, archive: bool = False) -> run.Command:
        return run.Command(("dump", snapshot_id, path))


def test_a_copied_part_keeps_its_tags_but_not_the_staging_prefix() -> None:
    assert carried(["strongroom", "set=a", "root=/var/lib/x/set-1", "audit=3-ab"]) == [
        "strongroom", "set=a", "audit=3-ab"]


def test_two_processes_between_engines_or_when_one_variable_needs_two_values() -> None:
    target = FakeTarget(b"")
    assert two_processes(FakeSource(clash=True), target) is True
    assert two_processes(FakeSource(), target) is False


def test_a_target_holding_the_set_even_in_part_is_refused() -> None:
    refuse_held(FakeTarget(b""), "vault", "s-20240501-030000")
    with pytest.raises(ConflictError, match="vault already holds set s-20240501-030000 "
                       r"\(1 part\(s\)\); nothing was copied"):
        refuse_held(FakeTarget(b"", held=[snap("pg/db.dump")]), "vault", "s-20240501-030000")


def test_a_stream_keeps_name_time_and_host_and_its_digest_is_checked() -> None:
    target = FakeTarget(b"the dump")
    part = copy_stream(FakeSource(), target, "pg/db.dump",  # type: ignore[arg-type]
                       snap("pg/db.dump"), digest_of(b"the dump"))
    assert part.digest == digest_of(b"the dump") and part.bytes == 8
    assert target.stored == [("pg/db.dump", list(snap("pg/db.dump").tags), WHEN, "web1")]
    assert target.forgotten == []

    bad = FakeTarget(b"another dump")
    with pytest.raises(StrongroomError, match="does not match the digest"):
        copy_stream(FakeSource(), bad, "pg/db.dump",  # type: ignore[arg-type]
                    snap("pg/db.dump"), digest_of(b"the dump"))
    assert bad.forgotten == ["new-id"]
