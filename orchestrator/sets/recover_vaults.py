"""recover's reading of a set's vaults (sets/vaults.py): each is opened through the
recovered profile once the main repository's files are back, as a vault's password file
may be among them. A vault that cannot be read fails its own steps, with one message
naming it and what it holds; every other step still runs."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.engines.base import Engine
from orchestrator.errors import StrongroomError
from orchestrator.profile.schema import Profile
from orchestrator.sets.manifest import Manifest, ManifestStream
from orchestrator.sets.naming import BackupSet
from orchestrator.sets.session import Session
from orchestrator.sets.vault_check import check_vaults
from orchestrator.sets.vaults import Place, places_of, unreadable_parts


@dataclass
class OpenedVaults:
    """The vaults of a set as the recovered profile reads them."""

    places: dict[str, Place]
    manifest: Manifest  # each vault stream's snapshot id as its vault has it

    def engine(self, repository: str) -> Engine | None:
        place = self.places.get(repository)
        return place.engine if place is not None else None

    def snapshot_id(self, repository: str) -> str:
        return self.places[repository].snapshot_id

    def problem(self, repository: str) -> str | None:
        """Why a vault's steps cannot run, naming the vault and what it holds; None when
        it can be read."""
        place = self.places.get(repository)
        if place is not None and place.engine is not None:
            return None
        why = place.problem if place is not None and place.problem else \
            f"vault {repository} cannot be read"
        held = unreadable_parts(self.manifest, repository)
        return f"{why}; it holds {', '.join(held) or 'nothing of this set'}"

    def located(self, stream: ManifestStream) -> ManifestStream:
        return next((s for s in self.manifest.streams if s.part == stream.part
                     and s.repository == stream.repository), stream)


def open_vaults(profile: Profile, engine: Engine, chosen: BackupSet, manifest: Manifest
                ) -> OpenedVaults:
    """Each vault of the set, opened with the recovered profile's entry for it (one
    listing per vault); the check listing the set made earlier used the session's
    profile, before the vault's password could be back, so it is made anew."""
    chosen.unchecked, chosen.vault_parts = None, {}
    session = Session(profile)
    check_vaults(profile, session.state.root, [chosen], chosen.vault_homes)
    try:
        places, located = places_of(session, engine, chosen, manifest)
    except StrongroomError as exc:  # an entry the engine cannot be made from, say
        places, located = [Place(vault.repository, None, vault.snapshot_id,
                                 f"vault {vault.repository} cannot be opened: {exc.message}")
                           for vault in manifest.vaults], manifest
    return OpenedVaults({place.repository: place for place in places
                         if place.repository is not None}, located)


__all__ = ["OpenedVaults", "open_vaults"]
