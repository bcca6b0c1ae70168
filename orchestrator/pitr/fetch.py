"""`wal-fetch`: one WAL file for PostgreSQL's restore_command, from the spool, the
restore's cache, or the repository. A batch is fetched whole into the cache, once: the
next files recovery asks for are already there. The cache's index of batches (written
by the restore) spares a repository listing per file."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.engines.base import Engine
from orchestrator.errors import StrongroomError
from orchestrator.pitr.archive import WalBatch, extract_batch, parse_stamp, wal_batches
from orchestrator.pitr.service import continuous_service
from orchestrator.pitr.walnames import checked_name
from orchestrator.sets.session import Session

INDEX = "index.json"


class WalNotFound(StrongroomError):
    """Not archived: PostgreSQL takes this as the end of the archive."""


def write_index(cache: Path, batches: list[WalBatch]) -> None:
    rows = [{"id": batch.snapshot.id, "first": batch.first, "last": batch.last,
             "newest": batch.newest.strftime("%Y%m%dT%H%M%SZ")} for batch in batches]
    (cache / INDEX).write_text(json.dumps(rows))


def _indexed(cache: Path) -> list[tuple[str, str, str]] | None:
    try:
        rows = json.loads((cache / INDEX).read_text())
    except (OSError, ValueError):
        return None
    found = []
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and all(isinstance(row.get(k), str) for k in ("id", "first",
                                                                               "last")):
            if parse_stamp(row.get("newest")) is not None:
                found.append((row["id"], row["first"], row["last"]))
    return found


def _copy_into_place(source: Path, target: Path) -> None:
    temp = target.parent / f".{target.name}.strongroom.tmp"
    shutil.copyfile(source, temp)
    os.replace(temp, target)


@contextmanager
def _batch_folder(cache: Path | None, near: Path) -> Iterator[Path]:
    """Where a fetched batch goes: the restore's cache (kept), or a temporary folder."""
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        yield cache
        return
    with tempfile.TemporaryDirectory(dir=near, prefix=".strongroom-wal-") as temp:
        yield Path(temp)


def _candidates(session: Session, engine: Engine, service: str,
                cache: Path | None) -> list[tuple[str, str, str]]:
    if cache is not None:
        indexed = _indexed(cache)
        if indexed is not None:
            return indexed
    return [(batch.snapshot.id, batch.first, batch.last)
            for batch in wal_batches(engine, session.profile.profile_name, service)]


def wal_fetch(session: Session, service_name: str, name: str, target: Path,
              cache: Path | None, destination: str | None = None) -> str:
    """Where the file came from: spool, cache or repository; WalNotFound when nowhere."""
    checked_name(name)
    service = continuous_service(session.profile, service_name)
    spooled = service.spool / name
    if spooled.is_file():
        _copy_into_place(spooled, target)
        return "spool"
    if cache is not None and (cache / name).is_file():
        _copy_into_place(cache / name, target)
        return "cache"
    _, engine = session.engine(destination)
    covering = [row for row in _candidates(session, engine, service_name, cache)
                if row[1] <= name <= row[2]]
    for snapshot_id, first, last in reversed(covering):
        with _batch_folder(cache, target.parent) as folder:
            with engine.open_dump(snapshot_id,
                                  f"/continuous/{service_name}/wal/{first}-{last}.tar") as stream:
                written = extract_batch(stream, folder)
            if name in written:
                _copy_into_place(folder / name, target)
                return "repository"
    raise WalNotFound(f"{name} is not archived")
