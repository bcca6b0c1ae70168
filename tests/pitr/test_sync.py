"""backup-sync of the continuous family: WAL first, base info last, nothing twice."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from types import SimpleNamespace

import pytest

from orchestrator.engines.base import Snapshot
from orchestrator.errors import UsageError
from orchestrator.models import BackupSyncRequest
from orchestrator.pitr.sync import sync_continuous, sync_sets_and_continuous
from tests.pitr.test_listing import REPOSITORY, base, batch


class Target:
    def __init__(self, snaps: list[Snapshot]) -> None:
        self.snaps = snaps
        self.calls: list[list[str]] = []

    def snapshots(self, tags: Sequence[str] = ()) -> list[Snapshot]:
        return [item for item in self.snaps if set(tags) <= set(item.tags)]

    def copy_clash(self, source: object) -> list[str]:
        return []

    def copy_from(self, source: object, ids: Sequence[str]) -> None:
        self.calls.append(list(ids))
        by_id = {item.id: item for item in REPOSITORY.snaps}
        self.snaps += [by_id[snapshot_id] for snapshot_id in ids]


def kinds(target: Target, call: list[str]) -> set[str | None]:
    by_id = {item.id: item for item in REPOSITORY.snaps}
    return {by_id[snapshot_id].tag("kind") for snapshot_id in call}


def test_wal_then_bases_then_their_info_and_only_the_profile_s() -> None:
    target = Target([])
    copied, present = sync_continuous(REPOSITORY, target, "site")  # type: ignore[arg-type]
    assert (copied, present) == (8, 0)  # 3 batches, 3 data parts (one without info), 2 infos
    assert [kinds(target, call) for call in target.calls] == [{"wal"}, {"base"},
                                                              {"base-info"}]
    assert all(item.tag("profile") == "site" for item in target.snaps)
    again = sync_continuous(REPOSITORY, target, "site")  # type: ignore[arg-type]
    assert again == (0, 8) and len(target.calls) == 3


def test_what_the_target_already_holds_is_not_copied() -> None:
    held = [batch(50, "site", "db", 3, 8, "20241221T130000Z"), *base(1, "site", "db", 3)]
    target = Target(held)  # the same snapshots, copied earlier (other ids)
    copied, present = sync_continuous(REPOSITORY, target, "site")  # type: ignore[arg-type]
    assert (copied, present) == (5, 3)


class FakeSession:
    def __init__(self, engines: dict[str, object]) -> None:
        self.engines = engines
        self.profile = SimpleNamespace(profile_name="site")

    def engine(self, name: str | None) -> tuple[str, object]:
        assert name is not None
        return name, self.engines[name]


def request(**values: object) -> BackupSyncRequest:
    return BackupSyncRequest.model_validate({"from": "local", "to": "offsite", **values})


def test_backup_continuous_copies_the_family_alone() -> None:
    target = Target([])
    target.init_like = lambda source: True  # type: ignore[attr-defined]
    session = FakeSession({"local": REPOSITORY, "offsite": target})
    result = sync_sets_and_continuous(session, request(backup="continuous"))  # type: ignore[arg-type]
    assert result.created and result.copied == [] and result.continuous_copied == 8
    assert result.snapshots == 8


@pytest.mark.parametrize(("values", "message"), [
    ({"backup": "continuous", "all": True}, "drop --all"),
    ({"backup": "continuous", "since": "2024-12-01"}, "drop --since"),
    ({"backup": "continuous", "to": "local"}, "both 'local'"),
])
def test_bad_continuous_syncs_are_refused(values: dict[str, object], message: str) -> None:
    session = FakeSession({"local": REPOSITORY})
    with pytest.raises(UsageError, match=message):
        sync_sets_and_continuous(session, request(**values))  # type: ignore[arg-type]


class StreamTarget(Target):
    """A target copy_from cannot fill from the source (one variable, two values)."""

    def copy_clash(self, source: object) -> list[str]:
        return ["AWS_ACCESS_KEY_ID"]

    def backup_stream(self, producer: object, filename: str, *, tags: Sequence[str],
                      time: object, host: str, tap: object = None) -> object:
        self.calls.append([filename, *tags])
        return SimpleNamespace(snapshot_id=f"new-{len(self.calls)}")


class StreamSource:
    def __init__(self) -> None:
        self.snaps = [dataclasses.replace(snap, paths=(f"/stream/{snap.id}",))
                      for snap in REPOSITORY.snaps]

    def snapshots(self, tags: Sequence[str] = ()) -> list[Snapshot]:
        return [item for item in self.snaps if set(tags) <= set(item.tags)]

    def dump_command(self, snapshot_id: str, path: str, archive: bool = False) -> object:
        return ("dump", snapshot_id, path)


def test_repositories_needing_two_values_of_one_variable_copy_stream_by_stream() -> None:
    target = StreamTarget([])
    copied, present = sync_continuous(StreamSource(), target, "site")  # type: ignore[arg-type]
    assert (copied, present) == (8, 0)
    assert all(call[0].startswith("stream/") for call in target.calls)
    by_id = {item.id: item for item in REPOSITORY.snaps}
    kinds_in_order = [by_id[call[0].removeprefix("stream/")].tag("kind")
                      for call in target.calls]
    assert kinds_in_order == sorted(kinds_in_order, key=["wal", "base", "base-info"].index)
    assert all(set(by_id[call[0].removeprefix("stream/")].tags) == set(call[1:])
               for call in target.calls)
