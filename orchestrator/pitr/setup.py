"""`pitr setup` (archive settings through ALTER SYSTEM, the spool folder) and `pitr
status` (the archiver, the spool, the repository, the RPO achieved)."""

from __future__ import annotations

import os
import shlex
import site
import sys
from datetime import UTC, datetime
from pathlib import Path

from hooks.postgresql import child_env, plain_error, quote_literal, where
from orchestrator import run
from orchestrator.errors import StrongroomError
from orchestrator.models.pitr import (
    PitrSetupRequest,
    PitrSetupResult,
    PitrStatusRequest,
    PitrStatusResult,
)
from orchestrator.pitr import shipper as shipping
from orchestrator.pitr import spool as spooling
from orchestrator.pitr.archive import base_backups, segment_size_tag, wal_batches
from orchestrator.pitr.pgargs import archive_command, psql_argv
from orchestrator.pitr.service import ContinuousService, context_for, continuous_service
from orchestrator.profile.schema import Profile
from orchestrator.schedule.install import Places
from orchestrator.schedule.units import ShipperJob
from orchestrator.sets.session import Session

ARCHIVER = ("SELECT archived_count, coalesce(last_archived_wal, ''), "
            "coalesce(last_archived_time::text, ''), failed_count, "
            "coalesce(last_failed_wal, ''), coalesce(last_failed_time::text, '') "
            "FROM pg_stat_archiver")


SEGMENT_SIZE_QUERY = "SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'"


class PitrError(StrongroomError):
    pass


def strongroom_program() -> list[str]:
    """How PostgreSQL starts this strongroom: this interpreter, with the import path this
    process has when the package is not installed in the interpreter's site-packages."""
    root = str(Path(__file__).resolve().parents[2])
    installed = {str(Path(folder).resolve()) for folder in site.getsitepackages()}
    program = [sys.executable, "-m", "orchestrator"]
    if root in installed:
        return program
    path = os.environ.get("PYTHONPATH") or root
    return ["env", f"PYTHONPATH={path}", *program]


def query(session_profile: Profile, service: ContinuousService, statements: list[str]) -> str:
    env = child_env(service.config, context_for(session_profile))
    command = run.Command(tuple(psql_argv(service.config, statements)), env)
    try:
        return run.run_command(command, timeout=60).stdout.strip()
    except run.CommandError as exc:
        raise PitrError(f"{where(service.config)}: {plain_error(exc.stderr_tail)}") from None


def wal_segment_size(session_profile: Profile, service: ContinuousService) -> int:
    """The cluster's WAL segment size in bytes (initdb --wal-segsize; 16 MiB by default)."""
    text = query(session_profile, service, [SEGMENT_SIZE_QUERY])
    try:
        return segment_size_tag(text)
    except ValueError:
        raise PitrError(f"{where(service.config)}: unexpected wal_segment_size {text[:40]!r}"
                        ) from None


def settings_statements(command: str, timeout: str, wal_level: str) -> list[str]:
    statements = []
    if wal_level == "minimal":
        statements.append("ALTER SYSTEM SET wal_level = 'replica'")
    statements += ["ALTER SYSTEM SET archive_mode = 'on'",
                   f"ALTER SYSTEM SET archive_command = {quote_literal(command)}",
                   f"ALTER SYSTEM SET archive_timeout = {quote_literal(timeout)}"]
    return statements


def _make_spool(service: ContinuousService) -> None:
    """The spool, owned by the cluster's owner (wal-push runs as that user)."""
    owner = service.data_directory.stat()
    service.spool.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.geteuid() == 0:
        os.chown(service.spool, owner.st_uid, owner.st_gid)


def readable_by(path: Path, uid: int, gid: int) -> bool:
    """Whether the user uid (group gid) may read path, by its mode bits alone."""
    try:
        info = path.stat()
    except OSError:
        return False
    if info.st_uid == uid:
        return bool(info.st_mode & 0o400)
    if info.st_gid == gid:
        return bool(info.st_mode & 0o040)
    return bool(info.st_mode & 0o004)


