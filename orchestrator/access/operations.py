"""The operations behind the tools: each takes the session, the checked request and a
progress callback, imports its package lazily (so `strongroom --help` and the MCP
server's start stay light) and returns the result model. tools.py registers them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from orchestrator import models
from orchestrator.engines.base import ProgressCallback
from orchestrator.errors import UsageError
from orchestrator.sets.session import Session


def create(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    if request.schedule is not None:
        from orchestrator.schedule.run import create_scheduled_backup

        return create_scheduled_backup(session, request, progress)
    from orchestrator.sets.create import create_backup

    return create_backup(session, request, progress)


def list(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.pitr.listing import list_backups_and_continuous

    return list_backups_and_continuous(session, request)


def restore(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    if request.from_archive is not None:
        if request.backup is not None or request.timestamp is not None or request.name \
                is not None or request.type is not None:
            raise UsageError("--from-archive restores the archive's set: drop "
                             "--backup/--timestamp/--name/--type")
        if request.vault_password_files:
            raise UsageError("--vault-password-file opens a repository's vault; an archive "
                             "has none: drop it with --from-archive")
        from orchestrator.export.from_archive import restore_from_archive

        return restore_from_archive(session, request)
    if request.backup == "continuous":
        raise UsageError("a point-in-time restore of the continuous family is the "
                         "restore-continuous tool")
    from orchestrator.sets.restore import restore_backup

    return restore_backup(session, request, progress)


def download(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.export.download import download_backup

    return download_backup(session, request, progress)


def migrate(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    if request.from_archive is not None and request.to is not None:
        if request.to_format is not None or request.output is not None:
            raise UsageError("--from-archive imports into the repository --to names; drop "
                             "--to-format and --output")
        from orchestrator.export.import_archive import import_archive

        return import_archive(session, request)
    if request.to is not None:
        if request.name is not None:
            raise UsageError("--name renames an imported archive's set (--from-archive); a "
                             "copied set keeps its name")
        if request.to_format is not None or request.output is not None:
            raise UsageError("--to copies the set into a repository; --to-format and "
                             "--output are for an archive: give one or the other")
        from orchestrator.sets.migrate import migrate_set

        return migrate_set(session, request)
    if request.from_archive is not None or request.name is not None:
        raise UsageError("--from-archive and --name need --to REPO (where the set goes)")
    from orchestrator.export.download import download_backup

    return download_backup(session, models.DownloadBackupRequest.model_validate({
        "backup": request.backup, "format": request.to_format or "zip",
        "output": request.output, "destination": request.destination,
        "force": request.force}), progress)


def database(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    if request.base:
        from orchestrator.pitr.basebackup import base_backup

        return base_backup(session, request)
    from orchestrator.sets.create import backup_database

    return backup_database(session, request, progress)


def files(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.sets.create import backup_files

    return backup_files(session, request, progress)


def containers(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.sets.infra import backup_containers

    return backup_containers(session, request, progress)


def vm(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.sets.infra import backup_vm_snapshot

    return backup_vm_snapshot(session, request, progress)


def verify(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.sets.verify import verify_backup

    return verify_backup(session, request)


def retention(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.schedule.apply import apply_retention

    return apply_retention(session, request)


def schedule(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.schedule.manage import schedule_backup

    return schedule_backup(session, request)


def sync(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.pitr.sync import sync_sets_and_continuous

    return sync_sets_and_continuous(session, request)


def compare(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.sets.compare import backup_compare

    return backup_compare(session, request)


def encrypt(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    if request.archive is not None:
        if request.backup or request.all or request.since or request.to:
            raise UsageError("--archive encrypts a file: drop --backup/--all/--since/--to")
        from orchestrator.export.encrypt import encrypt_archive

        return encrypt_archive(request, int(session.profile.access.download.file_mode, 8))
    from orchestrator.sets.reencrypt import backup_encrypt_to

    return backup_encrypt_to(session, request)


def keys(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.sets import keys

    if isinstance(request, models.KeyListRequest):
        return keys.key_list(session, request.destination)
    operation = {"add": keys.key_add, "remove": keys.key_remove,
                 "rotate": keys.key_rotate}[request.action]
    return operation(session, request)


def drill(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.sets.drill import drill_backup

    return drill_backup(session, request)


def status(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.observe.status import build_status

    return build_status(session, request)


def report(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.observe.report import build_report

    return build_report(session, request)


def recover(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.schedule.manage import reinstall
    from orchestrator.sets.recover import recover

    return recover(session, request, reinstall)


def pitr_setup(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.pitr.setup import pitr_setup

    return pitr_setup(session, request)


def pitr_status(session: Session, request: Any, progress: ProgressCallback | None
                 ) -> BaseModel:
    from orchestrator.pitr.setup import pitr_status

    return pitr_status(session, request)


def pitr_ship(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.pitr.ship import ship

    return ship(session, request)


def pitr_verify(session: Session, request: Any, progress: ProgressCallback | None
                 ) -> BaseModel:
    from orchestrator.pitr.chain import pitr_verify

    return pitr_verify(session, request)


def pitr_prune(session: Session, request: Any, progress: ProgressCallback | None) -> BaseModel:
    from orchestrator.pitr.chain import pitr_prune

    return pitr_prune(session, request)


def pitr_restore(session: Session, request: Any, progress: ProgressCallback | None
                  ) -> BaseModel:
    from orchestrator.pitr.recovery import restore_continuous

    return restore_continuous(session, request)
