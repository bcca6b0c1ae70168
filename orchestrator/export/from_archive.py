"""restore-backup --from-archive: an export's logical layout back onto this host.

An archive is untrusted input. Its manifest only maps members to logical names:
where files go comes from the profile (a part's logical name must be one the profile
names, at the same path) or from --target; which hook restores a dump, and into
which database or file, comes from the profile's own hook (or --as-database). A dump
whose client would run commands found in the stream (psql's `\\!`, a command hook)
is refused unless the archive is authenticated (the encrypted tar envelope) or the
user says --trust-archive. The archive is read twice: once to plan (every name
checked, every conflict and limit found, nothing written), then to write through
`SafeTree`, which never follows a symlink below a part's root.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from orchestrator import run
from orchestrator.errors import ConflictError, StrongroomError, UsageError
from orchestrator.export.envelope import HEADER_SIZE, is_envelope
from orchestrator.export.placement import (
    Part,
    Placement,
    check_manifest,
    check_member,
    check_space,
    parts_for,
    place,
)
from orchestrator.export.safe_tree import SafeTree, UnsafePath, components, shown
from orchestrator.export.unpack import (
    SKIPPED,
    HostileArchive,
    Member,
    open_members,
    read_archive_manifest,
)
from orchestrator.models import RestoreBackupRequest, RestorePlanEntry, RestoreResult
from orchestrator.models.spilled import SpilledPaths
from orchestrator.profile.schema import Profile
from orchestrator.run.pipes import read_chunks
from orchestrator.sets.digest import StreamDigest
from orchestrator.sets.dumps import (
    FILE_TARGET_HOOKS,
    StreamRestore,
    conflicts_of,
    context_for,
    restore_plans,
)
from orchestrator.sets.layout import select_for_restore
from orchestrator.sets.manifest import Manifest
from orchestrator.sets.restore import parse_as_database, retarget, select_streams
from orchestrator.sets.session import Session

MAX_ENTRIES = 1_000_000


def restore_from_archive(session: Session, request: RestoreBackupRequest) -> RestoreResult:
    assert request.from_archive is not None
    archive = Path(request.from_archive).expanduser().absolute()
    password = request.archive_password.get_secret_value().encode() \
        if request.archive_password else None
    clock = time.monotonic()
    manifest = read_archive_manifest(archive, password)
    check_manifest(manifest)
    sources = [] if request.databases else select_for_restore(
        manifest.sources(), request.mode, request.services, check_services=False)
    chosen = [p for p in manifest.paths if p.source in {s.source for s in sources}]
    target_root = Path(request.target).expanduser().absolute() if request.target else None
    parts = parts_for(session.profile, chosen, target_root)
    stream_plans = _stream_plans(session.profile, manifest, request, target_root)
    trusted = request.trust_archive or authenticated(archive)
    if not trusted:
        _refuse_script_streams(session.profile, stream_plans, archive)
    by_logical = {item.stream.logical: item for item in stream_plans}
    placements, conflicts, plan = _plan(archive, password, parts, by_logical, manifest,
                                        request.max_bytes)
    conflicts += conflicts_of(session.profile, stream_plans)
    plan += [RestorePlanEntry(kind="database", part=s.stream.logical, logical=s.stream.logical,
                              source=s.stream.database, target=s.plan.target, files=1,
                              bytes=s.stream.bytes) for s in stream_plans]
    result = RestoreResult(
        set=manifest.set, id="", time=manifest.started, mode=request.mode,
        target=str(target_root or "/"), dry_run=request.dry_run, plan=plan,
        conflicts=SpilledPaths(conflicts), files=sum(e.files for e in plan if e.kind == "files"),
        bytes=sum(e.bytes for e in plan), restored=False, verified=False, duration=0.0)
    if request.dry_run:
        return result
    if conflicts and not request.force:
        raise ConflictError(
            f"restoring {manifest.set} from {archive.name} would overwrite {len(conflicts)} "
            "existing path(s):\n" + "\n".join(f"  {c}" for c in conflicts[:20])
            + (f"\n  … and {len(conflicts) - 20} more" if len(conflicts) > 20 else "")
            + "\nnothing was written; use --force, --target DIR, or --dry-run")
    _write(archive, password, placements, by_logical, session)
    result.restored = True
    result.duration = round(time.monotonic() - clock, 3)
    return result


def authenticated(archive: Path) -> bool:
    """Whether every byte read from the archive is authenticated before it is used: the
    encrypted tar envelope (AES-256-GCM per segment) is. An AES ZIP is not: WinZip AE-2
    checks an entry's HMAC only after all of its data has been handed out."""
    with open(archive, "rb") as handle:
        return is_envelope(handle.read(HEADER_SIZE))


