"""init, create-backup, backup-files, backup-database and list-backups.

Nothing here prints: results are returned as models, progress goes to callbacks,
and detail goes to the `strongroom` logger. A scheduled run's follow-ups (its
retention, its sync_to copies) are the schedule package's: see schedule/run.py.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from hooks import hook_for, parse_config
from hooks.base import DumpPlan
from orchestrator.engines.base import ProgressCallback
from orchestrator.errors import UsageError
from orchestrator.models import (
    BackupDatabaseRequest,
    BackupFilesRequest,
    BackupSetInfo,
    CreateBackupRequest,
    CreateBackupResult,
    InitRequest,
    InitResult,
    ListBackupsRequest,
    ListBackupsResult,
)
from orchestrator.profile.schema import Profile
from orchestrator.profile.urls import shown_url
from orchestrator.sets.dumps import (
    NON_DATABASE_HOOKS,
    HookRef,
    hook_refs,
    plan_refs,
    plan_streams,
)
from orchestrator.sets.layout import SourcePath, anchored_excludes, plan_sources
from orchestrator.sets.make import make_set
from orchestrator.sets.manifest import read_manifest
from orchestrator.sets.naming import DRILL_PART
from orchestrator.sets.session import Session, load_sets, other_profiles

log = logging.getLogger("strongroom")


def init(session: Session, request: InitRequest) -> list[InitResult]:
    names = [request.destination] if request.destination else list(session.profile.repositories)
    results = []
    for name in names:
        repo_name, engine = session.engine(name)
        created = engine.init()
        log.info("repository %s: %s", repo_name, "created" if created else "already exists")
        results.append(
            InitResult(destination=repo_name, created=created,
                       url=shown_url(session.profile.repositories[repo_name].url))
        )
    return results


def create_backup(
    session: Session, request: CreateBackupRequest, on_progress: ProgressCallback | None = None
) -> CreateBackupResult:
    request = _apply_schedule(session.profile, request)
    sources = plan_sources(session.profile, request.type, request.services, request.include_data)
    chosen = request.services or list(session.profile.services)
    with_hooks = [name for name in chosen if session.profile.services[name].hooks]
    services = sorted({item.service for item in sources if item.service} | set(
        with_hooks if request.type != "config" else []))
    base = request.name or request.schedule or request.type

    def plan() -> list[DumpPlan]:
        return plan_streams(session.profile, request.type, chosen, request.include_data)

    return make_set(session, request, base, sources, services, on_progress, plan_dumps=plan)


def backup_files(
    session: Session, request: BackupFilesRequest, on_progress: ProgressCallback | None = None
) -> CreateBackupResult:
    paths = [Path(p).expanduser().absolute() for p in request.paths]
    sources = [
        SourcePath(str(path), logical, "config", "files",
                   anchored_excludes(str(path), request.exclude))
        for path, logical in zip(paths, _files_logical(paths), strict=True)
    ]
    create = CreateBackupRequest(
        type="config", name=request.name or "files", destination=request.destination,
        compress=request.compress, verify=request.verify,
    )
    return make_set(session, create, create.name or "files", sources, [], on_progress,
                     set_type="files")


def backup_database(
    session: Session, request: BackupDatabaseRequest, on_progress: ProgressCallback | None = None
) -> CreateBackupResult:
    """A set of just database dumps: a service's hooks, or one database named ad hoc."""
    profile = session.profile
    if request.service:
        if request.service not in profile.services:
            have = ", ".join(profile.services) or "none"
            raise UsageError(f"unknown service {request.service!r} (profile has: {have})")
        refs = [ref for ref in hook_refs(profile, [request.service])
                if ref.kind not in NON_DATABASE_HOOKS]
        if not refs:
            raise UsageError(f"service {request.service!r} has no database hooks")
        service = request.service
    elif request.type:
        if not request.database:
            raise UsageError("--type needs --database NAME (a file path for sqlite)")
        service = "databases"
        refs = [_adhoc_hook(request)]
    else:
        raise UsageError("say what to dump: --service NAME, or --type TYPE --database NAME")
    wanted = set(request.database) if request.service else set()

    def plan() -> list[DumpPlan]:
        plans = plan_refs(profile, refs)
        chosen = [p for p in plans if not wanted or p.database in wanted]
        missing = wanted - {p.database for p in chosen}
        if missing:
            raise UsageError(f"no such database in service {service}: {', '.join(sorted(missing))}")
        return chosen

    base = request.name or f"{service}-db"
    create = CreateBackupRequest(type="service", name=base, destination=request.destination,
                                 verify=request.verify)
    return make_set(session, create, base, [], [service], on_progress, set_type="database",
                    plan_dumps=plan)


