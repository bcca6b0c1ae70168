"""Making one backup set: claim a name, stream the dumps, back up files and manifest."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hooks.base import DumpPlan
from orchestrator import __version__
from orchestrator.engines.base import Engine, ProgressCallback
from orchestrator.errors import StrongroomError, UsageError
from orchestrator.models import CreateBackupRequest, CreateBackupResult, PartResult
from orchestrator.run.tempfiles import write_atomic
from orchestrator.sets.dumps import run_streams
from orchestrator.sets.layout import SourcePath, check_sources_exist
from orchestrator.sets.manifest import (
    INVENTORY_FILE,
    LOG_FILE,
    MANIFEST_FILE,
    RECOVERY_FILE,
    Manifest,
    ManifestAudit,
    paths_from,
)
from orchestrator.sets.naming import (
    FILES_PART,
    PRODUCT_TAG,
    VAULT_PART,
    VAULT_TAG,
    anchor_tag,
    manifest_tag,
    set_name,
    set_tags,
)
from orchestrator.sets.progress import PartProgress
from orchestrator.sets.state import RunRecord
from orchestrator.sets.vault_check import homes_of
from orchestrator.sets.vaults import (
    StoredShare,
    check_stored,
    forget_quietly,
    refuse_vault_destination,
    split_for_vaults,
    store_share,
)

if TYPE_CHECKING:
    from orchestrator.sets.session import Session

log = logging.getLogger("strongroom")


class _RunLog(logging.Handler):
    """Collects this run's log lines for the set's logs/backup.log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def make_set(
    session: Session,
    request: CreateBackupRequest,
    base: str,
    sources: list[SourcePath],
    services: list[str],
    on_progress: ProgressCallback | None,
    set_type: str | None = None,
    plan_dumps: Callable[[], list[DumpPlan]] | None = None,
) -> CreateBackupResult:
    """One backup set: the stream parts first, then one run with every file path and the
    manifest. `plan_dumps` checks the hooks' servers before anything is written."""
    profile = session.profile
    repo_name, repository = profile.repository(request.destination)
    refuse_vault_destination(profile, repo_name)
    if not request.encrypt:
        raise UsageError(
            f"{repository.engine} repositories are always encrypted (restic: AES-256, borg: "
            "repokey-blake2); --no-encrypt cannot be honoured")
    sources = check_sources_exist(sources)
    plans = plan_dumps() if plan_dumps is not None else []
    if not sources and not plans:
        raise UsageError(f"nothing to back up: the profile names no paths or databases for a "
                         f"{request.type} set")
    sources, plans, shares = split_for_vaults(profile, sources, plans,
                                              homes_of(profile, repo_name))
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
    phase = "starting"
    vaulted: list[StoredShare] = []
    try:
        session.state.save_run(record)
        log.info("set %s: %d path(s), %d dump(s) into %s (%s)", name, len(sources), len(plans),
                 repo_name, repository.url)
        for item in sources:
            log.info("  %s -> %s", item.source, item.logical)
        compression = "auto" if request.compress else "off"
        staging = session.state.staging(base)
        for share in shares:
            phase = f"storing the parts of vault {share.repository}"
            vaulted.append(store_share(session, share, name=name, kind=kind, started=started,
                                       compression=compression, on_progress=on_progress))
        anchor = session.audit_head() if session.audit_head else None
        final_tags = set_tags(name, FILES_PART, kind, profile.profile_name, services,
                              streams=len(plans)) + ([anchor_tag(*anchor)] if anchor else []) + [
            f"{VAULT_TAG}={done.vault.repository}" for done in vaulted]
        # A set of dumps alone keeps its manifest in a stdin snapshot whose restic process
        # opens the repository (key derivation, index) while the dumps run.
        pending = None if sources else engine.start_stream_backup(
            f"{str(staging).lstrip('/')}/{MANIFEST_FILE}", tags=final_tags, time=started,
            host=session.host, compression=compression)
        phase = "dumping the databases" if plans else phase
        try:
            stored = run_streams(
                engine, plans,
                lambda plan: set_tags(name, plan.logical, kind, profile.profile_name,
                                      [plan.service]),
                time=started, host=session.host, compression=compression, set_name=name,
                before_cleanup=pending.cancel if pending is not None else None,
                on_progress=on_progress,
            )
        except BaseException:
            if pending is not None:
                pending.cancel()
            raise
        stored += [pair for done in vaulted for pair in done.streams]
        streams = [stream for stream, _ in stored]
        manifest = Manifest(
            set=name, name=base, type=kind, profile=profile.profile_name, host=session.host,
            started=started, services=services, include_data=request.include_data,
            compress=request.compress, streams=streams,
            paths=paths_from(sources) + [path for share in shares for path in paths_from(
                share.sources, share.repository)],
            vaults=[done.vault for done in vaulted],
            tools={"strongroom": __version__, "engine": str(engine.version())},
            log=run_log.lines if pending is not None else [],
            audit=ManifestAudit(seq=anchor[0], sha256=anchor[1]) if anchor else None,
        )
        _stage(staging / MANIFEST_FILE, manifest.to_bytes())
        staged = None if pending is not None else staged_identity(staging / MANIFEST_FILE)
        if pending is not None:
            summary = pending.finish(manifest.to_bytes())
        else:
            _stage(staging / LOG_FILE, ("\n".join(run_log.lines) + "\n").encode())
            _stage_recovery_files(session, manifest, repo_name, staging)
            excludes = [pattern for item in sources for pattern in item.excludes]
            phase = "storing the files"
            files_progress = PartProgress(on_progress, FILES_PART, "files")
            files_progress.started()
            summary = engine.backup_paths(
                [item.source for item in sources] + [str(staging)],
                tags=[*final_tags, manifest_tag(manifest.to_bytes())],
                time=started, host=session.host, excludes=excludes, compression=compression,
                on_progress=files_progress.callback(),
            )
            files_progress.finished(summary.total_bytes, summary.total_files)
        if summary.unreadable:
            engine.add_tags([summary.snapshot_id], ["status=incomplete"])
            shown = "\n".join(f"  {line}" for line in summary.unreadable[:20])
            raise StrongroomError(
                f"set {name} is incomplete: {len(summary.unreadable)} item(s) could not be "
                f"read:\n{shown}"
            )
        verified = False
        if request.verify:
            phase = "verifying the set"
            _verify(engine, name, summary.snapshot_id, staging, manifest, staged)
            check_stored(vaulted, name)
            verified = True
        record.status, record.snapshot_id = "complete", summary.snapshot_id
        record.bytes = summary.total_bytes + sum(stream.bytes for stream in streams) + sum(
            done.vault.bytes for done in vaulted)
        session.state.save_run(record)
    except BaseException as exc:
        for done in vaulted:
            forget_quietly(done.engine, done.snapshot_ids)
        record.status = "failed"
        record.error = exc.message if isinstance(exc, StrongroomError) else (
            _interrupted(exc, phase) if isinstance(exc, KeyboardInterrupt)
            else type(exc).__name__)
        session.state.save_run(record)
        raise
    finally:
        log.removeHandler(run_log)
    return CreateBackupResult(
        set=name, id=summary.snapshot_id[:8], type=kind, profile=profile.profile_name,
        destination=repo_name, time=started, services=services, paths=len(sources),
        parts=[PartResult(part=stream.part, snapshot_id=stream.snapshot_id, files=1,
                          bytes=stream.bytes, bytes_added=added) for stream, added in stored]
        + [PartResult(part=FILES_PART, snapshot_id=summary.snapshot_id,
                      files=summary.total_files, bytes=summary.total_bytes,
                      bytes_added=summary.data_added)]
        + [PartResult(part=f"{VAULT_PART}:{done.vault.repository}",
                      snapshot_id=done.vault.snapshot_id, files=done.vault.files,
                      bytes=done.vault.bytes, bytes_added=done.bytes_added)
           for done in vaulted],
        files=summary.total_files + sum(done.vault.files for done in vaulted),
        bytes=summary.total_bytes + sum(s.bytes for s in streams) + sum(
            done.vault.bytes for done in vaulted),
        bytes_added=summary.data_added + sum(added for _, added in stored) + sum(
            done.bytes_added for done in vaulted),
        duration=round(time.monotonic() - clock, 3), encrypted=True,
        compressed=request.compress, verified=verified,
    )