def _stream_plans(profile: Profile, manifest: Manifest, request: RestoreBackupRequest,
                  target_root: Path | None) -> list[StreamRestore]:
    streams = select_streams(manifest.streams, request)
    renames = parse_as_database(request.as_database, manifest.streams, request)
    plans = restore_plans(profile, streams, renames, request.force, from_archive=True)
    if target_root is None:
        return plans
    return [dataclasses.replace(item, plan=dataclasses.replace(
                item.plan, target=str(retarget(item.plan.target, target_root))))
            if item.stream.hook in FILE_TARGET_HOOKS else item for item in plans]


def _refuse_script_streams(profile: Profile, plans: Sequence[StreamRestore],
                           archive: Path) -> None:
    ctx = context_for(profile)
    risky = [(item, risk) for item in plans
             if (risk := item.ref.hook.untrusted_risk(item.ref.config, ctx, item.plan))]
    if risky:
        lines = "\n".join(f"  {item.stream.logical}: {risk}" for item, risk in risky)
        raise UsageError(
            f"{archive.name} is not authenticated (only encrypted tar exports are), and "
            f"replaying these dumps could run commands on this host:\n{lines}\n"
            "nothing was written; restore from the repository, or pass --trust-archive "
            "if you know who made this archive and that nobody changed it since")


@dataclass(frozen=True)
class Planned:
    """A member as the plan pass saw it; the write pass must see the same."""

    name: str
    kind: str
    size: int
    digest: str | None  # of its data, read whole in the plan pass
    place: Placement | None  # None: not written as a file (a dump, the manifest, a log)


def _plan(
    archive: Path, password: bytes | None, parts: Sequence[Part],
    streams: Mapping[str, StreamRestore], manifest: Manifest, max_bytes: int | None,
) -> tuple[list[Planned], list[str], list[RestorePlanEntry]]:
    """Every member checked, in archive order, and its data read to the end (sizes, CRCs
    and HMACs are only known there); nothing is written."""
    order: list[Planned] = []
    seen: set[tuple[Path, str]] = set()
    links: set[tuple[Path, str]] = set()
    conflicts: list[str] = []
    counts: dict[str, list[int]] = {p.logical: [0, 0] for p in parts}
    stream_names = {s.logical for s in manifest.streams}
    with open_members(archive, password) as members:
        for member in members:
            if len(order) >= MAX_ENTRIES:
                raise HostileArchive(f"{archive.name} holds more than {MAX_ENTRIES} entries; "
                                     "refused, nothing was written")
            try:
                name = "/".join(components(member.name))
            except UnsafePath as exc:
                raise HostileArchive(f"archive entry refused: {exc.message}; nothing was "
                                     "written") from None
            digest = _digest_of(member)
            if member.name in SKIPPED or name in stream_names:
                if name in streams:
                    _check_stream(member, streams[name], digest)
                order.append(Planned(member.name, member.kind, member.size, digest, None))
                continue
            spot = place(member, name, parts)
            order.append(Planned(member.name, member.kind, member.size, digest, spot))
            if spot is None:
                continue
            check_member(member, spot, seen, links)
            if os.path.lexists(spot.destination):
                is_dir = spot.destination.is_dir() and not spot.destination.is_symlink()
                if is_dir and member.kind != "dir":
                    raise ConflictError(f"{spot.destination} is a folder here and not a folder "
                                        "in the archive; nothing was written; move it away or "
                                        "restore with --target DIR")
                if not is_dir or member.kind != "dir":
                    conflicts.append(str(spot.destination))
            if member.kind != "dir":
                counts[spot.part.logical][0] += 1
                counts[spot.part.logical][1] += member.size
    check_space(parts, sum(size for _, size in counts.values()), max_bytes)
    plan = [RestorePlanEntry(part="files", logical=p.logical, source=p.source,
                             target=str(p.root), files=counts[p.logical][0],
                             bytes=counts[p.logical][1]) for p in parts]
    return order, conflicts, plan


