"""verify-backup: is a set whole, does it hold what the profile says, is the repository sound.

Checks, in order: the manifest reads and parses; every part it lists is stored with
its recorded size; every service the profile declares has the parts the set's type
requires; `restic check` (reading a subset of the data when asked). --deep-check also
streams each stream part through its digest and test-restores the file parts into a
temporary folder with `restic restore --verify`. The report is stored in the set as
its `logs/verification.log` part.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from orchestrator.engines.base import Engine
from orchestrator.engines.restic_args import escape_pattern
from orchestrator.errors import StrongroomError
from orchestrator.models import VerifyBackupRequest, VerifyCheck, VerifyResult
from orchestrator.run.pipes import read_chunks
from orchestrator.sets.digest import StreamDigest
from orchestrator.sets.dumps import hook_refs
from orchestrator.sets.layout import plan_sources
from orchestrator.sets.manifest import VERIFICATION_LOG, Manifest, ManifestStream, read_manifest
from orchestrator.sets.naming import BackupSet, set_tags
from orchestrator.sets.session import Session, choose_set, load_sets
from orchestrator.sets.vaults import as_vault_set, places_of

log = logging.getLogger("strongroom")
DATA_TYPES = ("full", "disaster-recovery")


def verify_backup(session: Session, request: VerifyBackupRequest) -> VerifyResult:
    repo_name, engine = session.engine(request.destination)
    sets = load_sets(session, engine, session.profile.repositories[repo_name].url)
    exact = [entry for entry in sets if entry.name == request.backup and entry.id]
    chosen = exact[-1] if exact else choose_set(session, engine, repo_name, sets,
                                                  request.backup)
    checks: list[VerifyCheck] = []

    def record(name: str, step: Callable[[], str]) -> None:
        try:
            checks.append(VerifyCheck(check=name, ok=True, detail=step()))
        except StrongroomError as exc:
            checks.append(VerifyCheck(check=name, ok=False, detail=exc.message))

    manifest: list[Manifest] = []
    record("manifest", lambda: _manifest(engine, chosen, manifest))
    whole = manifest[0] if manifest else None
    if manifest:  # the set's own parts here; each vault's below
        manifest[0] = manifest[0].in_vault(None)
        record("parts", lambda: _parts(engine, chosen, manifest[0]))
        record("dependencies", lambda: _dependencies(session, whole or manifest[0]))
    record("repository", lambda: _repository(engine, request.read_data_subset))
    if request.deep_check and manifest:
        record("stream digests", lambda: _digests(engine, manifest[0]))
        record("test restore", lambda: _test_restore(engine, chosen, manifest[0]))
    if whole is not None and whole.vaults:
        _vault_checks(session, engine, chosen, whole, request, record)
    result = VerifyResult(set=chosen.name, ok=all(c.ok for c in checks), checks=checks)
    if chosen.final is not None:
        result.log_part = _store_log(session, engine, chosen, result)
    return result


def _vault_checks(session: Session, engine: Engine, chosen: BackupSet, whole: Manifest,
                  request: VerifyBackupRequest,
                  record: Callable[[str, Callable[[], str]], None]) -> None:
    """The checks of the set's own parts, run in each vault on what it holds of the set."""
    _, located = places_of(session, engine, chosen, whole)
    for vault in whole.vaults:
        name, share = vault.repository, as_vault_set(chosen, vault.repository)
        if share is None:
            why = chosen.unchecked or f"its parts in {name} were not found"
            record(f"vault {name}", partial(_fail, why))
            continue
        held, (_, vengine) = located.in_vault(name), session.engine(chosen.home(name))
        record(f"vault {name} parts", partial(_parts, vengine, share, held))
        record(f"vault {name} repository",
               partial(_repository, vengine, request.read_data_subset))
        if request.deep_check:
            record(f"vault {name} digests", partial(_digests, vengine, held))
            record(f"vault {name} test restore", partial(_test_restore, vengine, share, held))


def _fail(why: str) -> str:
    raise StrongroomError(why)


def _manifest(engine: Engine, chosen: BackupSet, found: list[Manifest]) -> str:
    if chosen.final is None:
        raise StrongroomError("the final part, which holds the manifest, is missing")
    found.append(read_manifest(engine, chosen.final, chosen.base).located(chosen.parts))
    manifest = found[0]
    return f"{len(manifest.paths)} path(s), {len(manifest.streams)} stream(s)"