def _stage_recovery_files(
    session: Session, manifest: Manifest, repo_name: str, staging: Path
) -> None:
    """A disaster-recovery set carries its runbook and the host's inventory; written once
    the dump parts are stored (the runbook names their snapshots), before the final run."""
    if manifest.type != "disaster-recovery":
        for stale in (RECOVERY_FILE, INVENTORY_FILE):
            (staging / stale).unlink(missing_ok=True)
        return
    from orchestrator.sets.inventory import gather_inventory
    from orchestrator.sets.runbook import render_runbook

    runbook = render_runbook(session.profile, manifest, repo_name, staging)
    _stage(staging / RECOVERY_FILE, runbook.encode())
    inventory = gather_inventory(session.profile, manifest.set, manifest.tools)
    _stage(staging / INVENTORY_FILE, inventory.to_bytes())


def _stage(path: Path, data: bytes) -> None:
    """A staged file (manifest, log, runbook), replaced whole but not synced: the engine
    reads it from the page cache, and it becomes durable in the repository. An fsync
    each would cost a slow disk (an SD card, a busy HDD) tens of milliseconds before
    every backup; a staged manifest lost in a crash is read from the repository instead
    (the set's manifest tag no longer matches it)."""
    write_atomic(path, data, durable=False)


def _interrupted(exc: KeyboardInterrupt, phase: str) -> str:
    """The problem of a set whose run was stopped, worded for the person who stopped it."""
    from orchestrator.run.signals import interrupted

    how = interrupted(exc)[0]
    when = datetime.now(UTC).strftime("%H:%M UTC")
    return f"{'interrupted (Ctrl-C)' if how == 'interrupted' else how} at {when} while {phase}"


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


