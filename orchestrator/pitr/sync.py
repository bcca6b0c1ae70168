"""backup-sync and the continuous family: its base backups and WAL batches copied to
another repository with the engine's copy (or, between engines or repositories that
need different values of one variable, through two processes each), beside (or, with
`--backup continuous`, instead of) the sets.

Order keeps the target usable at every moment: WAL batches first, then base data parts,
then base info parts, which are what make a base complete (a base whose info part did
not arrive is not listed and never restored). Snapshots already at the target (the same
kind and names) are not copied again, so a sync killed midway is completed by the next."""

from __future__ import annotations

import logging

from orchestrator.engines.base import Engine, Snapshot
from orchestrator.errors import UsageError
from orchestrator.models import BackupSyncRequest, BackupSyncResult
from orchestrator.pitr.archive import BASE_INFO_KIND, BASE_KIND, WAL_KIND
from orchestrator.pitr.listing import has_continuous
from orchestrator.pitr.service import FAMILY
from orchestrator.sets.migrate import copy_stream, two_processes
from orchestrator.sets.naming import PRODUCT_TAG
from orchestrator.sets.session import Session
from orchestrator.sets.sync import backup_sync

log = logging.getLogger("strongroom")
CONTINUOUS = "continuous"
KINDS = (WAL_KIND, BASE_KIND, BASE_INFO_KIND)


def sync_sets_and_continuous(session: Session, request: BackupSyncRequest) -> BackupSyncResult:
    """`--backup continuous`: the continuous family alone; the default (every set, or
    --all): the sets, then the continuous family; one set or --since: the sets alone."""
    profile = session.profile
    if request.backup == CONTINUOUS:
        if request.all or request.since:
            raise UsageError("--backup continuous copies the whole continuous family: drop "
                             + ("--all" if request.all else "--since"))
        source_name, source = session.engine(request.from_)
        target_name, target = session.engine(request.to)
        if source_name == target_name:
            raise UsageError(f"--from and --to are both {source_name!r}")
        created = target.init() if two_processes(source, target) else target.init_like(source)
        result = BackupSyncResult(source=source_name, target=target_name, created=created,
                                  copied=[], skipped=[], snapshots=0)
    else:
        result = backup_sync(session, request)
        if request.backup or request.since or not has_continuous(profile):
            return result
        source, target = session.engine(request.from_)[1], session.engine(request.to)[1]
    copied, present = sync_continuous(source, target, profile.profile_name)
    result.continuous_copied, result.continuous_present = copied, present
    result.snapshots += copied
    return result


def identity(snap: Snapshot) -> tuple[str | None, ...]:
    """What makes a continuous snapshot the same one in another repository."""
    return (snap.tag("profile"), snap.tag("service"), snap.tag("kind"), snap.tag("base"),
            snap.tag("first"), snap.tag("last"))


def sync_continuous(source: Engine, target: Engine, profile: str) -> tuple[int, int]:
    """(snapshots copied, snapshots already there) of the profile's continuous family."""
    tags = [PRODUCT_TAG, f"family={FAMILY}", f"profile={profile}"]
    there = {identity(snap) for snap in target.snapshots(tags)}
    wanted = source.snapshots(tags)
    copied = present = 0
    streamed = two_processes(source, target)
    for kind in KINDS:
        missing = []
        for snap in wanted:
            if snap.tag("kind") != kind:
                continue
            if identity(snap) in there:
                present += 1
            else:
                missing.append(snap)
        if missing:
            log.info("copying %d continuous %s snapshot(s)", len(missing), kind)
            if streamed:  # each is one stream: through two processes, as sets.migrate does
                for snap in missing:
                    copy_stream(source, target, kind, snap, None)
            else:
                target.copy_from(source, [snap.id for snap in missing])
            copied += len(missing)
    return copied, present
