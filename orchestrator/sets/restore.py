"""restore-backup: choose a set, plan what goes where, refuse conflicts, then restore.

Files go back to their absolute source paths, or under --target DIR keeping those
paths (DIR/srv/…), as restic does. Nothing that exists is overwritten without force.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.engines.base import Node, ProgressCallback
from orchestrator.engines.restic_args import escape_pattern
from orchestrator.errors import ConflictError, StrongroomError, UsageError
from orchestrator.models import RestoreBackupRequest, RestorePlanEntry, RestoreResult
from orchestrator.models.spilled import SpilledPaths
from orchestrator.sets.dumps import FILE_TARGET_HOOKS, conflicts_of, restore_plans, restore_streams
from orchestrator.sets.layout import SourcePath, select_for_restore
from orchestrator.sets.manifest import Manifest, ManifestStream
from orchestrator.sets.naming import BackupSet, parse_timestamp
from orchestrator.sets.progress import PartProgress
from orchestrator.sets.session import Session, choose, load_sets, set_manifest
from orchestrator.sets.vault_passwords import ask_for_vaults, session_with, with_password_files
from orchestrator.sets.vaults import PlaceShare, places_of, split_by_place

SHOWN_CONFLICTS = 20


def restore_backup(session: Session, request: RestoreBackupRequest,
                   on_progress: ProgressCallback | None = None) -> RestoreResult:
    """A set from a repository (restore-backup --from-archive is export.from_archive's)."""
    if request.backup is None and request.timestamp is None:
        raise UsageError("say which backup: --backup NAME|latest|ID or --timestamp TIME")
    if request.name and request.backup:
        raise UsageError("--name narrows --timestamp; with --backup, name the set there")
    moment = parse_timestamp(request.timestamp) if request.timestamp else None
    if request.vault_password_files:
        session = session_with(session, with_password_files(session.profile,
                                                            request.vault_password_files))
    repo_name, engine = session.engine(request.destination)
    url = session.profile.repositories[repo_name].url
    selection = choose(session, engine, repo_name, load_sets(session, engine, url),
                       request.backup, moment, request.name, request.type)
    chosen = selection.chosen
    final = chosen.final
    assert final is not None  # select_set returns complete sets only
    session = ask_for_vaults(session, chosen, session.ask_vault_password)
    clock = time.monotonic()
    manifest = set_manifest(session, engine, chosen)
    check_services(manifest, request.services)
    places, manifest = places_of(session, engine, chosen, manifest)
    sources = [] if request.databases else select_for_restore(
        manifest.sources(), request.mode, request.services, check_services=False)
    target_root = Path(request.target).expanduser().absolute() if request.target else Path("/")
    renames = parse_as_database(request.as_database, manifest.streams, request)
    for item in select_streams(manifest.streams, request):
        if item.hook in FILE_TARGET_HOOKS and item.database not in renames:
            # A database file or a disk follows --target like every other file.
            renames[item.database] = str(retarget(item.database, target_root))
    stream_plans = restore_plans(session.profile, select_streams(manifest.streams, request),
                                 renames, request.force)
    if not sources and not stream_plans:
        raise UsageError(f"backup {chosen.name} holds nothing for --mode {request.mode}")
    shares, unreadable = split_by_place(places, manifest, sources, stream_plans)
    plan: list[RestorePlanEntry] = []
    conflicts = SpilledPaths()  # every clash may be one: kept on disk, not in memory
    surveyed: list[tuple[PlaceShare, list[SourcePath], Survey]] = []
    for share in shares:
        here = share.place.engine
        assert here is not None  # split_by_place keeps the readable places only
        # Only a dry run, or a target that holds something, needs the stored tree: a part
        # restored into nothing conflicts with nothing, and is counted once restored.
        listed = [item for item in share.sources
                  if request.dry_run or not vacant(retarget(item.source, target_root))]
        found = survey(here.walk(share.place.snapshot_id, [item.source for item in listed])
                       if listed else (), share.sources, target_root, conflicts)
        plan += _plan(share.sources, found, target_root)
        surveyed.append((share, listed, found))
    readable_streams = [item for share in shares for item in share.streams]
    plan += [
        RestorePlanEntry(part=item.stream.logical, logical=item.stream.logical,
                         source=item.stream.database, target=item.plan.target, files=1,
                         bytes=item.stream.bytes, kind="database")
        for item in readable_streams
    ]
    conflicts.extend(conflicts_of(session.profile, readable_streams))
    result = RestoreResult(
        set=chosen.name, id=chosen.id, time=chosen.time, mode=request.mode,
        target=str(target_root), dry_run=request.dry_run, plan=plan, conflicts=conflicts,
        files=sum(entry.files for entry in plan if entry.kind == "files"),
        bytes=sum(entry.bytes for entry in plan), restored=False, verified=False, duration=0.0,
        reason=selection.reason, unreadable=unreadable,
    )
    if request.dry_run:
        return result
    if conflicts and not request.force:
        raise ConflictError(conflict_message(chosen, conflicts))
    restored = [item for share in shares for item in share.sources]
    # A target that held nothing was not listed: its size is known once restored.
    whole = all(len(listed) == len(share.sources) for share, listed, _ in surveyed)
    files_progress = PartProgress(on_progress, "files", "restore")
    if restored:
        files_progress.started(
            sum(entry.bytes for entry in plan if entry.kind == "files") if whole else 0,
            result.files if whole else 0)
    for share, _listed, found in surveyed:
        if share.sources and share.place.engine is not None:
            check_target(target_root, share.sources)
            if conflicts:
                _clear(found.to_clear)
            share.place.engine.restore(
                share.place.snapshot_id, target_root,
                includes=[escape_pattern(item.source) for item in share.sources],
                verify=request.verify,
            )
    unlisted = {item.source for share, listed, _ in surveyed
                for item in share.sources if item not in listed}
    for entry in result.plan:
        if entry.kind == "files" and entry.source in unlisted:
            entry.files, entry.bytes = count_tree(Path(entry.target))
    result.files = sum(entry.files for entry in result.plan if entry.kind == "files")
    if restored:
        files_progress.finished(
            sum(entry.bytes for entry in result.plan if entry.kind == "files"), result.files)
    for share in shares:
        if share.streams and share.place.engine is not None:
            restore_streams(share.place.engine, session.profile, share.streams, on_progress)
    result.bytes = sum(entry.bytes for entry in result.plan)
    if unreadable:
        raise StrongroomError(
            f"restored {chosen.name} except what its vaults hold that could not be read:\n"
            + "\n".join(f"  {line}" for line in unreadable),
            hint="give the vault's password (--vault-password-file VAULT=FILE, or its "
                 "password_file, password_command or password_env in the profile) and "
                 "restore again with --services")
    result.restored = True
    result.verified = request.verify
    result.duration = round(time.monotonic() - clock, 3)
    return result


def check_services(manifest: Manifest, services: Sequence[str]) -> None:
    present = {item.service for item in manifest.sources() if item.service}
    present |= {stream.service for stream in manifest.streams}
    unknown = [name for name in services if name not in present]
    if unknown:
        raise UsageError(
            f"the backup holds no service named {', '.join(unknown)} "
            f"(it has: {', '.join(sorted(present)) or 'none'})"
        )


def select_streams(
    streams: Sequence[ManifestStream], request: RestoreBackupRequest
) -> list[ManifestStream]:
    """The dumps a restore brings back: none for config-only; globals only when asked."""
    if request.mode == "config-only":
        return []
    chosen = [s for s in streams if not request.services or s.service in request.services]
    if request.databases:
        chosen = [s for s in chosen if s.database in request.databases or s.format == "globals"]
    # Roles and tablespaces go first, and only when asked for.
    globals_first = [s for s in chosen if s.format == "globals" and request.with_globals]
    return globals_first + [s for s in chosen if s.format != "globals"]


def parse_as_database(
    values: Sequence[str], streams: Sequence[ManifestStream], request: RestoreBackupRequest
) -> dict[str, str]:
    """`--as-database NEW` (one database restored) or `--as-database OLD=NEW` (any)."""
    mapping: dict[str, str] = {}
    chosen = [s for s in select_streams(streams, request) if s.format != "globals"]
    for value in values:
        old, sep, new = value.partition("=")
        if sep:
            if not any(s.database == old for s in chosen):
                raise UsageError(f"--as-database {value}: the restore holds no database {old!r}")
            mapping[old] = new
        elif len(chosen) == 1:
            mapping[chosen[0].database] = value
        else:
            names = ", ".join(s.database for s in chosen) or "none"
            raise UsageError(f"--as-database {value}: the restore holds {len(chosen)} databases "
                             f"({names}); say which with --as-database OLD=NEW")
    return mapping


@dataclass
class Survey:
    """What the stored tree below the listed parts holds, seen in one pass: each part's
    (entries that are not directories, bytes of its files), and of the clashes with what
    exists at the targets, those restic cannot overwrite in place (see _clear). No node
    is kept: a tree of millions that all clash is held on disk, not in memory."""

    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    to_clear: SpilledPaths = field(default_factory=SpilledPaths)


def survey(nodes: Iterable[Node], sources: Sequence[SourcePath], target_root: Path,
           conflicts: SpilledPaths) -> Survey:
    """Count the parts' entries; every clash goes to conflicts, in the stored order."""
    found = Survey({item.source: (0, 0) for item in sources})
    for node in nodes:
        for item in sources:
            if node.type != "dir" and _within(node.path, item.source):
                files, size = found.counts[item.source]
                found.counts[item.source] = (
                    files + 1, size + (node.size if node.type == "file" else 0))
        for clash, target, mode in _existing((node,), sources, target_root):
            conflicts.append(str(target))
            if _in_the_way(clash, mode):
                found.to_clear.append(_clearing(target, mode))
    return found


def _plan(
    sources: Sequence[SourcePath], found: Survey, target_root: Path
) -> list[RestorePlanEntry]:
    return [
        RestorePlanEntry(
            part="files", logical=item.logical, source=item.source,
            target=str(retarget(item.source, target_root)),
            files=found.counts[item.source][0], bytes=found.counts[item.source][1],
        )
        for item in sources
    ]


def vacant(target: Path) -> bool:
    """Nothing there, or an empty real directory: a restore into it replaces nothing."""
    if not os.path.lexists(target):
        return True
    if target.is_symlink() or not target.is_dir():
        return False
    try:
        with os.scandir(target) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def count_tree(root: Path) -> tuple[int, int]:
    """(entries that are not directories, bytes of the regular files) below root, as
    restic's ls counts a part: without following a symlink."""
    if not os.path.lexists(root):
        return 0, 0
    if root.is_symlink() or not root.is_dir():
        return 1, root.lstat().st_size if root.is_file() and not root.is_symlink() else 0
    files = size = 0
    folders = [str(root)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                    continue
                files += 1
                if entry.is_file(follow_symlinks=False):
                    size += entry.stat(follow_symlinks=False).st_size
    return files, size


def _within(path: str, root: str) -> bool:
    root = root.rstrip("/") or "/"
    return path == root or path.startswith(root + "/") or root == "/"


def retarget(source: str, target_root: Path) -> Path:
    return target_root / source.lstrip("/") if str(target_root) != "/" else Path(source)


def _existing(
    nodes: Iterable[Node], sources: Sequence[SourcePath], target_root: Path
) -> Iterator[tuple[Node, Path, int]]:
    """(node, its target, the target's st_mode, a symlink not followed) for each node of
    the chosen parts whose target exists and is not a directory meeting a directory."""
    for node in nodes:
        if not any(_within(node.path, item.source) for item in sources):
            continue
        target = retarget(node.path, target_root)
        try:
            mode = os.lstat(target).st_mode
        except OSError:  # as os.path.lexists: missing, or below a file
            continue
        if node.type == "dir" and stat.S_ISDIR(mode):
            continue
        yield node, target, mode


def find_conflicts(
    nodes: Iterable[Node], sources: Sequence[SourcePath], target_root: Path
) -> list[str]:
    """Existing things a restore would replace: any non-directory, or a directory's clash."""
    return [str(target) for _node, target, _is_dir in _existing(nodes, sources, target_root)]


def clear_for_overwrite(
    nodes: Iterable[Node], sources: Sequence[SourcePath], target_root: Path
) -> None:
    """Make way where restic cannot overwrite in place (with --force only).

    restic rewrites regular files over regular files itself, but it cannot replace
    an existing symlink, nor a file with a directory or the other way round.
    """
    _clear([_clearing(target, mode) for node, target, mode in
            _existing(nodes, sources, target_root) if _in_the_way(node, mode)])


def _in_the_way(node: Node, mode: int) -> bool:
    """restic rewrites a regular file over a regular file; anything else must go first."""
    return not (node.type == "file" and stat.S_ISREG(mode))


def _clearing(target: Path, mode: int) -> str:
    """What _clear reads: "d" and a real directory's path, or "f" and any other's."""
    return ("d" if stat.S_ISDIR(mode) else "f") + str(target)


def _clear(records: Iterable[str]) -> None:
    import shutil

    for record in records:
        target = Path(record[1:])
        if record[0] == "d":
            shutil.rmtree(target)
        else:
            target.unlink()


def conflict_message(chosen: BackupSet, conflicts: Sequence[str]) -> str:
    shown = "\n".join(f"  {path}" for path in conflicts[:SHOWN_CONFLICTS])
    more = len(conflicts) - SHOWN_CONFLICTS
    tail = f"\n  … and {more} more" if more > 0 else ""
    return (
        f"restoring {chosen.name} would overwrite {len(conflicts)} existing path(s):\n"
        f"{shown}{tail}\nnothing was written; use --force to overwrite, --target DIR to "
        "restore elsewhere, or --dry-run to see the plan"
    )


def check_target(target_root: Path, sources: Sequence[SourcePath]) -> None:
    if target_root.exists() and not target_root.is_dir():
        raise StrongroomError(f"--target {target_root} exists and is not a directory")
    if str(target_root) == "/":
        return
    for item in sources:
        # restic follows symlinks it finds on the way; one planted below the target
        # would carry the restore elsewhere.
        path = target_root
        for part in Path(item.source).parts[1:]:
            path = path / part
            if path.is_symlink():
                raise StrongroomError(f"--target {target_root}: {path} is a symlink; restic "
                                      "would write through it. Nothing was written; remove it "
                                      "or choose an empty target")
            if not path.exists():
                break


__all__ = ["check_target", "clear_for_overwrite", "conflict_message", "find_conflicts",
           "restore_backup", "retarget"]

