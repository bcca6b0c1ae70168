"""The tools: one registry that the CLI and the MCP server both call through.

Each tool has a request model (its input schema), the service function behind it,
and whether it is audited. `invoke` applies the profile's access rules, runs the
operation, and appends the audit line whatever the outcome.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from orchestrator import models
from orchestrator.access import audit
from orchestrator.access import operations as ops
from orchestrator.access.anchors import profile_key
from orchestrator.access.paths import confine, is_confined
from orchestrator.engines.base import ProgressCallback
from orchestrator.errors import AccessDenied, StrongroomError, UsageError
from orchestrator.observe.watch import watched
from orchestrator.sets.session import Session

Operation = Callable[[Session, Any, ProgressCallback | None], BaseModel]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    request_model: str  # the name in orchestrator.models, resolved on use (lazy imports)
    run: Operation
    audited: bool = True
    # Runs that write sets or remove them hold the profile's lock: two never overlap.
    locked: bool = False
    # Offered over MCP; a CLI-only tool (a repository's keys) is refused to MCP callers.
    mcp: bool = True

    @property
    def request(self) -> type[BaseModel]:
        model: type[BaseModel] = getattr(models, self.request_model)
        return model


PITR_TOOLS = (
    Tool("pitr-setup", "Turn on WAL archiving of a service's PostgreSQL through strongroom "
         "(ALTER SYSTEM archive_mode, archive_command, archive_timeout); says whether a "
         "restart is needed.", "PitrSetupRequest", ops.pitr_setup),
    Tool("pitr-status", "The archiver's state, the WAL spool's backlog, the last segment "
         "stored and the RPO achieved.", "PitrStatusRequest", ops.pitr_status,
         audited=False),
    Tool("pitr-ship", "Move the spooled WAL into the repository in batches.",
         "ShipRequest", ops.pitr_ship, audited=False),
    Tool("pitr-verify", "Check that the WAL chain from each base backup of the continuous "
         "family has no gap.", "PitrVerifyRequest", ops.pitr_verify),
    Tool("pitr-prune", "Retention of the continuous family: keep the newest base backups and "
         "the WAL they need, forget the rest (dryRun: only report).", "PitrPruneRequest",
         ops.pitr_prune, locked=True),
    Tool("restore-continuous", "Restore a PostgreSQL cluster to a point in time: the latest "
         "base backup before it, replaying archived WAL up to it; needs confirm: true.",
         "PitrRestoreRequest", ops.pitr_restore),
)


TOOLS: dict[str, Tool] = {tool.name: tool for tool in (
    Tool("create-backup", "Create a backup set of the profile (config, full, service or "
         "disaster-recovery).", "CreateBackupRequest", ops.create, locked=True),
    Tool("list-backups", "List the backup sets in a repository, and per continuous "
         "PostgreSQL service its base backups and the span of its WAL archive.",
         "ListBackupsRequest", ops.list, audited=False),
    Tool("restore-backup", "Restore a backup set by name, id or time; needs confirm: true "
         "unless dryRun.", "RestoreBackupRequest", ops.restore),
    Tool("verify-backup", "Verify a backup set: manifest, parts and sizes, the services it "
         "must hold, restic check; deepCheck also re-reads every part.",
         "VerifyBackupRequest", ops.verify),
    Tool("drill", "Rehearse the restore of a backup set without touching live data: files "
         "into a temporary folder, databases under temporary names, volumes into temporary "
         "volumes, all checked, timed (RTO) and removed; the result is recorded in the set.",
         "DrillRequest", ops.drill),
    Tool("download-backup", "Export a backup set as ZIP, tar.gz or tar.xz (optionally "
         "encrypted).", "DownloadBackupRequest", ops.download),
    Tool("schedule-backup", "Schedule automated backups: add a schedule to the profile and "
         "install its systemd timer or cron entry (action add), list the schedules with "
         "their next and last runs (list), or remove one (remove).",
         "ScheduleBackupRequest", ops.schedule),
    Tool("backup-database", "Dump databases into the repository as a set.",
         "BackupDatabaseRequest", ops.database, locked=True),
    Tool("backup-files", "Back up ad-hoc files and directories as a set.",
         "BackupFilesRequest", ops.files, locked=True),
    Tool("backup-containers", "Back up container images and volumes (podman or docker) as "
         "a set.", "BackupContainersRequest", ops.containers, locked=True),
    Tool("backup-vm-snapshot", "Snapshot VM disks (qcow2, raw, …) into the repository as a "
         "set of raw images.", "BackupVmSnapshotRequest", ops.vm, locked=True),
    Tool("backup-compare", "Compare two backup sets part by part: files added, removed and "
         "modified, streams whose digest changed.", "BackupCompareRequest", ops.compare,
         audited=False),
    Tool("backup-migrate", "Convert a backup set to an archive format (toFormat), or copy "
         "it into another repository of any engine (to; refused when the target holds the "
         "set already), or import an export or a plain zip/tar into one (fromArchive, to).",
         "BackupMigrateRequest", ops.migrate, locked=True),
    Tool("backup-encrypt", "Encrypt an existing plain export (archive: ZIP → AES-256 ZIP, "
         "tar.* → the encrypted envelope), or move backup sets under another repository's "
         "master key (backupName / all / since, to; forgetSource removes them from the "
         "source once every part is verified in the target).", "BackupEncryptRequest",
         ops.encrypt, locked=True),
    Tool("apply-retention", "Apply the schedules' retention: forget the sets no rule keeps, "
         "then prune (dryRun: only report).", "ApplyRetentionRequest", ops.retention,
         locked=True),
    Tool("backup-sync", "Copy backup sets between repositories (restic copy): one set, those "
         "since a time, or every complete set and the continuous family (backup: continuous "
         "for that family alone); sets arrive whole, and what is already there is skipped.",
         "BackupSyncRequest", ops.sync, locked=True),
    Tool("key-list", "A repository's keys (passwords).", "KeyListRequest", ops.keys,
         audited=False, mcp=False),
    Tool("key-change", "Add, remove or rotate a repository's key.", "KeyChangeRequest",
         ops.keys, locked=True, mcp=False),
    Tool("status", "Health at a glance: per schedule the last run and success against its "
         "RPO, per repository whether it answers and what it holds; overall OK, WARN or "
         "FAIL with the reasons (probe: false reads only this host's records).",
         "StatusRequest", ops.status, audited=False),
    Tool("report", "Success metrics of a window (since: 30d): completion rate, mean run "
         "time, time to repair, achieved RPO per schedule against its target, verification "
         "pass rate, storage efficiency, and compliance findings.",
         "ReportRequest", ops.report, audited=False),
    Tool("recover", "Rebuild the host from a disaster-recovery set of this profile: the "
         "profile files first, then files, databases, containers, VM disks and schedules in "
         "that order, with a report (RTO, RPO, follow-up). Only dryRun unless the role has "
         "unattended_recover.", "RecoverRequest", ops.recover),
    *PITR_TOOLS,
)}


def _named(request: BaseModel, name: str) -> bool:
    """Whether the request is of a model so named: tested before isinstance, so that a
    request of another tool does not import that model's module."""
    return any(cls.__name__ == name for cls in type(request).__mro__)


