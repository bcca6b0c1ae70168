"""backup-migrate --to: a set copied into a repository of any engine (restic→borg,
borg→restic, restic→restic under other keys), part by part.

Every part goes through two processes: the source engine's dump piped into the target
engine's backup, each with its own repository's environment, so two repositories that
need different values of one variable (two S3 endpoints, two AWS_ACCESS_KEY_ID) work
together. Stream parts (dumps, logs, a drill's result) are never on disk; their bytes
are digested on the way and checked against the manifest. The files part goes into borg
as a tar stream (`borg import-tar`); restic 0.14 cannot import a tar, so for restic the
source restores it into a private staging folder that restic backs up from below (see
restic_transfer: the snapshot holds the source's paths).

The copy keeps the set's name, time, host and tags, and its manifest byte for byte. Its
parts are written in sync's order, streams first and the final part last; a copy that
fails forgets what it wrote, so the target never keeps half a set from it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Collection
from pathlib import Path

from orchestrator.engines.base import Engine, ProducerFailed, Snapshot
from orchestrator.errors import ConflictError, StrongroomError, UsageError
from orchestrator.models import BackupMigrateRequest, BackupMigrateResult, MigratedPart
from orchestrator.run import CommandError
from orchestrator.sets.digest import StreamDigest
from orchestrator.sets.manifest import Manifest, read_manifest
from orchestrator.sets.naming import FILES_PART, PRODUCT_TAG, BackupSet, group_sets
from orchestrator.sets.session import Session, choose_set, load_sets

log = logging.getLogger("strongroom")

# Tags that describe one repository's copy, not the set: restic's staging prefix.
LOCAL_TAGS = ("root=",)


def migrate_set(session: Session, request: BackupMigrateRequest) -> BackupMigrateResult:
    assert request.to is not None
    clock = time.monotonic()
    source_name, source = session.engine(request.destination)
    target_name, target = session.engine(request.to)
    if source_name == target_name:
        raise UsageError(f"--to {target_name} is the repository the set is in; name another")
    url = session.profile.repositories[source_name].url
    chosen = choose_set(session, source, source_name, load_sets(session, source, url),
                        request.backup)
    created = target.init()
    refuse_held(target, target_name, chosen.name)
    parts, staged = copy_set(session, source, target, chosen)
    return BackupMigrateResult(set=chosen.name, source=source_name, target=target_name,
                               created=created, parts=parts, staged=staged,
                               duration=round(time.monotonic() - clock, 3))


def refuse_held(target: Engine, target_name: str, set_name: str) -> None:
    """No silent overwrite: a set the target holds, even in part, is not copied again."""
    held = target.snapshots([PRODUCT_TAG, f"set={set_name}"])
    if held:
        raise ConflictError(
            f"{target_name} already holds set {set_name} ({len(held)} part(s)); nothing was "
            f"copied. Forget it there first, or copy to another repository")


def copy_set(session: Session, source: Engine, target: Engine, entry: BackupSet,
             present: Collection[str] = ()) -> tuple[list[MigratedPart], bool]:
    """Every part of `entry` not in `present` (part names the target already holds) into
    `target`; the copy checked complete, its manifest equal to the source's. Returns the
    parts written and whether the files part was staged on disk."""
    final = entry.final
    if final is None:
        raise StrongroomError(f"set {entry.name} has no final part: nothing to copy")
    manifest = read_manifest(source, final, entry.base)
    digests = {stream.part: stream.digest for stream in manifest.streams}
    written: list[MigratedPart] = []
    staged = False
    try:
        for part, snap in sorted(entry.parts.items()):
            if part != FILES_PART and part not in present:
                written.append(copy_stream(source, target, part, snap, digests.get(part)))
        if FILES_PART not in present:
            if not manifest.paths:  # a set of dumps alone: its manifest is a stream
                written.append(copy_stream(source, target, FILES_PART, final, None))
            else:
                copied, staged = copy_files(session, source, target, final)
                written.append(copied)
        _check_copy(target, entry, manifest)
    except BaseException:
        if written:
            _forget_quietly(target, [part.snapshot_id for part in written])
        raise
    return written, staged


def two_processes(source: Engine, target: Engine) -> bool:
    """Whether a copy must go through dump_command: the engines differ, or the two
    repositories need different values of one variable (one copy_from run holds one)."""
    return bool(target.copy_clash(source))


def carried(tags: Collection[str]) -> list[str]:
    """The tags a copied part keeps: all but those naming the source's own storage."""
    return [tag for tag in tags if not tag.startswith(LOCAL_TAGS)]


