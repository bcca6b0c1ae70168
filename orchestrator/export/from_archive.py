"""restore-backup --from-archive: an export's logical layout back to its source paths."""

from __future__ import annotations

import os
import posixpath
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator import run
from orchestrator.digest import StreamDigest
from orchestrator.dumps import FILE_TARGET_HOOKS, conflicts_of, context_for, restore_plans
from orchestrator.errors import ConflictError, StrongroomError
from orchestrator.export.entries import read_chunks
from orchestrator.export.unpack import (
    SKIPPED,
    HostileArchive,
    Member,
    open_members,
    read_archive_manifest,
)
from orchestrator.layout import select_for_restore
from orchestrator.manifest import Manifest, ManifestPath, ManifestStream
from orchestrator.models import RestoreBackupRequest, RestorePlanEntry, RestoreResult
from orchestrator.restore import parse_as_database, retarget, select_streams
from orchestrator.service import Session


@dataclass(frozen=True)
class Placement:
    member: str
    destination: Path
    root: Path  # nothing of this part may land outside it


def _place(name: str, paths: Sequence[ManifestPath], target_root: Path) -> Placement | None:
    clean = posixpath.normpath(name.rstrip("/"))
    if name.startswith("/") or clean.startswith("../") or clean == ".." or "/../" in name \
            or name.startswith("../"):
        raise HostileArchive(f"archive entry {name!r} escapes its folder; nothing was written")
    best: ManifestPath | None = None
    for item in paths:
        if (clean == item.logical or clean.startswith(item.logical + "/")) and (
                best is None or len(item.logical) > len(best.logical)):
            best = item
    if best is None:
        return None
    root = retarget(best.source, target_root)
    rest = clean[len(best.logical):].lstrip("/")
    return Placement(name, root / rest if rest else root, root)


def _inside(path: Path, root: Path) -> bool:
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip("/") + "/")


def _check_member(member: Member, place: Placement, links: set[Path]) -> None:
    """Refuse what could write outside its part's root. Absolute symlinks are kept as the
    data they are (restic restores them too), but nothing is ever written through one."""
    if member.kind == "other":
        raise HostileArchive(f"archive entry {member.name!r} is a hard link or device; "
                             "refused, nothing was written")
    for parent in place.destination.parents:
        if parent in links:
            raise HostileArchive(f"archive entry {member.name!r} would be written through the "
                                 f"symlink {parent}; refused, nothing was written")
    if member.kind == "symlink":
        links.add(place.destination)
        if not Path(member.link).is_absolute():
            pointed = posixpath.normpath(str(place.destination.parent / member.link))
            root = str(place.root)
            if pointed != root and not pointed.startswith(root.rstrip("/") + "/"):
                raise HostileArchive(
                    f"archive entry {member.name!r} is a symlink climbing out of {place.root} "
                    f"({member.link}); refused, nothing was written")


def restore_from_archive(session: Session, request: RestoreBackupRequest) -> RestoreResult:
    assert request.from_archive is not None
    archive = Path(request.from_archive).expanduser().absolute()
    password = request.archive_password.get_secret_value().encode() \
        if request.archive_password else None
    clock = time.monotonic()
    manifest = read_archive_manifest(archive, password)
    sources = [] if request.databases else select_for_restore(
        manifest.sources(), request.mode, request.services, check_services=False)
    chosen_paths = [p for p in manifest.paths if p.source in {s.source for s in sources}]
    target_root = Path(request.target).expanduser().absolute() if request.target else Path("/")
    streams = select_streams(manifest.streams, request)
    renames = parse_as_database(request.as_database, manifest.streams, request)
    for item in streams:
        if item.hook in FILE_TARGET_HOOKS and item.database not in renames:
            renames[item.database] = str(retarget(item.database, target_root))
    stream_plans = restore_plans(session.profile, streams, renames, request.force)
    by_logical = {item.stream.logical: item for item in stream_plans}

    placements, conflicts, plan = _plan(archive, password, chosen_paths, target_root,
                                        by_logical, manifest)
    conflicts += conflicts_of(session.profile, stream_plans)
    plan += [RestorePlanEntry(kind="database", part=s.stream.logical, logical=s.stream.logical,
                              source=s.stream.database, target=s.plan.target, files=1,
                              bytes=s.stream.bytes) for s in stream_plans]
    result = RestoreResult(
        set=manifest.set, id="", time=manifest.started, mode=request.mode,
        target=str(target_root), dry_run=request.dry_run, plan=plan, conflicts=conflicts,
        files=sum(e.files for e in plan if e.kind == "files"),
        bytes=sum(e.bytes for e in plan), restored=False, verified=False, duration=0.0)
    if request.dry_run:
        return result
    if conflicts and not request.force:
        raise ConflictError(
            f"restoring {manifest.set} from {archive.name} would overwrite {len(conflicts)} "
            "existing path(s):\n" + "\n".join(f"  {c}" for c in conflicts[:20])
            + "\nnothing was written; use --force, --target DIR, or --dry-run")
    _write(archive, password, placements, by_logical, session)
    result.restored = True
    result.duration = round(time.monotonic() - clock, 3)
    return result


