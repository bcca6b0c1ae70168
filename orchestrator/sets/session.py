"""The context every operation starts from: a loaded profile with its state directory,
and the sets of a repository as this host knows them.

It imports no operation, so every operation can import it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import datetime

from orchestrator.engines import open_engine
from orchestrator.engines.base import Engine
from orchestrator.profile.schema import Profile
from orchestrator.sets.naming import PRODUCT_TAG, BackupSet, group_sets
from orchestrator.sets.state import StateDir, state_dir


class Session:
    """A loaded profile with its state directory: what every operation starts from."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.state = StateDir(state_dir(profile))
        # The audit chain's head (seq, sha256) a new set records as its anchor. The access
        # layer owns the audit log and sets this; without it a set records no anchor.
        self.audit_head: Callable[[], tuple[int, str]] | None = None

    def engine(self, destination: str | None) -> tuple[str, Engine]:
        name, repository = self.profile.repository(destination)
        return name, open_engine(name, repository, self.state.root)

    @property
    def host(self) -> str:
        return self.profile.host or socket.gethostname()




def load_sets(session: Session, engine: Engine, url: str) -> list[BackupSet]:
    """The profile's sets in a repository, with this host's interrupted runs added."""
    profile = session.profile.profile_name
    sets = group_sets(engine.snapshots([PRODUCT_TAG, f"profile={profile}"]))
    known = {entry.name for entry in sets}
    for record in session.state.runs(url, profile):
        if record.status == "complete" or record.set in known:
            continue
        started = datetime.fromisoformat(record.started)
        what = "interrupted" if record.status == "running" else "failed"
        detail = f": {record.error}" if record.error else ""
        sets.append(
            BackupSet(
                name=record.set, base=record.set.rsplit("-", 2)[0], type=record.type,
                profile=profile, time=started, services=tuple(record.services),
                problem=f"the run {what}{detail}"[:300],
            )
        )
    sized = {record.set: record.bytes for record in session.state.runs(url, profile)}
    for entry in sets:
        if entry.size is None:
            entry.size = sized.get(entry.name)
    return sorted(sets, key=lambda entry: (entry.time, entry.name))