def _adhoc_hook(request: BackupDatabaseRequest) -> HookRef:
    entry: dict[str, object] = {"type": request.type}
    if request.type == "sqlite":
        if len(request.database) != 1:
            raise UsageError("--type sqlite takes one --database PATH")
        entry["path"] = str(Path(request.database[0]).expanduser().absolute())
    else:
        entry["databases"] = list(request.database)
    for key in ("host", "port", "username", "password_file"):
        value = getattr(request, key)
        if value is not None:
            entry[key] = value
    if request.type == "mongodb":
        entry = {"type": "mongodb", "databases": list(request.database),
                 "uri_file": request.password_file}
    try:
        config = parse_config(entry)
    except ValidationError as exc:
        raise UsageError(f"--type {request.type}: {exc.errors()[0]['msg']}") from None
    kind = str(request.type)
    return HookRef("databases", 0, kind, hook_for(kind), config)


def _files_logical(paths: list[Path]) -> list[str]:
    from orchestrator.sets.layout import logical_paths

    return logical_paths("files", paths)


def _apply_schedule(profile: Profile, request: CreateBackupRequest) -> CreateBackupRequest:
    if request.schedule is None:
        return request
    schedule = profile.schedules.get(request.schedule)
    if schedule is None:
        have = ", ".join(profile.schedules) or "none"
        raise UsageError(f"no schedule named {request.schedule!r} in the profile (have: {have})")
    if schedule.type == "drill":
        raise UsageError(f"schedule {request.schedule!r} is a drill: run it with "
                         f"strongroom drill --schedule {request.schedule}")
    return request.model_copy(
        update={
            "type": schedule.type,
            "services": request.services or schedule.services,
            "include_data": request.include_data or schedule.include_data,
            "destination": request.destination or schedule.destination,
            "name": request.name or schedule.name or request.schedule,
            "verify": request.verify and schedule.verify,
        }
    )


def list_backups(session: Session, request: ListBackupsRequest) -> ListBackupsResult:
    repo_name, engine = session.engine(request.destination)
    url = session.profile.repositories[repo_name].url
    chosen = []
    sets = load_sets(session, engine, url)
    from orchestrator.sets.drill import last_drills  # the drill's checks: not for a backup

    drilled_here = last_drills(session, url)
    for entry in sets:
        if not request.all and not entry.complete:
            continue
        if request.name and request.name not in (entry.base, entry.name):
            continue
        if request.type and entry.type != request.type:
            continue
        if request.service and request.service not in entry.services:
            continue
        if request.since and entry.time < _aware(request.since):
            continue
        if request.until and entry.time > _aware(request.until):
            continue
        chosen.append(
            BackupSetInfo(
                set=entry.name, id=entry.id, name=entry.base, type=entry.type,
                profile=entry.profile, host=entry.host, time=entry.time,
                services=list(entry.services), parts=len(entry.parts) - (DRILL_PART in entry.parts),
                size=entry.size,
                status=("incomplete" if not entry.complete else "unchecked" if entry.unchecked
                        else "complete"), problem=entry.problem or entry.unchecked,
                drill=entry.drill, drilled=entry.drilled,
                repositories=[repo_name, *map(entry.home, entry.vaults)],
            )
        )
        here = drilled_here.get(entry.name)
        if here is not None and (chosen[-1].drilled is None or here.started > chosen[-1].drilled):
            # the repository could not take the record (read-only, say): this host's counts
            chosen[-1].drill, chosen[-1].drilled = ("ok" if here.ok else "failed"), here.started
    return ListBackupsResult(
        destination=repo_name, backups=chosen, all_profiles=session.profile.profile_free,
        note=None if sets else other_profiles(session, engine, repo_name))


def _aware(moment: datetime) -> datetime:
    return moment.astimezone() if moment.tzinfo is None else moment


__all__ = ["Session", "backup_files", "create_backup", "init", "list_backups", "read_manifest"]
