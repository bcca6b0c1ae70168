"""`restore-backup --backup continuous`: the latest base backup before T laid out in a
data directory, with recovery.signal and the settings that replay the archived WAL up
to T through wal-fetch; with --start, the server started and watched until it gets
there."""

from __future__ import annotations

import os
import re
import shutil
import tarfile
import time
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO

from orchestrator import run
from orchestrator.errors import NotFoundError, StrongroomError, UsageError
from orchestrator.models.pitr import PitrRestoreRequest, PitrRestoreResult
from orchestrator.pitr import spool as spooling
from orchestrator.pitr.archive import (
    BaseBackup,
    base_backups,
    base_filename,
    wal_batches,
)
from orchestrator.pitr.fetch import write_index
from orchestrator.pitr.pgargs import as_owner, pg_ctl_argv, restore_command
from orchestrator.pitr.service import ContinuousService, continuous_service
from orchestrator.pitr.setup import strongroom_program
from orchestrator.sets.naming import parse_timestamp
from orchestrator.sets.session import Session

from hooks.postgresql import quote_literal, tool  # isort: skip

NOT_REACHED = "recovery ended before configured recovery target was reached"
STOPPED_AT = re.compile(r"recovery stopping (?:before|after) commit of transaction \d+, "
                        r"time (\S+ \S+)")
LAST_AT = re.compile(r"last completed transaction was at log time (\S+ \S+)")


class RecoveryError(StrongroomError):
    pass


def cluster_running(pgdata: Path) -> bool:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare_folder(pgdata: Path, force: bool) -> None:
    if pgdata.is_symlink() or (pgdata.exists() and not pgdata.is_dir()):
        raise UsageError(f"{pgdata} is not a folder")
    if cluster_running(pgdata):
        raise UsageError(f"{pgdata} holds a running PostgreSQL cluster: stop it first")
    if pgdata.is_dir() and any(pgdata.iterdir()):
        if not force:
            raise UsageError(f"{pgdata} is not empty: give --force to replace its contents")
        for child in pgdata.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    pgdata.mkdir(mode=0o700, parents=True, exist_ok=True)
    pgdata.chmod(0o700)


def lay_out(stream: IO[bytes], pgdata: Path) -> None:
    """A base backup's tar into the empty `pgdata`. The repository is not trusted: only
    folders and regular files with plain relative names; no links, no devices, nothing
    replaced. Nothing the tar holds can be a symlink, so no parent can lead outside."""
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            parts = PurePosixPath(member.name).parts
            if not parts or member.name.startswith("/") or any(
                    part in ("..", "") for part in parts):
                raise RecoveryError(f"unsafe name in the base backup: {member.name[:80]!r}")
            path = pgdata.joinpath(*parts)
            if member.isdir():
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
            elif member.isreg():
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                source = archive.extractfile(member)
                assert source is not None
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
            else:
                raise RecoveryError(f"the base backup holds a link or device: "
                                    f"{member.name[:80]!r} (tablespaces are not supported yet)")


def choose_base(bases: list[BaseBackup], target: datetime) -> BaseBackup:
    if not bases:
        raise NotFoundError("no complete base backup in the repository: make one with "
                            "strongroom backup-database --service S --base")
    usable = [base for base in bases if base.finished <= target]
    if not usable:
        raise NotFoundError(f"{target.isoformat()} is before the first base backup (consistent "
                            f"from {bases[0].finished.isoformat()}): cannot recover to it")
    return usable[-1]


def owner_of(folder: Path) -> tuple[int, int]:
    probe = folder if folder.exists() else folder.parent
    info = probe.stat()
    return info.st_uid, info.st_gid


def chown_tree(root: Path, uid: int, gid: int) -> None:
    if os.geteuid() != 0:
        return
    os.chown(root, uid, gid, follow_symlinks=False)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def recovery_settings(command: str, target: datetime | None, port: int | None,
                      copy: bool) -> str:
    lines = ["", "# strongroom point-in-time recovery",
             f"restore_command = {quote_literal(command)}",
             "recovery_target_action = 'promote'",
             "recovery_target_timeline = 'latest'"]
    if target is not None:
        lines.append(f"recovery_target_time = {quote_literal(target.isoformat())}")
    if port is not None:
        lines.append(f"port = {port}")
    if copy:  # a copy beside the service's cluster must not archive into its spool
        lines.append("archive_mode = 'off'")
    return "\n".join(lines) + "\n"


def last_archived(session: Session, service: ContinuousService, newest_batch: datetime | None
                  ) -> datetime | None:
    times = [newest_batch] if newest_batch else []
    spooled = spooling.entries(service.spool)
    if spooled:
        times.append(datetime.fromtimestamp(max(entry.mtime for entry in spooled)).astimezone())
    return max(times) if times else None


