"""backup-sync of a spanning set: the target's `vaults` map routes each vault's parts, and
a set listed in a repository reads its vault parts where that repository's map says."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.engines.base import Snapshot
from orchestrator.errors import StrongroomError, UsageError
from orchestrator.profile.schema import Profile
from orchestrator.sets import vault_check
from orchestrator.sets.naming import BackupSet, group_sets, set_tags
from orchestrator.sets.session import Session
from orchestrator.sets.sync_vaults import VaultRoute, vault_routes
from orchestrator.sets.vault_check import check_vaults, homes_of
from orchestrator.sets.vaults import vault_snapshots

NAME = "nightly-20261201-030000"
T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def profile(tmp_path: Path, offsite_vaults: dict[str, str]) -> Profile:
    def repo(name: str, **more: Any) -> dict[str, Any]:
        return {"url": str(tmp_path / name), "password_file": str(tmp_path / "p"), **more}

    return Profile.model_validate({
        "repositories": {"local": repo("local"), "nc-vault": repo("nc-vault"),
                         "offsite": repo("offsite", vaults=offsite_vaults),
                         "nc-offsite": repo("nc-offsite")},
        "services": {"nextcloud": {"data": ["/srv/nc"], "repository": "nc-vault"}},
        "state_dir": str(tmp_path / "state"),
    })


def snap(tags: list[str], seed: str) -> Snapshot:
    return Snapshot(seed * 16, seed * 2, T0, "web1", ("/x",), tuple(tags))


def spanning_set() -> BackupSet:
    (entry,) = group_sets([snap(set_tags(NAME, "files", "full", "site", ["nextcloud"])
                                + ["vault=nc-vault"], "a")])
    return entry


VAULT_FINAL = snap(set_tags(NAME, "vault", "full", "site"), "b")


def test_a_set_listed_in_a_mapping_repository_reads_its_vault_there(
        tmp_path: Path, monkeypatch: Any) -> None:
    prof = profile(tmp_path, {"nc-vault": "nc-offsite"})
    opened: list[str] = []

    def parts(_profile: Profile, _root: Path, repository: str, *args: object) -> Any:
        opened.append(repository)
        return {NAME: {"vault": VAULT_FINAL}}

    monkeypatch.setattr(vault_check, "vault_parts", parts)
    assert homes_of(prof, "offsite") == {"nc-vault": "nc-offsite"}
    assert homes_of(prof, "local") == {} and homes_of(prof, "gone") == {}
    entry = spanning_set()
    check_vaults(prof, tmp_path, [entry], homes_of(prof, "offsite"))
    assert opened == ["nc-offsite"] and entry.complete
    assert entry.home("nc-vault") == "nc-offsite"
    assert vault_snapshots(entry) == {"nc-offsite": [VAULT_FINAL.id]}
    local = spanning_set()
    check_vaults(prof, tmp_path, [local], homes_of(prof, "local"))
    assert opened[-1] == "nc-vault" and local.home("nc-vault") == "nc-vault"


def test_a_vault_the_target_does_not_map_is_refused_with_the_key_to_add(
        tmp_path: Path) -> None:
    entry = spanning_set()
    entry.vault_parts = {"nc-vault": {"vault": VAULT_FINAL}}
    with pytest.raises(UsageError, match=f"{NAME} has parts in vault nc-vault") as caught:
        vault_routes(Session(profile(tmp_path, {})), "offsite", entry)
    assert '[repositories.offsite] vaults = { nc-vault = "REPOSITORY" }' in (
        caught.value.hint or "")
    session = Session(profile(tmp_path, {"nc-vault": "nc-offsite"}))
    assert vault_routes(session, "offsite", entry) == [
        VaultRoute("nc-vault", "nc-vault", "nc-offsite")]
    entry.vault_homes = {"nc-vault": "nc-offsite"}  # listed in offsite, synced back there
    with pytest.raises(UsageError, match="where the source's parts already are"):
        vault_routes(session, "offsite", entry)


def test_a_vault_that_cannot_be_read_stops_the_sync(tmp_path: Path) -> None:
    entry = spanning_set()
    entry.unchecked = "vault nc-vault cannot be opened: no password"
    with pytest.raises(StrongroomError, match="cannot be read: vault nc-vault cannot be "
                       "opened: no password"):
        vault_routes(Session(profile(tmp_path, {"nc-vault": "nc-offsite"})), "offsite", entry)


class FakeEngine:
    def __init__(self, name: str, clash: bool = False) -> None:
        self.repository_name, self.clash = name, clash
        self.calls: list[Any] = []

    def copy_clash(self, source: Any) -> str | None:
        return "AWS_ACCESS_KEY_ID" if self.clash else None

    def init(self) -> bool:
        self.calls.append("init")
        return True

    def init_like(self, source: Any) -> bool:
        self.calls.append(("init_like", source.repository_name))
        return True

    def copy_from(self, source: Any, ids: list[str]) -> None:
        self.calls.append(("copy_from", source.repository_name, ids))


@pytest.mark.parametrize("clash", [False, True])
def test_a_vaults_streams_go_first_its_vault_part_last_and_present_ones_are_kept(
        tmp_path: Path, monkeypatch: Any, clash: bool) -> None:
    from orchestrator.sets import sync_vaults
    from orchestrator.sets.sync_vaults import copy_vault_parts

    session = Session(profile(tmp_path, {"nc-vault": "nc-offsite"}))
    engines = {"nc-vault": FakeEngine("nc-vault"), "nc-offsite": FakeEngine("nc-offsite", clash)}
    monkeypatch.setattr(session, "engine", lambda name: (name, engines[name]))
    streamed: list[tuple[str, str]] = []
    monkeypatch.setattr(sync_vaults, "copy_stream", lambda source, target, part, snap, digest:
                        streamed.append((part, snap.id)))
    monkeypatch.setattr(sync_vaults, "copy_files", lambda session, source, target, snap:
                        streamed.append(("vault", snap.id)))
    dump_a = snap(set_tags(NAME, "services/nextcloud/a.sqlite", "full", "site"), "c")
    dump_b = snap(set_tags(NAME, "services/nextcloud/b.sqlite", "full", "site"), "d")
    entry = spanning_set()
    entry.vault_parts = {"nc-vault": {"vault": VAULT_FINAL, dump_a.tag("part") or "": dump_a,
                                      dump_b.tag("part") or "": dump_b}}
    present = spanning_set()
    present.vault_parts = {"nc-vault": {dump_a.tag("part") or "": dump_a}}
    route = VaultRoute("nc-vault", "nc-vault", "nc-offsite")
    assert copy_vault_parts(session, entry, route, present, None) == 2
    target = engines["nc-offsite"]
    if clash:
        assert target.calls == ["init"]
        assert streamed == [("services/nextcloud/b.sqlite", dump_b.id), ("vault", VAULT_FINAL.id)]
    else:
        assert streamed == []
        assert target.calls == [("init_like", "nc-vault"), ("copy_from", "nc-vault", [dump_b.id]),
                                ("copy_from", "nc-vault", [VAULT_FINAL.id])]