def copy_stream(source: Engine, target: Engine, part: str, snap: Snapshot,
                digest: str | None) -> MigratedPart:
    """One stored stream: source's dump → target's backup, digested on the way."""
    if len(snap.paths) != 1:
        raise StrongroomError(f"part {part} of snapshot {snap.short_id} holds "
                              f"{len(snap.paths)} paths, not one stream")
    path = snap.paths[0]
    tap = StreamDigest()
    try:
        summary = target.backup_stream(
            source.dump_command(snap.id, path), path.lstrip("/"), tags=carried(snap.tags),
            time=snap.time, host=snap.hostname, tap=tap)
    except ProducerFailed as exc:
        if exc.partial_snapshot:
            _forget_quietly(target, [exc.partial_snapshot])
        raise StrongroomError(f"reading part {part} from the source failed (exit "
                              f"{exc.returncode}): {exc.stderr_tail.strip()[-2000:]}") from None
    if digest and digest.split(":", 1)[0] == tap.algorithm and tap.label != digest:
        _forget_quietly(target, [summary.snapshot_id])
        raise StrongroomError(f"part {part}: the copied stream does not match the digest its "
                              "manifest records; nothing of it was kept")
    return MigratedPart(part=part, snapshot_id=summary.snapshot_id, bytes=tap.bytes,
                        digest=tap.label if digest else None)


def copy_files(session: Session, source: Engine, target: Engine,
                final: Snapshot) -> tuple[MigratedPart, bool]:
    tags, paths = carried(final.tags), list(final.paths)
    if target.imports_tar:
        try:
            summary = target.backup_tar(source.dump_command(final.id, "/", archive=True),
                                        paths, tags=tags, time=final.time, host=final.hostname)
        except ProducerFailed as exc:
            raise StrongroomError(f"reading the files part from the source failed (exit "
                                  f"{exc.returncode}): {exc.stderr_tail.strip()[-2000:]}"
                                  ) from None
        return MigratedPart(part=FILES_PART, snapshot_id=summary.snapshot_id,
                            bytes=summary.total_bytes or None), False
    staging = staging_folder(session)
    try:
        source.restore(final.id, staging)
        summary = target.backup_tree(staging, paths, tags=tags, time=final.time,
                                     host=final.hostname)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return MigratedPart(part=FILES_PART, snapshot_id=summary.snapshot_id,
                        bytes=summary.total_bytes or None), True


def staging_folder(session: Session) -> Path:
    """A new folder only this user can enter, in the state directory (not /tmp: the
    files of a set are as private as the repository)."""
    parent = session.state.root / "migrate"
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="set-", dir=parent))


def _check_copy(target: Engine, entry: BackupSet, manifest: Manifest) -> None:
    found = group_sets(target.snapshots([PRODUCT_TAG, f"set={entry.name}"]))
    copy = found[0] if found else None
    if copy is None or not copy.complete or copy.final is None:
        problem = copy.problem if copy is not None else "no part of it is there"
        raise StrongroomError(f"the copy of {entry.name} is not complete: {problem}")
    if read_manifest(target, copy.final, copy.base).to_bytes() != manifest.to_bytes():
        raise StrongroomError(f"the copy of {entry.name} does not hold the manifest it was "
                              "copied with")


def _forget_quietly(target: Engine, snapshot_ids: list[str]) -> None:
    try:
        target.forget(snapshot_ids)
    except (StrongroomError, CommandError) as exc:
        log.warning("could not forget the partial copy (%s): %s", ", ".join(
            sid[:8] for sid in snapshot_ids), exc)