def restore_continuous(session: Session, request: PitrRestoreRequest) -> PitrRestoreResult:
    service = continuous_service(session.profile, request.service)
    if not session.profile.source_files:
        raise UsageError("a point-in-time restore needs the profile file: restore_command "
                         "names it")
    target = parse_timestamp(request.timestamp)
    pgdata = Path(request.pgdata).absolute() if request.pgdata else service.data_directory
    _, engine = session.engine(request.destination)
    profile = session.profile.profile_name
    base = choose_base(base_backups(engine, profile, request.service), target)
    batches = wal_batches(engine, profile, request.service)
    end = last_archived(session, service, batches[-1].newest if batches else None)
    notes = []
    to_end = end is None or target > end
    if to_end:
        notes.append(f"{target.isoformat()} is after the last archived WAL "
                     f"({end.isoformat() if end else 'none'}): recovering to the end of the "
                     "archive")
    copy = pgdata != service.data_directory
    if copy:
        notes.append(f"{pgdata} is not the service's data_directory: WAL archiving is off in "
                     "this copy (turn it on if it becomes the service's cluster)")
    prepare_folder(pgdata, request.force)
    uid, gid = owner_of(pgdata)
    with engine.open_dump(base.data.id, base_filename(request.service, base.name, "tar")
                          ) as stream:
        try:
            lay_out(stream, pgdata)
        except (tarfile.TarError, OSError) as exc:
            raise RecoveryError(f"cannot lay out base backup {base.name}: {exc}") from None
    cache = pgdata.parent / f".{pgdata.name}.strongroom-wal"
    if cache.exists():
        shutil.rmtree(cache)
    cache.mkdir(mode=0o700)
    write_index(cache, batches)
    command = restore_command(strongroom_program(), session.profile.source_files[0].resolve(),
                              request.service, cache)
    with (pgdata / "postgresql.auto.conf").open("a") as conf:
        conf.write(recovery_settings(command, None if to_end else target, request.port, copy))
    (pgdata / "recovery.signal").write_bytes(b"")
    chown_tree(pgdata, uid, gid)
    chown_tree(cache, uid, gid)
    logfile = cache / "postgresql.log"
    owner = _user_name(uid) if os.geteuid() == 0 and uid != 0 else None
    start = as_owner(pg_ctl_argv(service.config, "start", pgdata, logfile), owner)
    result = PitrRestoreResult(
        service=request.service, base=base.name, pgdata=str(pgdata), target_time=target,
        recovery_target_time=None if to_end else target, to_end=to_end, started=False,
        notes=notes, instructions=[
            "start the server: " + run.format_argv(start),
            f"once it has promoted, remove {cache} (the WAL fetched for this recovery)"])
    if request.start:
        result.reached = start_and_wait(service, pgdata, start, logfile, notes)
        result.started = True
    return result


def _user_name(uid: int) -> str:
    import pwd

    return pwd.getpwuid(uid).pw_name


def cluster_state(service: ContinuousService, pgdata: Path) -> str:
    out = run.run([tool(service.config, "pg_controldata"), str(pgdata)]).stdout
    match = re.search(r"^Database cluster state:\s*(.+)$", out, re.MULTILINE)
    return match[1].strip() if match else "unknown"


def start_and_wait(service: ContinuousService, pgdata: Path, start: list[str], logfile: Path,
                   notes: list[str], timeout: float = 600) -> str | None:
    """Start the restored cluster and wait until it has promoted; the time reached."""
    try:
        run.run(start, timeout=timeout + 30)
    except run.CommandError:
        log_text = logfile.read_text(errors="replace") if logfile.exists() else ""
        if NOT_REACHED not in log_text:
            raise RecoveryError(f"the restored server did not start; see {logfile}") from None
        # The target lies past the last commit archived: replay what there is, to its end.
        conf = pgdata / "postgresql.auto.conf"
        kept = [line for line in conf.read_text().splitlines()
                if not line.startswith("recovery_target_time =")]
        conf.write_text("\n".join(kept) + "\n")
        notes.append("the archive ends before the target: recovered to its end")
        run.run(start, timeout=timeout + 30)
    deadline = time.monotonic() + timeout
    while cluster_state(service, pgdata) != "in production":
        if time.monotonic() > deadline:
            raise RecoveryError(f"recovery did not finish within {timeout:.0f} s; see {logfile}")
        time.sleep(0.5)
    log_text = logfile.read_text(errors="replace") if logfile.exists() else ""
    stops = STOPPED_AT.findall(log_text) or LAST_AT.findall(log_text)
    return stops[-1] if stops else None
