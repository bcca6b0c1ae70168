"""Sets spanning repositories: what goes to a service's own repository, and when such a set
is complete (no engine: the vault's listing is given)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hooks.base import DumpPlan
from orchestrator.engines.base import Snapshot
from orchestrator.errors import StrongroomError, UsageError
from orchestrator.profile.schema import Profile
from orchestrator.sets import vault_check
from orchestrator.sets.layout import SourcePath
from orchestrator.sets.naming import BackupSet, group_sets, set_tags
from orchestrator.sets.vault_check import check_vaults, part_problem
from orchestrator.sets.vaults import refuse_spanning, refuse_vault_destination, split_for_vaults

T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
NAME = "nightly-20261201-030000"


def profile() -> Profile:
    return Profile.model_validate({
        "repositories": {"local": {"url": "/r", "password_file": "/p"},
                         "nc-vault": {"url": "/v", "password_file": "/q"}},
        "services": {"nextcloud": {"data": ["/srv/nc"], "repository": "nc-vault"},
                     "web": {"data": ["/srv/web"]}},
    })


def plan(service: str) -> DumpPlan:
    return DumpPlan(hook="sqlite", service=service, index=0, database=f"/{service}.db",
                    logical=f"services/{service}/{service}.sqlite", format="sqlite",
                    command=["true"])  # type: ignore[arg-type]


def snap(tags: list[str], seed: str) -> Snapshot:
    return Snapshot(seed * 16, seed * 2, T0, "web1", ("/x",), tuple(tags))


def test_a_services_files_and_dumps_go_to_its_vault_the_rest_stays() -> None:
    sources = [SourcePath("/srv/nc", "services/nextcloud/data", "service-data", "nextcloud"),
               SourcePath("/srv/web", "services/web/data", "service-data", "web"),
               SourcePath("/etc/app", "config/app", "config", "app")]
    main_sources, main_plans, shares = split_for_vaults(
        profile(), sources, [plan("nextcloud"), plan("web")])
    assert [s.source for s in main_sources] == ["/srv/web", "/etc/app"]
    assert [p.service for p in main_plans] == ["web"]
    assert [(v.repository, [s.source for s in v.sources], [p.service for p in v.plans],
             v.services) for v in shares] == [
        ("nc-vault", ["/srv/nc"], ["nextcloud"], ["nextcloud"])]


def test_a_vault_is_never_a_sets_destination() -> None:
    refuse_vault_destination(profile(), "local")
    with pytest.raises(UsageError, match="'nc-vault' is a service's own repository"):
        refuse_vault_destination(profile(), "nc-vault")


def spanning_set() -> BackupSet:
    final = snap(set_tags(NAME, "files", "full", "site", ["nextcloud"]) + ["vault=nc-vault"],
                 "a")
    (entry,) = group_sets([final])
    return entry


def test_a_vault_part_missing_makes_the_set_incomplete(monkeypatch: Any) -> None:
    vault_final = snap(set_tags(NAME, "vault", "full", "site", streams=1), "b")
    dump = snap(set_tags(NAME, "services/nextcloud/nc.sqlite", "full", "site"), "c")
    assert part_problem("nc-vault", {"vault": vault_final, dump.tag("part") or "": dump}) \
        is None
    assert part_problem("nc-vault", {"vault": vault_final}) == \
        "1 of 1 stream part(s) in vault nc-vault are missing"
    assert part_problem("nc-vault", None) == "its part in vault nc-vault is missing"

    monkeypatch.setattr(vault_check, "vault_parts", lambda *args: {NAME: {"vault": vault_final}})
    entry = spanning_set()
    assert entry.complete and entry.vaults == ["nc-vault"]
    check_vaults(profile(), Path("/state"), [entry])
    assert not entry.complete and "nc-vault" in (entry.problem or "")


def test_a_vault_that_cannot_be_opened_leaves_the_set_unchecked(monkeypatch: Any) -> None:
    def refuse(*args: object) -> None:
        raise StrongroomError("restic: wrong password or no key found\nmore")

    monkeypatch.setattr(vault_check, "vault_parts", refuse)
    entry = spanning_set()
    check_vaults(profile(), Path("/state"), [entry])
    assert entry.complete
    assert entry.unchecked == "vault nc-vault cannot be opened: restic: wrong password or " \
                              "no key found"


def test_operations_that_do_not_follow_vaults_refuse_naming_the_vault() -> None:
    with pytest.raises(UsageError, match=f"verify-backup .* {NAME} has parts in nc-vault"):
        refuse_spanning(spanning_set(), "verify-backup")
    (plain,) = group_sets([snap(set_tags(NAME, "files", "full", "site"), "d")])
    refuse_spanning(plain, "verify-backup")


def test_restore_reads_each_part_where_it_lives_and_names_an_unreadable_vault() -> None:
    from orchestrator.sets.manifest import Manifest, ManifestStream, paths_from
    from orchestrator.sets.vaults import Place, as_vault_set, split_by_place

    web = SourcePath("/srv/web", "services/web/data", "service-data", "web")
    nc = SourcePath("/srv/nc", "services/nextcloud/data", "service-data", "nextcloud")
    stream = ManifestStream(part="services/nextcloud/nc.sqlite",
                            logical="services/nextcloud/nc.sqlite", snapshot_id="c" * 64,
                            bytes=10, hook="sqlite", service="nextcloud", database="/nc.db",
                            format="sqlite", repository="nc-vault")
    manifest = Manifest(set=NAME, name="nightly", type="full", profile="site", host="web1",
                        started=T0, services=["nextcloud", "web"], include_data=True,
                        compress=True, paths=paths_from([web]) + paths_from([nc], "nc-vault"),
                        streams=[stream])

    class Restore:
        def __init__(self, item: ManifestStream) -> None:
            self.stream = item

    main, vault = Place(None, object(), "a" * 64), Place("nc-vault", None, "b" * 64,  # type: ignore[arg-type]
                                                     "vault nc-vault cannot be opened: no key")
    shares, unreadable = split_by_place([main, vault], manifest, [web, nc],
                                        [Restore(stream)])  # type: ignore[list-item]
    assert [(s.place.repository, [x.source for x in s.sources], s.streams) for s in shares] == [
        (None, ["/srv/web"], [])]
    assert unreadable == ["nc-vault: services/nextcloud/data, services/nextcloud/nc.sqlite "
                          "(vault nc-vault cannot be opened: no key)"]

    entry = spanning_set()
    assert as_vault_set(entry, "nc-vault") is None  # not found (yet)
    vault_final = snap(set_tags(NAME, "vault", "full", "site", streams=1), "b")
    entry.vault_parts["nc-vault"] = {"vault": vault_final}
    share = as_vault_set(entry, "nc-vault")
    assert share is not None and share.final == vault_final and share.name == NAME


def test_a_destination_that_maps_a_vault_sends_its_share_there() -> None:
    sources = [SourcePath("/srv/nc", "services/nextcloud/data", "service-data", "nextcloud")]
    _, _, shares = split_for_vaults(profile(), sources, [plan("nextcloud")],
                                    {"nc-vault": "nc-offsite"})
    assert [(v.repository, v.services) for v in shares] == [("nc-offsite", ["nextcloud"])]
