"""backup-sync of a set spanning repositories: each vault's parts go to the repository the
target's `vaults` map names for that vault (its own key on that side), the set's own parts
to the target. A vault the target does not map is refused before anything is copied: a
copy sharing the vault's parts with the source would let either side's retention forget
them under the other.

The vault's parts are copied before the set's own (streams first, the `vault` part
last), so a sync killed midway leaves a set the target lists as incomplete."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.errors import StrongroomError, UsageError
from orchestrator.sets.manifest import Manifest
from orchestrator.sets.migrate import copy_files, copy_stream, two_processes
from orchestrator.sets.naming import VAULT_PART, BackupSet
from orchestrator.sets.session import Session

log = logging.getLogger("strongroom")


@dataclass(frozen=True)
class VaultRoute:
    vault: str  # as the set's manifest names it
    source: str  # the repository holding its parts where the set is read from
    target: str  # the repository the target's `vaults` map names for it


def vault_routes(session: Session, target_name: str, entry: BackupSet) -> list[VaultRoute]:
    """Where each vault's parts of a set go; refused when the target maps no repository
    for a vault, maps the very repository they are read from, or the vault cannot be read."""
    mapped = session.profile.repositories[target_name].vaults
    routes = []
    for vault in entry.vaults:
        home = mapped.get(vault)
        if home is None:
            raise UsageError(
                f"backup-sync: {entry.name} has parts in vault {vault}, and {target_name!r} "
                "names no repository for them",
                hint=f"add to the profile: [repositories.{target_name}] vaults = "
                     f"{{ {vault} = \"REPOSITORY\" }} (a repository with its own key)")
        if home == entry.home(vault):
            raise UsageError(f"backup-sync: {target_name!r} maps vault {vault} to {home!r}, "
                             "where the source's parts already are: give it another repository")
        if vault not in entry.vault_parts:
            raise StrongroomError(f"backup-sync: {entry.name}'s parts in vault {vault} cannot "
                                  f"be read: {entry.unchecked or 'they were not found'}")
        routes.append(VaultRoute(vault, entry.home(vault), home))
    return routes


def copy_vault_parts(session: Session, entry: BackupSet, route: VaultRoute,
                     present: BackupSet | None, manifest: Manifest | None) -> int:
    """A set's parts in one vault into the target's repository for it; the number of
    snapshots copied. `present` is the set as the target holds it, if at all."""
    _, source = session.engine(route.source)
    _, target = session.engine(route.target)
    parts = entry.vault_parts[route.vault]
    have = set(present.vault_parts.get(route.vault, {})) if present is not None else set()
    first = sorted(part for part in parts if part != VAULT_PART and part not in have)
    last = [VAULT_PART] if VAULT_PART in parts and VAULT_PART not in have else []
    log.info("copying %s's parts in vault %s (%d) from %s to %s", entry.name, route.vault,
             len(first) + len(last), route.source, route.target)
    if two_processes(source, target):
        target.init()
        digests = {s.part: s.digest for s in (manifest.streams if manifest else [])
                   if s.repository == route.vault}
        for part in first:
            copy_stream(source, target, part, parts[part], digests.get(part))
        if last:
            copy_files(session, source, target, parts[VAULT_PART])
        return len(first) + len(last)
    target.init_like(source)
    if first:
        target.copy_from(source, [parts[part].id for part in first])
    if last:
        target.copy_from(source, [parts[VAULT_PART].id])
    return len(first) + len(last)


def check_routes(session: Session, target_name: str,
                 chosen: Sequence[BackupSet]) -> dict[str, list[VaultRoute]]:
    """Every chosen set's vault routes, all checked before anything is copied."""
    return {entry.name: vault_routes(session, target_name, entry) for entry in chosen}