def _digest_of(member: Member) -> str | None:
    if member.reader is None:
        return None
    tap = StreamDigest()
    for chunk in read_chunks(member.reader):
        tap.update(memoryview(chunk))
    return tap.label


def _check_stream(member: Member, item: StreamRestore, digest: str | None) -> None:
    if member.kind != "file":
        raise HostileArchive(f"archive entry {shown(member.name)} should be a dump but is "
                             "not a regular file; nothing was written")
    if item.stream.digest and digest != item.stream.digest:
        raise HostileArchive(f"{item.stream.logical}: the archive's copy does not match the "
                             "digest its manifest records; nothing was written")


def _write(archive: Path, password: bytes | None, order: Sequence[Planned],
           streams: Mapping[str, StreamRestore], session: Session) -> None:
    directories: list[tuple[SafeTree, str, Member]] = []
    trees: dict[Path, SafeTree] = {}
    written = 0
    try:
        with open_members(archive, password) as members:
            for index, member in enumerate(members):
                seen = order[index] if index < len(order) else None
                if seen is None or (seen.name, seen.kind, seen.size) != (
                        member.name, member.kind, member.size):
                    raise HostileArchive(f"{archive.name} changed while it was being restored; "
                                         f"stopped after {written} entries")
                name = member.name.rstrip("/")
                if seen.place is None:
                    if name in streams:
                        _restore_stream(member, streams[name], session)
                    continue
                tree = trees.get(seen.place.part.tree)
                if tree is None:
                    tree = trees[seen.place.part.tree] = SafeTree(seen.place.part.tree)
                _write_member(tree, seen, member, directories)
                written += 1
        for tree, rel, member in reversed(directories):
            tree.set_dir_meta(rel, member.mode, member.mtime)
    except (UnsafePath, OSError) as exc:
        detail = exc.message if isinstance(exc, StrongroomError) else \
            f"{exc.strerror or exc} ({shown(exc.filename or '')})"
        raise HostileArchive(f"restoring {archive.name} stopped after {written} entries: "
                             f"{detail}") from None
    finally:
        for tree in trees.values():
            tree.close()


def _write_member(tree: SafeTree, seen: Planned, member: Member,
                  directories: list[tuple[SafeTree, str, Member]]) -> None:
    assert seen.place is not None
    rel = seen.place.rel
    if member.kind == "dir":
        if rel != ".":
            tree.mkdir(rel)
        directories.append((tree, rel, member))
    elif member.kind == "symlink":
        tree.symlink(rel, member.link)
    else:
        assert member.reader is not None
        tree.write_file(rel, _same_data(member, seen.digest), member.mode, member.mtime,
                        limit=member.size)


def _same_data(member: Member, digest: str | None) -> Iterator[bytes]:
    """The member's data; raises at its end (before the file is renamed into place) when
    it differs from what the plan pass read."""
    assert member.reader is not None
    tap = StreamDigest()
    for chunk in read_chunks(member.reader):
        tap.update(memoryview(chunk))
        yield chunk
    if tap.label != digest:
        raise UnsafePath(f"{shown(member.name)} changed while the archive was being restored")


def _restore_stream(member: Member, item: StreamRestore, session: Session) -> None:
    assert member.reader is not None
    stream = item.stream
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
                              f"(exit {exc.returncode}): {exc.stderr_tail.strip()[-2000:]}"
                              ) from None
    finally:
        item.ref.hook.finish_restore(item.plan, succeeded)
    if stream.digest and tap.label != stream.digest:
        raise StrongroomError(f"{stream.logical}: the archive's copy does not match the digest "
                              f"recorded at backup time")


__all__ = ["authenticated", "restore_from_archive"]
