"""drill: a restore rehearsal that touches nothing live, with its time measured.

The chosen set is restored into a sandbox: the files under a private folder, SQL
databases under temporary names, sqlite databases and VM disks as temporary files,
container volumes as temporary volumes; each is checked (see drill_checks.py), then
everything is removed, unless --keep. The wall time of restore and checks is the RTO;
the set's age when the drill starts is its RPO. The result is stored as a small part
of the set (`logs/drill.json`, tagged `drill=<set>`) and in the state directory.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.engines.base import Engine
from orchestrator.errors import StrongroomError, UsageError
from orchestrator.models import DrillCheck, DrillRecord, DrillRequest, DrillResult
from orchestrator.sets.drill_checks import Sandbox, check_files, check_stream
from orchestrator.sets.layout import select_for_restore
from orchestrator.sets.manifest import Manifest
from orchestrator.sets.naming import DRILL_PART, BackupSet, drill_tags
from orchestrator.sets.restore import check_services
from orchestrator.sets.session import Session, choose_set, load_sets, set_manifest
from orchestrator.sets.vaults import places_of

log = logging.getLogger("strongroom")


def drill_backup(session: Session, request: DrillRequest) -> DrillResult:
    request = apply_schedule(session, request)
    repo_name, engine = session.engine(request.destination)
    url = session.profile.repositories[repo_name].url
    chosen = choose_set(session, engine, repo_name, load_sets(session, engine, url),
                        request.backup)
    assert chosen.final is not None  # select_set returns complete sets only
    started = datetime.now(UTC)
    clock = time.monotonic()
    manifest = set_manifest(session, engine, chosen)
    check_services(manifest, request.services)
    sandbox = Sandbox(folder=make_workdir(request.workdir), token=secrets.token_hex(4),
                      keep=request.keep)
    checks: list[DrillCheck] = []
    try:
        rehearse(session, engine, chosen, manifest, request.services, sandbox, checks)
        rto = round(time.monotonic() - clock, 3)  # the clean-up is no part of a recovery
    finally:
        kept, left = sandbox.clean()
        if left:
            log.warning("the drill could not remove: %s", "; ".join(left))
    result = DrillResult(
        set=chosen.name, id=chosen.id, type=chosen.type, time=chosen.time, started=started,
        ok=bool(checks) and all(check.ok for check in checks) and not left,
        rto=rto,
        rpo=round((started - chosen.time).total_seconds(), 3), checks=checks,
        workdir=str(sandbox.folder), kept=bool(kept), left_behind=left,
    )
    record = DrillRecord(set=chosen.name, ok=result.ok, started=started, rto=result.rto,
                         failed=[check.part for check in checks if not check.ok])
    session.state.save_drill(chosen.name, url, record.model_dump_json().encode())
    result.record_part = store_record(session, engine, chosen, record)
    return result


def apply_schedule(session: Session, request: DrillRequest) -> DrillRequest:
    """A schedule of type drill names what it rehearses: its name (the latest set of that
    name; default, the latest set), services and destination."""
    if request.schedule is None:
        return request
    schedules = session.profile.schedules
    schedule = schedules.get(request.schedule)
    if schedule is None:
        have = ", ".join(schedules) or "none"
        raise UsageError(f"no schedule named {request.schedule!r} in the profile (have: {have})")
    if schedule.type != "drill":
        raise UsageError(f"schedule {request.schedule!r} makes {schedule.type} sets; run it "
                         f"with create-backup --schedule {request.schedule}")
    return request.model_copy(update={
        "backup": request.backup or schedule.name,
        "services": request.services or schedule.services,
        "destination": request.destination or schedule.destination,
    })


def make_workdir(parent: str | None) -> Path:
    """A fresh private folder (0700) for the sandbox, inside `parent` when given."""
    if parent is not None:
        where = Path(parent).expanduser().absolute()
        if not where.is_dir():
            raise UsageError(f"--workdir {parent}: not a directory")
    try:
        return Path(tempfile.mkdtemp(prefix="strongroom-drill-",
                                     dir=str(where) if parent is not None else None))
    except OSError as exc:
        raise UsageError(f"cannot make the drill's folder in {parent or tempfile.gettempdir()}"
                         f": {exc.strerror}") from None


def rehearse(session: Session, engine: Engine, chosen: BackupSet, manifest: Manifest,
             services: list[str], sandbox: Sandbox, checks: list[DrillCheck]) -> None:
    assert chosen.final is not None
    sources = select_for_restore(manifest.sources(), "full-rebuild", services,
                                 check_services=False)
    places, manifest = places_of(session, engine, chosen, manifest)
    home = {(p.source, p.logical): p.repository for p in manifest.paths}
    for place in places:  # the set's own repository, then each vault of it
        here = [s for s in sources if home.get((s.source, s.logical)) == place.repository]
        streams = [s for s in manifest.streams if s.repository == place.repository
                   and (not services or s.service in services)]
        if place.engine is None:
            if here or streams:
                names = [s.logical for s in here] + [s.logical for s in streams]
                checks.append(DrillCheck(
                    part=f"vault {place.repository}", kind="files", ok=False,
                    detail=f"{place.problem}; not rehearsed: {', '.join(names)}"))
            continue
        if here:
            log.info("drill %s: %d file path(s) into %s", chosen.name, len(here),
                     sandbox.folder)
            check_files(place.engine, place.snapshot_id, here, sandbox, checks,
                        "files" if place.repository is None else f"files in {place.repository}")
        for stream in streams:
            log.info("drill %s: %s (%s)", chosen.name, stream.logical, stream.hook)
            check_stream(place.engine, session.profile, stream, sandbox, checks)
    if not checks:
        raise UsageError(f"backup {chosen.name} holds nothing to rehearse"
                         + (f" for {', '.join(services)}" if services else ""))


def store_record(session: Session, engine: Engine, chosen: BackupSet,
                 record: DrillRecord) -> str | None:
    """The record as the set's drill part; the previous one is forgotten (the last drill
    is the one that counts). A repository that cannot take it is a warning."""
    tags = drill_tags(chosen.name, chosen.type, chosen.profile, list(chosen.services),
                      record.ok)
    when = datetime.now(UTC).replace(microsecond=0)
    previous = chosen.parts.get(DRILL_PART)
    try:
        pending = engine.start_stream_backup(DRILL_PART, tags=tags, time=when,
                                             host=session.host)
        pending.finish(record.model_dump_json(indent=2).encode() + b"\n")
    except StrongroomError as exc:
        log.warning("could not store the drill's result in %s: %s", chosen.name, exc.message)
        return None
    if previous is not None:
        try:
            engine.forget([previous.id])
        except StrongroomError as exc:  # the newer record counts; the old one stays a while
            log.warning("could not forget the previous drill record of %s: %s", chosen.name,
                        exc.message)
    return DRILL_PART


def last_drills(session: Session, url: str) -> dict[str, DrillRecord]:
    """This host's drill records for a repository, by set name."""
    found = {}
    for data in session.state.drills(url):
        try:
            record = DrillRecord.model_validate(data)
        except ValueError:
            continue
        found[record.set] = record
    return found