def pitr_setup(session: Session, request: PitrSetupRequest) -> PitrSetupResult:
    service = continuous_service(session.profile, request.service)
    profile_file = session.profile.source_files[0] if session.profile.source_files else None
    if profile_file is None:
        raise PitrError("pitr setup needs a profile file: PostgreSQL's archive_command names it")
    command = archive_command(strongroom_program(), profile_file.resolve(), request.service)
    wal_level, mode, segment_text = query(
        session.profile, service, ["SHOW wal_level", "SHOW archive_mode", SEGMENT_SIZE_QUERY]
    ).splitlines()[:3]
    try:
        segment_size: int | None = segment_size_tag(segment_text.strip())
    except ValueError:
        segment_size = None  # reported as unknown; each base backup reads it again
    statements = settings_statements(command, service.config.archive_timeout, wal_level)
    restart = mode.strip() != "on" or wal_level == "minimal"
    notes = []
    if not service.data_directory.is_dir():
        notes.append(f"data_directory {service.data_directory} is not a folder here: "
                     "restores default to it")
    if service.data_directory.is_dir():
        owner = service.data_directory.stat()
        if not readable_by(profile_file, owner.st_uid, owner.st_gid):
            notes.append(f"{profile_file} is not readable by the cluster's owner (uid "
                         f"{owner.st_uid}): wal-push, which PostgreSQL runs as that user, "
                         "needs to read it")
    places = Places.here()
    every = request.ship_every or shipping.default_every(service.config.archive_timeout)
    job = shipping.shipper_job(strongroom_program(), session.profile.profile_name,
                               profile_file.resolve(), request.service, every, places.user)
    unit = _shipper_wanted(places, request.install)
    result = PitrSetupResult(service=request.service, archive_command=command,
                             spool=str(service.spool), statements=statements, applied=False,
                             restart_needed=restart, wal_segment_size=segment_size,
                             shipper_unit=f"{job.unit}.service" if unit else None, notes=notes)
    if request.dry_run:
        result.files = shipping.planned(places, job) if unit else []
        return result
    if service.data_directory.is_dir():
        _make_spool(service)
    else:
        service.spool.mkdir(mode=0o700, parents=True, exist_ok=True)
    query(session.profile, service, [*statements, "SELECT pg_reload_conf()"])
    pending = query(session.profile, service,
                    ["SELECT string_agg(name, ',') FROM pg_settings WHERE pending_restart"])
    result.restart_needed = restart or "archive_mode" in pending or "wal_level" in pending
    result.applied = True
    if unit:
        _install_shipper(places, job, result)
    else:
        command_line = shlex.join(["strongroom", *job.argv[-8:]])
        notes.append(f"no shipper unit{_why_no_unit(request.install)}: run `{command_line}` "
                     "under your service manager; it moves the spool into the repository")
    return result


def _shipper_wanted(places: Places, install: str) -> bool:
    return install == "systemd" or (install == "auto" and places.systemd_running)


def _why_no_unit(install: str) -> str:
    return " (--install none)" if install == "none" else " (systemd is not running here)"


def _install_shipper(places: Places, job: ShipperJob, result: PitrSetupResult) -> None:
    again = (f"archiving is set up; run `strongroom pitr setup --service {job.service} "
             "--install systemd` again to install the shipper")
    try:
        result.files, result.commands, notes = shipping.install(places, job)
    except StrongroomError as exc:
        exc.hint = f"{exc.hint}; {again}" if exc.hint else again
        raise
    except OSError as exc:
        raise PitrError(f"cannot install the shipper unit: {exc.strerror}: {exc.filename}",
                        hint=again) from exc
    result.notes += notes


def _time(text: str) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace(" ", "T", 1)).astimezone(UTC)


def pitr_status(session: Session, request: PitrStatusRequest) -> PitrStatusResult:
    service = continuous_service(session.profile, request.service)
    notes: list[str] = []
    server: dict[str, object] = {}
    try:
        row = query(session.profile, service, [ARCHIVER]).split("|")
        server = {"archived_count": int(row[0]), "last_archived_wal": row[1] or None,
                  "last_archived_time": _time(row[2]), "failed_count": int(row[3]),
                  "last_failed_wal": row[4] or None, "last_failed_time": _time(row[5])}
    except (PitrError, ValueError, IndexError) as exc:
        notes.append(f"archiver state unknown: {exc}")
    spooled = spooling.entries(service.spool)
    _, engine = session.engine(request.destination)
    profile = session.profile.profile_name
    stored = wal_batches(engine, profile, request.service)
    bases = base_backups(engine, profile, request.service)
    last = stored[-1] if stored else None
    rpo = None
    if last is not None:
        rpo = (datetime.now(UTC) - last.newest).total_seconds()
    elif not bases:
        notes.append("nothing stored yet: no WAL batch and no base backup in the repository")
    places = Places.here()
    profile_file = session.profile.source_files[0] if session.profile.source_files else None
    unit_file, shipper = None, "not installed"
    if profile_file is not None:
        job = shipping.shipper_job(strongroom_program(), profile, profile_file.resolve(),
                                   request.service, 1.0, places.user)
        unit_file, shipper = shipping.state(places, job)
    return PitrStatusResult(
        shipper_unit=unit_file, shipper=shipper,
        service=request.service, **server,  # type: ignore[arg-type]
        spool_files=len(spooled), spool_bytes=sum(entry.size for entry in spooled),
        oldest_spooled=datetime.fromtimestamp(spooled[0].mtime, UTC) if spooled else None,
        last_stored_wal=last.last if last else None,
        last_stored_time=last.newest if last else None, base_backups=len(bases),
        rpo_seconds=rpo, notes=notes)
