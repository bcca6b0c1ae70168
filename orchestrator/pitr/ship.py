"""`pitr ship`: the spool into the repository, one engine run per batch. A spooled file
is removed only after the engine has confirmed the batch holding it, so a shipper that
dies mid-batch loses nothing: the next run stores the same files again."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from orchestrator import run
from orchestrator.engines.base import ProducerFailed
from orchestrator.models.pitr import ShipRequest, ShipResult
from orchestrator.pitr import spool as spooling
from orchestrator.pitr.archive import batch_filename, batch_tags
from orchestrator.pitr.pgargs import batch_tar_argv
from orchestrator.pitr.service import continuous_service
from orchestrator.sets.session import Session

log = logging.getLogger("strongroom.pitr")


def batches(entries: list[spooling.SpoolEntry], count: int, size: int
            ) -> list[list[spooling.SpoolEntry]]:
    """Spool entries cut into batches of at most `count` files and about `size` bytes."""
    result: list[list[spooling.SpoolEntry]] = []
    current: list[spooling.SpoolEntry] = []
    total = 0
    for entry in entries:
        if current and (len(current) >= count or total + entry.size > size):
            result.append(current)
            current, total = [], 0
        current.append(entry)
        total += entry.size
    if current:
        result.append(current)
    return result


def ship(session: Session, request: ShipRequest) -> ShipResult:
    service = continuous_service(session.profile, request.service)
    repo_name, engine = session.engine(request.destination)
    profile = session.profile.profile_name
    if not service.spool.is_dir():
        return ShipResult(service=request.service, repository=repo_name, batches=0, files=0,
                          note=f"no spool at {service.spool} yet (run strongroom pitr setup)")
    with spooling.ship_lock(service.spool) as held:
        if not held:
            return ShipResult(service=request.service, repository=repo_name, batches=0,
                              files=0, note="another shipper is running")
        shipped_batches = shipped_files = 0
        for batch in batches(spooling.entries(service.spool), request.batch_files,
                             request.batch_bytes):
            names = [entry.name for entry in batch]
            newest = datetime.fromtimestamp(max(entry.mtime for entry in batch), UTC)
            producer = run.Command(tuple(batch_tar_argv(service.spool, names)))
            try:
                engine.backup_stream(producer, batch_filename(request.service, names),
                                     tags=batch_tags(profile, request.service, names, newest),
                                     time=datetime.now(UTC), host=session.host)
            except ProducerFailed as exc:
                if exc.partial_snapshot:
                    engine.forget([exc.partial_snapshot])
                raise
            spooling.remove(service.spool, names)
            log.info("stored %s … %s (%d files)", names[0], names[-1], len(names))
            shipped_batches += 1
            shipped_files += len(names)
    return ShipResult(service=request.service, repository=repo_name, batches=shipped_batches,
                      files=shipped_files)


def wal_push(session: Session, service_name: str, path: str) -> bool:
    """archive_command: the WAL file durably in the spool (True), or already there (False)."""
    service = continuous_service(session.profile, service_name)
    return spooling.push(service.spool, Path(path).absolute())
