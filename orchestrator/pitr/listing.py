"""list-backups and the continuous family: one summary per service (its base backups with
their WAL range, and the span of its WAL archive) beside the sets, read from tags alone."""

from __future__ import annotations

from collections import defaultdict

from orchestrator.engines.base import Engine, Snapshot
from orchestrator.models import (
    ContinuousBaseInfo,
    ContinuousInfo,
    ListBackupsRequest,
    ListBackupsResult,
)
from orchestrator.pitr.archive import bases_in, batches_in
from orchestrator.pitr.service import FAMILY
from orchestrator.profile.schema import Profile
from orchestrator.sets.create import list_backups
from orchestrator.sets.naming import PRODUCT_TAG
from orchestrator.sets.session import Session


def list_backups_and_continuous(session: Session, request: ListBackupsRequest
                                ) -> ListBackupsResult:
    """The sets, and the continuous family unless the request asks for sets of a name or
    type (words that only sets have)."""
    result = list_backups(session, request)
    profile = session.profile
    if request.name or request.type or not (profile.profile_free or has_continuous(profile)):
        return result
    _, engine = session.engine(request.destination)
    result.continuous = continuous_families(
        engine, None if profile.profile_free else profile.profile_name, request.service)
    return result


def has_continuous(profile: Profile) -> bool:
    return any(hook.type == "postgresql" and hook.model_dump().get("continuous")
               for spec in profile.services.values() for hook in spec.hooks)


def continuous_families(engine: Engine, profile: str | None, service: str | None
                        ) -> list[ContinuousInfo]:
    """Per (profile, service): the continuous family's summary; `profile` None: every
    profile's (a repository read without a profile)."""
    tags = [PRODUCT_TAG, f"family={FAMILY}", *([f"profile={profile}"] if profile else [])]
    groups: dict[tuple[str, str], list[Snapshot]] = defaultdict(list)
    for snap in engine.snapshots(tags):
        owner, name = snap.tag("profile"), snap.tag("service")
        if owner and name and (service is None or name == service):
            groups[(owner, name)].append(snap)
    return [summary(owner, name, snaps) for (owner, name), snaps in sorted(groups.items())]


def summary(profile: str, service: str, snaps: list[Snapshot]) -> ContinuousInfo:
    bases = bases_in(snaps)
    batches = batches_in(snaps)
    segment_names = sorted(name for batch in batches for name in (batch.seg_first, batch.seg_last)
                           if name is not None)
    return ContinuousInfo(
        profile=profile, service=service,
        bases=[ContinuousBaseInfo(base=base.name, time=base.finished, timeline=base.timeline,
                                  start_wal=base.start_wal, stop_wal=base.stop_wal,
                                  size=base.data.total_bytes) for base in bases],
        wal_batches=len(batches), wal_segments=sum(batch.segments for batch in batches),
        first_wal=segment_names[0] if segment_names else None,
        last_wal=segment_names[-1] if segment_names else None,
        first_archived=batches[0].newest if batches else None,
        last_archived=batches[-1].newest if batches else None,
        recoverable_from=bases[0].finished if bases else None)
