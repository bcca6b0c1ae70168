"""The operations, one function per tool. The CLI and the MCP server only call these.

Nothing here prints: results are returned as models, progress goes to callbacks,
and detail goes to the `strongroom` logger.
"""

from __future__ import annotations

import logging
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

from orchestrator import __version__
from orchestrator.engines import open_engine
from orchestrator.engines.base import Engine, ProgressCallback
from orchestrator.errors import StrongroomError, UsageError
from orchestrator.layout import SourcePath, anchored_excludes, check_sources_exist, plan_sources
from orchestrator.manifest import LOG_FILE, MANIFEST_FILE, Manifest, paths_from, read_manifest
from orchestrator.models import (
    BackupFilesRequest,
    BackupSetInfo,
    CreateBackupRequest,
    CreateBackupResult,
    InitRequest,
    InitResult,
    ListBackupsRequest,
    ListBackupsResult,
    PartResult,
)
from orchestrator.profile import Profile
from orchestrator.sets import FILES_PART, PRODUCT_TAG, BackupSet, group_sets, set_name, set_tags
from orchestrator.state import RunRecord, StateDir, state_dir, write_atomic

log = logging.getLogger("strongroom")


class Session:
    """A loaded profile with its state directory: what every operation starts from."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.state = StateDir(state_dir(profile))

    def engine(self, destination: str | None) -> tuple[str, Engine]:
        name, repository = self.profile.repository(destination)
        return name, open_engine(name, repository, self.state.root)

    @property
    def host(self) -> str:
        return self.profile.host or socket.gethostname()


def init(session: Session, request: InitRequest) -> list[InitResult]:
    names = [request.destination] if request.destination else list(session.profile.repositories)
    results = []
    for name in names:
        repo_name, engine = session.engine(name)
        created = engine.init()
        log.info("repository %s: %s", repo_name, "created" if created else "already exists")
        results.append(
            InitResult(destination=repo_name, url=session.profile.repositories[repo_name].url,
                       created=created)
        )
    return results


def create_backup(
    session: Session, request: CreateBackupRequest, on_progress: ProgressCallback | None = None
) -> CreateBackupResult:
    request = _apply_schedule(session.profile, request)
    sources = plan_sources(session.profile, request.type, request.services, request.include_data)
    services = sorted({item.service for item in sources if item.service})
    base = request.name or request.schedule or request.type
    return _make_set(session, request, base, sources, services, on_progress)


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
    return _make_set(session, create, create.name or "files", sources, [], on_progress,
                     set_type="files")


def _files_logical(paths: list[Path]) -> list[str]:
    from orchestrator.layout import logical_paths

    return logical_paths("files", paths)


def _apply_schedule(profile: Profile, request: CreateBackupRequest) -> CreateBackupRequest:
    if request.schedule is None:
        return request
    schedule = profile.schedules.get(request.schedule)
    if schedule is None:
        have = ", ".join(profile.schedules) or "none"
        raise UsageError(f"no schedule named {request.schedule!r} in the profile (have: {have})")
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


class _RunLog(logging.Handler):
    """Collects this run's log lines for the set's logs/backup.log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _make_set(
    session: Session,
    request: CreateBackupRequest,
    base: str,
    sources: list[SourcePath],
    services: list[str],
    on_progress: ProgressCallback | None,
    set_type: str | None = None,
) -> CreateBackupResult:
    profile = session.profile
    repo_name, repository = profile.repository(request.destination)
    if not request.encrypt and repository.engine == "restic":
        raise UsageError(
            "restic repositories are always encrypted (AES-256); --no-encrypt cannot be honoured"
        )
    if not sources:
        raise UsageError(f"nothing to back up: the profile names no paths for a {request.type} set")
    check_sources_exist(sources)
    _, engine = session.engine(repo_name)
    started, name = _claim_set_name(session, base)
    kind = set_type or request.type
    clock = time.monotonic()
    record = RunRecord(
        set=name, repository=repo_name, url=repository.url, profile=profile.profile_name,
        type=kind, started=started.isoformat(), services=services,
    )
    run_log = _RunLog()
    if log.getEffectiveLevel() > logging.INFO:
        log.setLevel(logging.INFO)  # the set's own log wants INFO even when stderr does not
    log.addHandler(run_log)
    try:
        session.state.save_run(record)
        log.info("set %s: %d path(s) into %s (%s)", name, len(sources), repo_name, repository.url)
        for item in sources:
            log.info("  %s -> %s", item.source, item.logical)
        manifest = Manifest(
            set=name, name=base, type=kind, profile=profile.profile_name, host=session.host,
            started=started, services=services, include_data=request.include_data,
            compress=request.compress, paths=paths_from(sources),
            tools={"strongroom": __version__, "engine": str(engine.version())},
        )
        staging = session.state.staging(base)
        write_atomic(staging / MANIFEST_FILE, manifest.to_bytes())
        write_atomic(staging / LOG_FILE, ("\n".join(run_log.lines) + "\n").encode())
        excludes = [pattern for item in sources for pattern in item.excludes]
        summary = engine.backup_paths(
            [item.source for item in sources] + [str(staging)],
            tags=set_tags(name, FILES_PART, kind, profile.profile_name, services, streams=0),
            time=started, host=session.host, excludes=excludes,
            compression="auto" if request.compress else "off", on_progress=on_progress,
        )
        if summary.unreadable:
            engine.add_tags([summary.snapshot_id], ["status=incomplete"])
            shown = "\n".join(f"  {line}" for line in summary.unreadable[:20])
            raise StrongroomError(
                f"set {name} is incomplete: {len(summary.unreadable)} item(s) could not be "
                f"read:\n{shown}"
            )
        verified = False
        if request.verify:
            _verify_manifest(engine, summary.snapshot_id, staging, manifest)
            verified = True
        record.status, record.snapshot_id, record.bytes = "complete", summary.snapshot_id, (
            summary.total_bytes
        )
        session.state.save_run(record)
    except BaseException as exc:
        record.status = "failed"
        record.error = exc.message if isinstance(exc, StrongroomError) else type(exc).__name__
        session.state.save_run(record)
        raise
    finally:
        log.removeHandler(run_log)
    return CreateBackupResult(
        set=name, id=summary.snapshot_id[:8], type=kind, profile=profile.profile_name,
        destination=repo_name, time=started, services=services, paths=len(sources),
        parts=[PartResult(part=FILES_PART, snapshot_id=summary.snapshot_id,
                          files=summary.total_files, bytes=summary.total_bytes,
                          bytes_added=summary.data_added)],
        files=summary.total_files, bytes=summary.total_bytes, bytes_added=summary.data_added,
        duration=round(time.monotonic() - clock, 3), encrypted=True,
        compressed=request.compress, verified=verified,
    )


