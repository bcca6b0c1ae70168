"""Whether a set's parts in the services' own repositories (vaults) are all there.

One listing per vault a set needs; a vault that cannot be opened (its password missing,
say) leaves its sets unchecked, never silently incomplete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from orchestrator.engines import open_engine
from orchestrator.engines.base import Snapshot
from orchestrator.errors import StrongroomError
from orchestrator.profile.schema import Profile
from orchestrator.sets.naming import PRODUCT_TAG, VAULT_PART, BackupSet


def vault_parts(profile: Profile, state_root: Path, repository: str,
                profile_name: str | None) -> dict[str, dict[str, Snapshot]]:
    """Set name → part → snapshot, as a vault holds them. Raises when it cannot be opened."""
    if repository not in profile.repositories:
        raise StrongroomError(f"vault {repository} is not a repository of this profile")
    engine = open_engine(repository, profile.repositories[repository], state_root)
    tags = [PRODUCT_TAG] + ([f"profile={profile_name}"] if profile_name else [])
    found: dict[str, dict[str, Snapshot]] = {}
    for snap in engine.snapshots(tags):
        set_name, part = snap.tag("set"), snap.tag("part")
        if set_name and part:
            found.setdefault(set_name, {})[part] = snap
    return found


def part_problem(repository: str, parts: dict[str, Snapshot] | None) -> str | None:
    """Why a set's share of a vault is incomplete, or None."""
    final = (parts or {}).get(VAULT_PART)
    if final is None:
        return f"its part in vault {repository} is missing"
    expected = int(final.tag("streams") or 0)
    streams = len([p for p in (parts or {}) if p != VAULT_PART and not p.startswith("logs/")])
    if streams < expected:
        return f"{expected - streams} of {expected} stream part(s) in vault {repository} " \
               "are missing"
    return None


def homes_of(profile: Profile, repository: str) -> dict[str, str]:
    """The `vaults` map of the repository sets are read from: vault -> its repository there."""
    found = profile.repositories.get(repository)
    return dict(found.vaults) if found is not None else {}


def check_vaults(profile: Profile, state_root: Path, sets: Sequence[BackupSet],
                 homes: Mapping[str, str] | None = None) -> None:
    """Mark the sets whose vault parts are missing incomplete, and those whose vault cannot
    be opened unchecked (their status says so; they are not called incomplete). Every set
    naming a vault gets what the vault holds of it, for restore and retention. `homes` is
    the `vaults` map of the repository the sets were listed in."""
    wanted = sorted({vault for entry in sets for vault in entry.vaults})
    name = None if profile.profile_free else profile.profile_name
    for vault in wanted:
        home = (homes or {}).get(vault, vault)
        shown = vault if home == vault else f"{vault} (here {home})"
        mine = [entry for entry in sets if vault in entry.vaults]
        for entry in mine:
            entry.vault_homes[vault] = home
        try:
            held = vault_parts(profile, state_root, home, name)
        except StrongroomError as exc:
            note = f"vault {shown} cannot be opened: {exc.message.splitlines()[0]}"[:300]
            for entry in mine:
                entry.unchecked = entry.unchecked or note
            continue
        for entry in mine:
            entry.vault_parts[vault] = held.get(entry.name, {})
            if entry.problem is None:
                entry.problem = part_problem(shown, held.get(entry.name))
