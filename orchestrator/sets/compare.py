"""backup-compare: what changed between two sets, part by logical part.

File parts are compared with the engine's diff of the two final snapshots (content,
not timestamps), each change assigned to the part whose source path holds it; stream
parts by their recorded size and digest.
"""

from __future__ import annotations

from collections.abc import Sequence

from orchestrator.engines.base import Change, Engine
from orchestrator.errors import StrongroomError
from orchestrator.models import (
    BackupCompareRequest,
    ChangeKind,
    CompareResult,
    FileChange,
    PartComparison,
    PartStatus,
)
from orchestrator.sets.manifest import Manifest, ManifestPath
from orchestrator.sets.naming import BackupSet, select_set
from orchestrator.sets.session import Session, load_sets, set_manifest
from orchestrator.sets.vaults import as_vault_set

CHANGE_NAMES: dict[str, ChangeKind] = {
    "+": "added", "-": "removed", "M": "modified", "T": "modified", "?": "modified"}


def backup_compare(session: Session, request: BackupCompareRequest) -> CompareResult:
    repo_name, engine = session.engine(request.destination)
    sets = load_sets(session, engine, session.profile.repositories[repo_name].url)
    first, second = select_set(sets, request.a, None), select_set(sets, request.b, None)
    manifest_a = set_manifest(session, engine, first)
    manifest_b = set_manifest(session, engine, second)
    parts = _file_parts(engine, first, second, manifest_a.in_vault(None),
                        manifest_b.in_vault(None))
    for vault in sorted(set(first.vaults) | set(second.vaults)):
        parts += _vault_file_parts(session, vault, (first, manifest_a), (second, manifest_b))
    parts += _stream_parts(manifest_a, manifest_b)
    return CompareResult(a=first.name, b=second.name, parts=parts, summary=_summary(parts))


def _vault_file_parts(session: Session, vault: str, a: tuple[BackupSet, Manifest],
                      b: tuple[BackupSet, Manifest]) -> list[PartComparison]:
    """The file parts two sets keep in one vault, compared there (the streams are compared
    from the manifests, wherever they are)."""
    shares = [as_vault_set(entry, vault) if vault in entry.vaults else None for entry, _ in (
        a, b)]
    for (entry, _), share in zip((a, b), shares, strict=True):
        if vault in entry.vaults and share is None:
            why = entry.unchecked or f"its parts in {vault} were not found"
            raise StrongroomError(f"cannot compare {entry.name}'s parts in vault {vault}: {why}")
    share_a, share_b = shares[0] or shares[1], shares[1] or shares[0]
    assert share_a is not None and share_b is not None  # the vault is one of the sets'
    empty = a[1].model_copy(update={"paths": [], "streams": []})
    held_a = a[1].in_vault(vault) if shares[0] else empty
    held_b = b[1].in_vault(vault) if shares[1] else empty
    _, engine = session.engine((a[0] if vault in a[0].vaults else b[0]).home(vault))
    return _file_parts(engine, share_a, share_b, held_a, held_b)


def part_of(path: str, parts: Sequence[ManifestPath]) -> ManifestPath | None:
    """The part whose source holds the path (the most specific one)."""
    best = None
    for part in parts:
        root = part.source.rstrip("/") or "/"
        if path == root or path.startswith(root + "/") or root == "/":
            if best is None or len(part.source) > len(best.source):
                best = part
    return best


def _file_parts(engine: Engine, first: BackupSet, second: BackupSet, manifest_a: Manifest,
                manifest_b: Manifest) -> list[PartComparison]:
    assert first.final is not None and second.final is not None
    logical_a = {item.logical for item in manifest_a.paths}
    logical_b = {item.logical for item in manifest_b.paths}
    result = {name: PartComparison(part=name, kind="files", status="only-in-a")
              for name in logical_a - logical_b}
    result |= {name: PartComparison(part=name, kind="files", status="only-in-b")
               for name in logical_b - logical_a}
    shared = {name: PartComparison(part=name, kind="files", status="same")
              for name in logical_a & logical_b}
    if shared:
        changes = [c for c in engine.diff(first.final.id, second.final.id)
                   if not c.path.endswith("/")]
        sizes_a = _sizes(engine, first.final.id, changes, "+")
        sizes_b = _sizes(engine, second.final.id, changes, "-")
        for change in changes:
            kind = CHANGE_NAMES.get(change.modifier)
            side = manifest_a.paths if kind == "removed" else manifest_b.paths
            part = part_of(change.path, side)
            if kind is None or part is None or part.logical not in shared:
                continue  # strongroom's own staging files, or a part only one set has
            entry = shared[part.logical]
            size = sizes_a.get(change.path, 0) if kind == "removed" else sizes_b.get(
                change.path, 0)
            entry.changes.append(FileChange(path=change.path, change=kind, bytes=size))
            entry.status = "changed"
            if kind == "added":
                entry.added, entry.bytes_added = entry.added + 1, entry.bytes_added + size
            elif kind == "removed":
                entry.removed, entry.bytes_removed = entry.removed + 1, entry.bytes_removed + size
            else:
                entry.modified += 1
                entry.bytes_modified += size
    result |= shared
    return [result[name] for name in sorted(result)]


def _sizes(engine: Engine, snapshot_id: str, changes: Sequence[Change],
           missing_from: str) -> dict[str, int]:
    """File sizes in a snapshot, for the changed paths that exist in it (all but those
    marked `missing_from`: added ones are not in A, removed ones not in B)."""
    wanted = {c.path for c in changes if c.modifier != missing_from}
    if not wanted:
        return {}
    return {node.path: node.size for node in engine.ls(snapshot_id) if node.path in wanted}


def _stream_parts(manifest_a: Manifest, manifest_b: Manifest) -> list[PartComparison]:
    streams_a = {s.logical: s for s in manifest_a.streams}
    streams_b = {s.logical: s for s in manifest_b.streams}
    parts = []
    for name in sorted(streams_a.keys() | streams_b.keys()):
        a, b = streams_a.get(name), streams_b.get(name)
        status: PartStatus
        if a is None or b is None:
            status = "only-in-b" if a is None else "only-in-a"
        else:
            status = "same" if (a.bytes, a.digest) == (b.bytes, b.digest) else "changed"
        parts.append(PartComparison(
            part=name, kind="stream", status=status,
            size_a=a.bytes if a else None, size_b=b.bytes if b else None,
            digest_a=a.digest if a else None, digest_b=b.digest if b else None))
    return parts


def _summary(parts: Sequence[PartComparison]) -> str:
    changed = sum(1 for p in parts if p.status == "changed")
    only_a = sum(1 for p in parts if p.status == "only-in-a")
    only_b = sum(1 for p in parts if p.status == "only-in-b")
    files = [p for p in parts if p.kind == "files"]
    return (f"{len(parts)} parts: {changed} changed, {only_a} only in A, {only_b} only in B; "
            f"files: {sum(p.added for p in files)} added "
            f"({sum(p.bytes_added for p in files)} bytes), {sum(p.removed for p in files)} "
            f"removed ({sum(p.bytes_removed for p in files)} bytes), "
            f"{sum(p.modified for p in files)} modified "
            f"({sum(p.bytes_modified for p in files)} bytes)")