def _claim_set_name(session: Session, base: str) -> tuple[datetime, str]:
    """A time and a set name no other run on this host has; waits out a same-second clash."""
    for _ in range(5):
        now = datetime.now(UTC)
        started = now.replace(microsecond=0)
        name = set_name(base, started)
        if session.state.claim_run(name):
            return started, name
        time.sleep(1.0 - now.microsecond / 1_000_000 + 0.01)
    raise StrongroomError(f"cannot find a free set name for {base!r}: is another run looping?")


def _verify_manifest(engine: Engine, snapshot_id: str, staging: Path, manifest: Manifest) -> None:
    """The final part exists and its manifest reads back byte for byte."""
    stored = engine.dump(snapshot_id, f"{staging}/{MANIFEST_FILE}")
    if stored != manifest.to_bytes():
        raise StrongroomError(
            f"verification failed: the manifest in snapshot {snapshot_id[:8]} does not match"
        )


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


def list_backups(session: Session, request: ListBackupsRequest) -> ListBackupsResult:
    repo_name, engine = session.engine(request.destination)
    url = session.profile.repositories[repo_name].url
    chosen = []
    for entry in load_sets(session, engine, url):
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
                services=list(entry.services), parts=len(entry.parts), size=entry.size,
                status="complete" if entry.complete else "incomplete", problem=entry.problem,
            )
        )
    return ListBackupsResult(destination=repo_name, backups=chosen)


def _aware(moment: datetime) -> datetime:
    return moment.astimezone() if moment.tzinfo is None else moment


__all__ = ["Session", "backup_files", "create_backup", "init", "list_backups", "read_manifest"]