def _parts(engine: Engine, chosen: BackupSet, manifest: Manifest) -> str:
    assert chosen.final is not None
    gone = manifest.missing_streams(snap.id for snap in chosen.parts.values())
    problems = [f"{stream.logical}: its snapshot {stream.snapshot_id[:8]} is gone"
                for stream in gone]
    gone_parts = {stream.logical for stream in gone}
    for stream in manifest.streams:
        if stream.logical in gone_parts:
            continue
        size = _stored_size(engine, chosen, stream)
        if size != stream.bytes:
            problems.append(f"{stream.logical}: {size} bytes stored, {stream.bytes} recorded")
    held = {path.rstrip("/") for path in chosen.final.paths}
    problems += [f"{item.logical}: {item.source} is not in the final snapshot"
                 for item in manifest.paths if item.source.rstrip("/") not in held]
    if problems:
        raise StrongroomError("; ".join(problems))
    return f"{len(manifest.streams) + 1} part(s) present with their recorded sizes"


def _stored_size(engine: Engine, chosen: BackupSet, stream: ManifestStream) -> int | None:
    """A stream part's stored size: from its snapshot's summary in the listing when the
    engine records one (restic 0.17 and later), else from a listing of the part."""
    part = chosen.parts.get(stream.part)
    if part is not None and part.id.startswith(stream.snapshot_id) \
            and part.total_bytes is not None:
        return part.total_bytes
    nodes = engine.ls(stream.snapshot_id, ["/" + stream.logical])
    return next((node.size for node in nodes if node.path == "/" + stream.logical), None)


def _dependencies(session: Session, manifest: Manifest) -> str:
    """What the profile says a set of this type must hold, against what it holds."""
    profile = session.profile
    if manifest.type not in ("config", "service", *DATA_TYPES):
        return f"not applicable to a {manifest.type} set"
    services = [name for name in manifest.services if name in profile.services]
    if manifest.type != "service":
        services = list(profile.services)
    expected = plan_sources(profile, manifest.type, services if manifest.type == "service"
                            else (), manifest.include_data)
    held = {item.source for item in manifest.paths}
    missing = [f"{item.logical} ({item.source})" for item in expected if item.source not in held]
    with_data = manifest.type in DATA_TYPES or manifest.include_data
    if with_data:
        dumped = {(stream.service, stream.index) for stream in manifest.streams}
        missing += [f"services/{ref.service}: its {ref.kind} hook #{ref.index + 1} has no dump"
                    for ref in hook_refs(profile, services)
                    if (ref.service, ref.index) not in dumped]
    if missing:
        raise StrongroomError("missing: " + "; ".join(missing))
    return f"{len(services)} service(s) hold what a {manifest.type} set requires"


def _repository(engine: Engine, subset: str | None) -> str:
    report = engine.check(subset)
    if not report.ok:
        lines = [line for line in report.output.splitlines() if line.strip()]
        raise StrongroomError(f"{engine.version().name} check found damage:\n" + "\n".join(
            f"  {line}" for line in lines[-15:]))
    return f"{engine.version().name} check: no errors" + (
        f" (read {subset} of the data)" if subset else "")


def _digests(engine: Engine, manifest: Manifest) -> str:
    problems = []
    for stream in manifest.streams:
        tap = StreamDigest()
        with engine.open_dump(stream.snapshot_id, "/" + stream.logical) as source:
            for chunk in read_chunks(source):
                tap.update(memoryview(chunk))
        if stream.digest and tap.label != stream.digest:
            problems.append(f"{stream.logical}: digest {tap.label}, recorded {stream.digest}")
        elif tap.bytes != stream.bytes:
            problems.append(f"{stream.logical}: {tap.bytes} bytes, recorded {stream.bytes}")
    if problems:
        raise StrongroomError("; ".join(problems))
    return f"{len(manifest.streams)} stream(s) match their recorded digests"


def _test_restore(engine: Engine, chosen: BackupSet, manifest: Manifest) -> str:
    assert chosen.final is not None
    if not manifest.paths:
        return "no file parts"
    with tempfile.TemporaryDirectory(prefix="strongroom-verify-") as folder:
        engine.restore(chosen.final.id, Path(folder),
                       includes=[escape_pattern(item.source) for item in manifest.paths],
                       verify=True)
    return f"{len(manifest.paths)} file part(s) restored and re-read"


def _store_log(session: Session, engine: Engine, chosen: BackupSet,
               result: VerifyResult) -> str | None:
    when = datetime.now(UTC).replace(microsecond=0)
    lines = [f"{when.isoformat()} verify-backup {chosen.name}: "
             f"{'passed' if result.ok else 'FAILED'}"]
    lines += [f"  {c.check}: {'ok' if c.ok else 'FAILED'}: {c.detail}" for c in result.checks]
    tags = set_tags(chosen.name, VERIFICATION_LOG, chosen.type, chosen.profile,
                    list(chosen.services))
    try:
        pending = engine.start_stream_backup(VERIFICATION_LOG, tags=tags, time=when,
                                             host=session.host)
        pending.finish(("\n".join(lines) + "\n").encode())
    except StrongroomError as exc:
        log.warning("could not store %s in %s: %s", VERIFICATION_LOG, chosen.name, exc.message)
        return None
    return VERIFICATION_LOG
