"""A scheduled create-backup: the set, then its schedule's retention, then its sync_to.

The set itself is made by sets.create; what a schedule adds once the set is safely
stored lives here, above sets, so that sets never imports retention or scheduling.
"""

from __future__ import annotations

from orchestrator.engines.base import ProgressCallback
from orchestrator.errors import StrongroomError
from orchestrator.models import (
    ApplyRetentionRequest,
    BackupSyncRequest,
    CreateBackupRequest,
    CreateBackupResult,
)
from orchestrator.schedule.apply import apply_retention
from orchestrator.schedule.retention import Policy
from orchestrator.sets.create import create_backup
from orchestrator.sets.session import Session
from orchestrator.sets.sync import backup_sync


def create_scheduled_backup(
    session: Session, request: CreateBackupRequest, on_progress: ProgressCallback | None = None
) -> CreateBackupResult:
    """create-backup --schedule NAME: the schedule's set, retention and copies."""
    assert request.schedule is not None
    result = create_backup(session, request, on_progress)
    try:
        result.removed_by_retention = _scheduled_retention(session, request.schedule)
    except StrongroomError as exc:
        raise StrongroomError(f"{result.set} was stored and verified, but applying the "
                              f"retention of schedule {request.schedule!r} failed: "
                              f"{exc.message}", hint=exc.hint) from exc
    for target in session.profile.schedules[request.schedule].sync_to:
        _scheduled_sync(session, result, target)
    return result


def _scheduled_sync(session: Session, result: CreateBackupResult, target: str) -> None:
    """Copy the new set to an off-site repository (the schedule's sync_to)."""
    try:
        backup_sync(session, BackupSyncRequest.model_validate(
            {"from": result.destination, "to": target, "backup": result.set}))
    except StrongroomError as exc:
        raise StrongroomError(f"{result.set} was stored and verified in {result.destination}, "
                              f"but copying it to {target!r} failed: {exc.message}",
                              hint=exc.hint) from exc
    result.synced_to.append(target)


def _scheduled_retention(session: Session, schedule: str) -> list[str]:
    """A scheduled run applies its schedule's retention once the set is safely stored."""
    if Policy.for_schedule(session.profile, schedule).empty:
        return []
    applied = apply_retention(session, ApplyRetentionRequest(schedule=schedule))
    return [item.set for item in applied.sets if not item.keep]