def check_access(session: Session, role: str | None, tool: str, request: BaseModel,
                 origin: str = "cli") -> None:
    access = session.profile.access
    unattended = recover_allowed = False
    if role is not None:
        spec = access.roles.get(role)
        if spec is None:
            have = ", ".join(access.roles) or "none"
            raise AccessDenied(f"no role named {role!r} in the profile's [access.roles] "
                               f"(have: {have})")
        if "*" not in spec.tools and tool not in spec.tools:
            raise AccessDenied(f"role {role!r} may not use {tool} (allowed: "
                               f"{', '.join(spec.tools) or 'nothing'})")
        name = session.profile.profile_name
        if "*" not in spec.profiles and name not in spec.profiles:
            raise AccessDenied(f"role {role!r} may not use profile {name!r}")
        unattended = spec.unattended_restore
        recover_allowed = spec.unattended_recover
    if _named(request, "PitrRestoreRequest") and isinstance(
            request, models.PitrRestoreRequest) and not (request.confirm or unattended):
        raise AccessDenied("restore-continuous writes a data directory: call it again with "
                           "confirm: true")
    if _named(request, "RestoreBackupRequest") and isinstance(
            request, models.RestoreBackupRequest) and not (
            request.dry_run or request.confirm or unattended):
        raise AccessDenied("restore-backup overwrites data: call it again with confirm: true "
                           "(or dryRun: true to see the plan first)")
    if _named(request, "RecoverRequest") and isinstance(
            request, models.RecoverRequest) and is_confined(role, origin) and not (
            request.dry_run or recover_allowed):
        who = f"role {role!r}" if role is not None else "a caller without a role"
        raise AccessDenied(f"recover rewrites the whole host: {who} may only plan it (dryRun: "
                           "true); a role with unattended_recover = true in [access.roles] "
                           "may run it")


def parse(tool: Tool, arguments: dict[str, Any]) -> BaseModel:
    from pydantic import ValidationError

    try:
        return tool.request.model_validate(arguments)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(input)'}: {err['msg']}"
            for err in exc.errors())
        raise UsageError(f"{tool.name}: invalid input: {problems}") from None


def _held(session: Session, tool: Tool) -> AbstractContextManager[None]:
    if not tool.locked:
        return nullcontext()
    from orchestrator.profile.lock import profile_lock
    from orchestrator.profile.timespan import parse_timespan

    return profile_lock(session.state.root, session.profile.profile_name,
                        parse_timespan(session.profile.lock_wait))


def invoke(session: Session, name: str, request: BaseModel, *, role: str | None,
           origin: str, progress: ProgressCallback | None = None) -> BaseModel:
    tool = TOOLS.get(name)
    if tool is None or not tool.mcp and origin != "cli":
        raise UsageError(f"no tool named {name!r}")
    key = profile_key(session.profile)  # an unreadable key_file stops the run before it starts
    session.audit_head = functools.partial(audit.head, session.state.root)
    clock = time.monotonic()
    outcome: dict[str, Any] = {"result": "ok"}
    try:
        check_access(session, role, name, request, origin)
        request = confine(session.profile, session.state.root, role, origin, request)
        # Watched from before the lock: a run that cannot get it is a failure to tell.
        with watched(session, name, request) as watch, _held(session, tool):
            result = tool.run(session, request, progress)
            watch.result = result
        outcome["set"] = getattr(result, "set", None)
        return result
    except BaseException as exc:
        outcome["result"] = "denied" if isinstance(exc, AccessDenied) else "error"
        outcome["error"] = exc.message if isinstance(exc, StrongroomError) else type(
            exc).__name__
        raise
    finally:
        if tool.audited or outcome["result"] == "denied":
            audit.append(session.state.root, {
                "role": role, "tool": name, "profile": session.profile.profile_name,
                "origin": origin,
                "arguments": audit.redact(request.model_dump(mode="json", by_alias=False)),
                **outcome, "duration": round(time.monotonic() - clock, 3),
            }, key=key)
