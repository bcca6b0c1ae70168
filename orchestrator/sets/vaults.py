"""Sets spanning repositories: a service's parts kept in a repository of its own (a vault).

A service with `repository = "x-vault"` sends its dumps (one snapshot each) and its files
(one final-like snapshot, `part=vault`, holding also `vault.json`: what the vault holds of
the set) to that repository, under its own password and so its own master key. The set's
final snapshot and its manifest stay in the main repository; the final snapshot carries a
`vault=<repository>` tag per vault and the manifest names the repository of every part.
Whoever holds only the main password sees the parts' names, sizes and digests, not their
bytes. Each vault costs one engine run per set beyond its streams.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from hooks.base import DumpPlan
from orchestrator.engines.base import Engine, Node, ProgressCallback
from orchestrator.errors import StrongroomError, UsageError
from orchestrator.profile.schema import Profile
from orchestrator.profile.urls import shown_url
from orchestrator.profile.vaults import vault_names
from orchestrator.run.tempfiles import write_atomic
from orchestrator.sets.dumps import StreamRestore, run_streams
from orchestrator.sets.layout import SourcePath
from orchestrator.sets.manifest import Manifest, ManifestStream, ManifestVault, paths_from
from orchestrator.sets.naming import (
    FILES_PART,
    PRODUCT_TAG,
    VAULT_PART,
    BackupSet,
    set_tags,
    split_set_name,
)

if TYPE_CHECKING:
    from orchestrator.sets.session import Session

log = logging.getLogger("strongroom")
VAULT_FILE = "vault.json"


@dataclass
class VaultShare:
    """What one vault takes of a set being made."""

    repository: str
    sources: list[SourcePath] = field(default_factory=list)
    plans: list[DumpPlan] = field(default_factory=list)

    @property
    def services(self) -> list[str]:
        return sorted({p.service for p in self.plans} | {s.service for s in self.sources
                                                          if s.service})


def refuse_vault_destination(profile: Profile, repo_name: str) -> None:
    if repo_name in vault_names(profile):
        raise UsageError(f"{repo_name!r} is a service's own repository (a vault): a set's "
                         "manifest goes to another repository; give --destination another one")


def split_for_vaults(
    profile: Profile, sources: Sequence[SourcePath], plans: Sequence[DumpPlan],
    homes: Mapping[str, str] | None = None,
) -> tuple[list[SourcePath], list[DumpPlan], list[VaultShare]]:
    """The sources and dumps that stay in the main repository, and each vault's share;
    `homes` (the destination's `vaults` map) sends a vault's share to another repository."""
    shares: dict[str, VaultShare] = {}

    def vault_of(service: str | None) -> VaultShare | None:
        svc = profile.services.get(service) if service else None
        if svc is None or svc.repository is None:
            return None
        home = (homes or {}).get(svc.repository, svc.repository)
        return shares.setdefault(home, VaultShare(home))

    main_sources: list[SourcePath] = []
    main_plans: list[DumpPlan] = []
    for item in sources:
        share = vault_of(item.service)
        (share.sources if share else main_sources).append(item)
    for plan in plans:
        share = vault_of(plan.service)
        (share.plans if share else main_plans).append(plan)
    return main_sources, main_plans, [shares[name] for name in sorted(shares)]


@dataclass
class StoredShare:
    vault: ManifestVault
    streams: list[tuple[ManifestStream, int]]
    engine: Engine
    bytes_added: int

    @property
    def snapshot_ids(self) -> list[str]:
        return [self.vault.snapshot_id] + [s.snapshot_id for s, _ in self.streams]


def store_share(
    session: Session, share: VaultShare, *, name: str, kind: str, started: datetime,
    compression: str, on_progress: ProgressCallback | None,
) -> StoredShare:
    """A vault's dumps, then its files with vault.json in one final-like run."""
    repository = session.profile.repositories[share.repository]
    _, engine = session.engine(share.repository)
    profile = session.profile.profile_name
    log.info("set %s: %d path(s), %d dump(s) into vault %s (%s)", name, len(share.sources),
             len(share.plans), share.repository, shown_url(repository.url))
    stored = run_streams(
        engine, share.plans,
        lambda plan: set_tags(name, plan.logical, kind, profile, [plan.service]),
        time=started, host=session.host, compression=compression, set_name=name)
    streams = [s.model_copy(update={"repository": share.repository}) for s, _ in stored]
    # one folder per set name's base, as the main staging folder: rewritten by each run
    split = split_set_name(name)
    staging = session.state.root / "vaults" / share.repository / (split[0] if split else name)
    staging.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = paths_from(share.sources, share.repository)
    held = {"set": name, "repository": share.repository,
            "paths": [p.model_dump() for p in paths],
            "streams": [s.model_dump() for s in streams]}
    write_atomic(staging / VAULT_FILE, (json.dumps(held, indent=2) + "\n").encode())
    try:
        summary = engine.backup_paths(
            [item.source for item in share.sources] + [str(staging)],
            tags=set_tags(name, VAULT_PART, kind, profile, share.services,
                          streams=len(streams)),
            time=started, host=session.host,
            excludes=[pattern for item in share.sources for pattern in item.excludes],
            compression=compression, on_progress=on_progress)
    except BaseException:
        forget_quietly(engine, [s.snapshot_id for s in streams])
        raise
    if summary.unreadable:
        forget_quietly(engine, [summary.snapshot_id] + [s.snapshot_id for s in streams])
        shown = "\n".join(f"  {line}" for line in summary.unreadable[:20])
        raise StrongroomError(f"set {name} is incomplete: {len(summary.unreadable)} item(s) "
                              f"could not be read for vault {share.repository}:\n{shown}")
    vault = ManifestVault(
        repository=share.repository, url=shown_url(repository.url), services=share.services,
        snapshot_id=summary.snapshot_id, files=summary.total_files, bytes=summary.total_bytes)
    return StoredShare(vault, [(s, added) for s, (_, added) in zip(streams, stored,
                                                                    strict=True)],
                       engine, summary.data_added)


def forget_quietly(engine: Engine, snapshot_ids: Sequence[str]) -> None:
    """Forget the parts of a set that failed; a failure here is logged, the first one raised."""
    if not snapshot_ids:
        return
    try:
        engine.forget(list(snapshot_ids))
    except StrongroomError as exc:
        log.warning("could not forget the vault parts of the failed set: %s", exc)


def check_stored(stored: Sequence[StoredShare], name: str) -> None:
    """Every vault part of a new set is there (one listing per vault)."""
    for share in stored:
        present = {snap.id for snap in share.engine.snapshots([PRODUCT_TAG, f"set={name}"])}
        missing = [sid for sid in share.snapshot_ids
                   if not any(full.startswith(sid) for full in present)]
        if missing:
            raise StrongroomError(f"verification failed: {len(missing)} part(s) missing in "
                                  f"vault {share.vault.repository}")


def refuse_spanning(entry: BackupSet, operation: str) -> None:
    """The operations that do not follow a set into its vaults yet say so, never half-do."""
    if entry.vaults:
        raise UsageError(f"{operation} does not follow a set into a service's own repository "
                         f"yet: {entry.name} has parts in {', '.join(entry.vaults)}")


def unreadable_parts(manifest: Manifest, repository: str) -> list[str]:
    """The logical names of what a vault holds of a set, for messages."""
    share = manifest.in_vault(repository)
    return [p.logical for p in share.paths] + [s.logical for s in share.streams]


@dataclass
class Place:
    """Where some parts of a set are read from: the main repository (repository None) or a
    vault; `problem` says why a vault's parts cannot be read."""

    repository: str | None
    engine: Engine | None
    snapshot_id: str
    problem: str | None = None


def places_of(session: Session, engine: Engine, entry: BackupSet, manifest: Manifest
              ) -> tuple[list[Place], Manifest]:
    """The main repository and each vault of a set (as load_sets checked them), and the
    manifest with every vault stream's snapshot id as that vault has it."""
    places = [Place(None, engine, entry.final.id if entry.final else "")]
    streams = list(manifest.streams)
    for vault in manifest.vaults:
        parts = entry.vault_parts.get(vault.repository)
        if parts is None or VAULT_PART not in parts:
            why = entry.unchecked or f"vault {vault.repository}: its parts were not found"
            places.append(Place(vault.repository, None, vault.snapshot_id, why))
            continue
        _, vault_engine = session.engine(entry.home(vault.repository))
        places.append(Place(vault.repository, vault_engine, parts[VAULT_PART].id))
        streams = [s.model_copy(update={"snapshot_id": parts[s.part].id})
                   if s.repository == vault.repository and s.part in parts else s
                   for s in streams]
    return places, manifest.model_copy(update={"streams": streams})


@dataclass
class PlaceShare:
    """The sources and dumps a restore reads from one place."""

    place: Place
    sources: list[SourcePath]
    streams: list[StreamRestore]
    nodes: list[Node] = field(default_factory=list)


def split_by_place(places: Sequence[Place], manifest: Manifest, sources: Sequence[SourcePath],
                   streams: Sequence[StreamRestore]) -> tuple[list[PlaceShare], list[str]]:
    """The readable places with what each restores, and a line per unreadable vault naming
    the parts it holds of this restore."""
    home = {(p.source, p.logical): p.repository for p in manifest.paths}
    shares, unreadable = [], []
    for place in places:
        share = PlaceShare(
            place, [s for s in sources if home.get((s.source, s.logical)) == place.repository],
            [item for item in streams if item.stream.repository == place.repository])
        if place.engine is not None:
            shares.append(share)
        elif share.sources or share.streams:
            names = [s.logical for s in share.sources] + [i.stream.logical for i in share.streams]
            unreadable.append(f"{place.repository}: {', '.join(names)} ({place.problem})")
    return shares, unreadable


def vault_snapshots(entry: BackupSet) -> dict[str, list[str]]:
    """Each vault's snapshot ids of a set (as load_sets found them), by the repository that
    holds them where the set was listed: what retention forgets with the set's own parts."""
    return {entry.home(vault): [snap.id for snap in parts.values()]
            for vault, parts in entry.vault_parts.items() if parts}


def as_vault_set(entry: BackupSet, vault: str) -> BackupSet | None:
    """A set's share of one vault, shaped as a set of its own (its `vault` part as the final
    one), so the checks of a set's parts run on it unchanged; None when it was not found."""
    parts = dict(entry.vault_parts.get(vault) or {})
    final = parts.pop(VAULT_PART, None)
    if final is None:
        return None
    return BackupSet(name=entry.name, base=entry.base, type=entry.type, profile=entry.profile,
                     time=entry.time, host=entry.host, parts={**parts, FILES_PART: final},
                     services=entry.services)


def readable_vaults(session: Session, engine: Engine, entry: BackupSet, manifest: Manifest,
                    services: Sequence[str]) -> tuple[list[tuple[str, Engine, str]], Manifest]:
    """(repository, engine, part snapshot id) of each vault an export reads, and the manifest
    with the vault streams' ids there. A vault holding wanted parts that cannot be read
    stops the export before anything is written: an archive never silently lacks a part."""
    places, located = places_of(session, engine, entry, manifest)
    readable = []
    for place in places[1:]:
        assert place.repository is not None
        held = [name for name in unreadable_parts(located, place.repository)
                if not services or any(name.startswith(f"services/{svc}/")
                                       for svc in services)]
        if place.engine is None and held:
            raise StrongroomError(f"cannot export {entry.name}: {', '.join(held)} are in "
                                  f"vault {place.repository}, which cannot be read "
                                  f"({place.problem})")
        if place.engine is not None:
            readable.append((place.repository, place.engine, place.snapshot_id))
    return readable, located