def staged_identity(path: Path) -> tuple[int, int, int, int]:
    """What changes whenever a file is written or replaced: inode, size, mtime, ctime."""
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def _verify(
    engine: Engine, name: str, snapshot_id: str, staging: Path, manifest: Manifest,
    staged: tuple[int, int, int, int] | None,
) -> None:
    """Every stream part is present and the final part holds the manifest as written.

    restic saved the final part without an unreadable file (checked before this), so it
    holds the staged manifest as restic read it. When the staged file is the very file
    written before the backup started (same inode, size, mtime, ctime and bytes), that is
    the manifest: no read-back. A manifest given on stdin (staged None) is what restic
    stored. Anything else is read back from the repository."""
    if manifest.streams:
        present = [snap.id for snap in engine.snapshots([PRODUCT_TAG, f"set={name}"])]
        missing = [stream.logical for stream in manifest.missing_streams(present)
                   if stream.repository is None]
        if missing:
            raise StrongroomError(f"verification failed: part(s) missing: {', '.join(missing)}")
    if staged is None:
        return
    path = staging / MANIFEST_FILE
    try:
        if staged_identity(path) == staged and path.read_bytes() == manifest.to_bytes():
            return
    except OSError:
        pass
    stored = engine.dump(snapshot_id, f"{staging}/{MANIFEST_FILE}")
    if stored != manifest.to_bytes():
        raise StrongroomError(
            f"verification failed: the manifest in snapshot {snapshot_id[:8]} does not match"
        )
