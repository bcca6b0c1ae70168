"""The context every operation starts from: a loaded profile with its state directory,
and the sets of a repository as this host knows them.

It imports no operation, so every operation can import it.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime

from orchestrator.engines import open_engine
from orchestrator.engines.base import Engine
from orchestrator.errors import NotFoundError
from orchestrator.profile.schema import Profile
from orchestrator.sets.manifest import MANIFEST_FILE, Manifest, read_manifest
from orchestrator.sets.naming import PRODUCT_TAG, BackupSet, Selection, group_sets, select
from orchestrator.sets.state import StateDir, state_dir
from orchestrator.sets.vault_check import check_vaults, homes_of


class Session:
    """A loaded profile with its state directory: what every operation starts from."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.state = StateDir(state_dir(profile))
        # The audit chain's head (seq, sha256) a new set records as its anchor. The access
        # layer owns the audit log and sets this; without it a set records no anchor.
        self.audit_head: Callable[[], tuple[int, str]] | None = None
        # Asks for a vault's password at a terminal (the CLI sets it when it may prompt).
        self.ask_vault_password: Callable[[str], str] | None = None

    def engine(self, destination: str | None) -> tuple[str, Engine]:
        name, repository = self.profile.repository(destination)
        return name, open_engine(name, repository, self.state.root)

    @property
    def host(self) -> str:
        return self.profile.host or socket.gethostname()




STOPPED = ("interrupted (", "terminated by ")  # how make.py words a run that was stopped


def load_sets(session: Session, engine: Engine, url: str) -> list[BackupSet]:
    """The profile's sets in a repository, with this host's interrupted runs added.

    Profile-free (`--repo`): the sets of every profile, and no runs of this host."""
    if session.profile.profile_free:
        sets = group_sets(engine.snapshots([PRODUCT_TAG]))
        check_vaults(session.profile, session.state.root, sets,
                     homes_of(session.profile, engine.repository_name))
        return sets
    profile = session.profile.profile_name
    # The listing of every profile's sets serves other_profiles too, in the same run.
    sets = group_sets([snap for snap in engine.snapshots([PRODUCT_TAG])
                       if f"profile={profile}" in snap.tags])
    known = {entry.name for entry in sets}
    for record in session.state.runs(url, profile):
        if record.status == "complete" or record.set in known:
            continue
        started = datetime.fromisoformat(record.started)
        what = "was interrupted" if record.status == "running" else "failed"
        detail = f": {record.error}" if record.error else ""
        sets.append(
            BackupSet(
                name=record.set, base=record.set.rsplit("-", 2)[0], type=record.type,
                profile=profile, time=started, services=tuple(record.services),
                problem=(record.error if record.error and record.error.startswith(
                    STOPPED) else f"the run {what}{detail}")[:300],
            )
        )
    check_vaults(session.profile, session.state.root, sets,
                 homes_of(session.profile, engine.repository_name))
    sized = {record.set: record.bytes for record in session.state.runs(url, profile)}
    for entry in sets:
        if entry.size is None:
            entry.size = sized.get(entry.name)
    return sorted(sets, key=lambda entry: (entry.time, entry.name))


def other_profiles(session: Session, engine: Engine, repo_name: str) -> str | None:
    """When the profile has no set in a repository holding other profiles' sets, the
    sentence that says so; None otherwise."""
    if session.profile.profile_free:
        return None
    counts = Counter(entry.profile for entry in group_sets(engine.snapshots([PRODUCT_TAG])))
    if not counts:
        return None
    held = ", ".join(f"{name} ({count})" for name, count in sorted(counts.items()))
    return (f"no sets of profile {session.profile.profile_name!r} in {repo_name}; "
            f"the repository holds sets of: {held}")


def choose_set(session: Session, engine: Engine, repo_name: str, sets: Sequence[BackupSet],
               backup: str | None, timestamp: datetime | None = None) -> BackupSet:
    """select_set; when the profile has no set at all, the error names the profiles that
    have some."""
    return choose(session, engine, repo_name, sets, backup, timestamp).chosen


def choose(session: Session, engine: Engine, repo_name: str, sets: Sequence[BackupSet],
           backup: str | None, timestamp: datetime | None = None, name: str | None = None,
           set_type: str | None = None) -> Selection:
    """naming.select, with the reason; when the profile has no set at all, the error names
    the profiles that have some."""
    try:
        return select(sets, backup, timestamp, name, set_type)
    except NotFoundError:
        note = None if sets else other_profiles(session, engine, repo_name)
        if note is None:
            raise
        raise NotFoundError(note) from None


def set_manifest(session: Session, engine: Engine, chosen: BackupSet) -> Manifest:
    """A complete set's manifest, located in this repository: this host's staged copy
    when the set's tags prove it the same, else read from the repository."""
    assert chosen.final is not None  # select returns complete sets only
    staged = session.state.staging(chosen.base) / MANIFEST_FILE
    return read_manifest(engine, chosen.final, chosen.base, staged).located(chosen.parts)