def _plan(
    archive: Path, password: bytes | None, paths: Sequence[ManifestPath], target_root: Path,
    streams: Mapping[str, object], manifest: Manifest,
) -> tuple[dict[str, Placement], list[str], list[RestorePlanEntry]]:
    placements: dict[str, Placement] = {}
    links: set[Path] = set()
    conflicts: list[str] = []
    counts: dict[str, list[int]] = {p.logical: [0, 0] for p in paths}
    with open_members(archive, password) as members:
        for member in members:
            if member.name in SKIPPED or member.name.rstrip("/") in streams:
                continue
            place = _place(member.name, paths, target_root)
            if place is None:
                if not any(member.name == s.logical for s in manifest.streams):
                    _place(member.name, [], target_root)  # still refuse hostile names
                continue
            _check_member(member, place, links)
            placements[member.name] = place
            exists = os.path.lexists(place.destination)
            if exists and not (member.kind == "dir" and place.destination.is_dir()
                               and not place.destination.is_symlink()):
                conflicts.append(str(place.destination))
            owner = max((p for p in paths if place.root == retarget(p.source, target_root)),
                        key=lambda p: len(p.logical))
            if member.kind != "dir":
                counts[owner.logical][0] += 1
                counts[owner.logical][1] += member.size
    plan = [RestorePlanEntry(part="files", logical=p.logical, source=p.source,
                             target=str(retarget(p.source, target_root)),
                             files=counts[p.logical][0], bytes=counts[p.logical][1])
            for p in paths]
    return placements, conflicts, plan


def _write(archive: Path, password: bytes | None, placements: dict[str, Placement],
           streams: Mapping[str, object], session: Session) -> None:
    directories: list[tuple[Path, Member]] = []
    with open_members(archive, password) as members:
        for member in members:
            name = member.name.rstrip("/")
            if name in streams:
                _restore_stream(member, streams[name], session)
                continue
            place = placements.get(member.name)
            if place is None:
                continue
            dest = place.destination
            if not _inside(dest.parent, place.root) and dest != place.root:
                raise HostileArchive(f"archive entry {member.name!r} would be written through "
                                     f"a symlink out of {place.root}; stopped")
            if member.kind == "dir":
                dest.mkdir(parents=True, exist_ok=True)
                directories.append((dest, member))
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            if os.path.lexists(dest) and (dest.is_symlink() or not dest.is_file()):
                dest.unlink()
            if member.kind == "symlink":
                dest.symlink_to(member.link)
                continue
            assert member.reader is not None
            with open(dest, "wb") as out:
                for chunk in read_chunks(member.reader):
                    out.write(chunk)
            os.chmod(dest, member.mode)
            os.utime(dest, (member.mtime, member.mtime))
    for dest, member in reversed(directories):
        os.chmod(dest, member.mode)
        os.utime(dest, (member.mtime, member.mtime))


def _restore_stream(member: Member, item: object, session: Session) -> None:
    from orchestrator.dumps import StreamRestore

    assert isinstance(item, StreamRestore) and member.reader is not None
    stream: ManifestStream = item.stream
    command = item.ref.hook.restore(item.ref.config, context_for(session.profile), item.plan)
    tap = StreamDigest()
    succeeded = False
    try:
        with run.prepared(command) as (argv, env, fds), run.feeding(argv, env=env,
                                                                     pass_fds=fds) as stdin:
            for chunk in read_chunks(member.reader):
                tap.update(memoryview(chunk))
                stdin.write(chunk)
        succeeded = True
    except run.CommandError as exc:
        raise StrongroomError(f"restoring {stream.logical} into {item.plan.target} failed "
                              f"(exit {exc.returncode}): {exc.stderr_tail.strip()}") from None
    finally:
        item.ref.hook.finish_restore(item.plan, succeeded)
    if stream.digest and tap.label != stream.digest:
        raise StrongroomError(f"{stream.logical}: the archive's copy does not match the digest "
                              f"recorded at backup time")


__all__ = ["restore_from_archive"]
