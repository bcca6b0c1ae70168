"""backup-encrypt --to: sets moved under another repository's master key.

`restic key passwd` (and `strongroom key rotate`) re-wraps the same master key: whoever
copied the repository's key files together with an old password, or the master key
itself, still reads every pack. Only data encrypted under a new master key is out of
their reach: the sets are copied into the target repository (its own master key;
created with the source's chunker parameters when new), every part is checked there
(manifest, parts, each stream's digest, a test restore of the file parts), and only
then, with forget_source, the source's snapshots of those sets are forgotten and the
source pruned. A set whose check fails in the target is never forgotten.
"""

from __future__ import annotations

import logging
import time

from orchestrator.errors import StrongroomError, UsageError
from orchestrator.models import (
    BackupEncryptRequest,
    BackupEncryptResult,
    BackupSyncRequest,
    VerifyBackupRequest,
)
from orchestrator.sets.session import Session, load_sets
from orchestrator.sets.sync import backup_sync
from orchestrator.sets.verify import verify_backup

log = logging.getLogger("strongroom")
# The checks that prove a copied set is whole and readable in the target.
REQUIRED_CHECKS = ("manifest", "parts", "stream digests", "test restore")


def backup_encrypt_to(session: Session, request: BackupEncryptRequest) -> BackupEncryptResult:
    if request.to is None:
        raise UsageError("backup-encrypt needs --archive FILE, or --to REPO with one of "
                         "--backup NAME, --all, --since TIME")
    given = [name for name, value in (("--backup", request.backup), ("--all", request.all),
                                      ("--since", request.since)) if value]
    if len(given) != 1:
        got = f" (got {', '.join(given)})" if given else ""
        raise UsageError(f"backup-encrypt --to needs exactly one of --backup NAME, --all, "
                         f"--since TIME{got}")
    if request.output or request.in_place or request.password is not None:
        raise UsageError("--output/--in-place/a password go with --archive; --to uses the "
                         "target repository's own key")
    source_name, _ = session.profile.repository(request.destination)
    target_name, target_repo = session.profile.repository(request.to)
    if session.profile.repositories[source_name].url == target_repo.url:
        raise UsageError(f"{source_name!r} and {target_name!r} are the same repository: "
                         "its master key would not change")
    clock = time.monotonic()
    synced = backup_sync(session, BackupSyncRequest.model_validate({
        "from": source_name, "to": target_name, "backup": request.backup,
        "all": request.all, "since": request.since}), follow_vaults=False)
    names = [*synced.copied, *synced.skipped]
    verified: list[str] = []
    problems: list[str] = []
    for name in names:
        report = verify_backup(session, VerifyBackupRequest.model_validate(
            {"backup": name, "deepCheck": True, "destination": target_name}))
        failed = [f"{check.check}: {check.detail}" for check in report.checks
                  if check.check in REQUIRED_CHECKS and not check.ok]
        if failed:
            problems.append(f"{name}: {'; '.join(failed)}")
        else:
            verified.append(name)
    forgotten = _forget(session, source_name, verified) if request.forget_source else []
    if problems:
        raise StrongroomError(
            f"copied to {target_name!r}, but the check failed there for "
            f"{'; '.join(problems)}; nothing of those sets was forgotten in {source_name!r}")
    return BackupEncryptResult(source=source_name, target=target_name, copied=synced.copied,
                               verified=verified, forgotten=forgotten,
                               duration=round(time.monotonic() - clock, 3))


def _forget(session: Session, source_name: str, names: list[str]) -> list[str]:
    """The source's snapshots of these sets forgotten, then the source pruned."""
    if not names:
        return []
    _, engine = session.engine(source_name)
    url = session.profile.repositories[source_name].url
    wanted = set(names)
    ids: list[str] = []
    for entry in load_sets(session, engine, url):
        if entry.name in wanted:
            ids += [snap.id for snap in entry.parts.values()]
            if entry.final is not None:
                ids.append(entry.final.id)
    engine.forget(sorted(set(ids)))
    log.info("forgot %d snapshot(s) of %d set(s) in %s; pruning", len(set(ids)), len(names),
             source_name)
    engine.prune()
    return sorted(wanted)
