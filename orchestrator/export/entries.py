"""A backup set as a stream of archive entries in its logical layout.

metadata.json comes first, then the file parts (read from one `restic dump
--archive tar` of the final snapshot, re-rooted from their source paths to their
logical prefixes), then the dumps, then logs/ and a disaster-recovery set's
strongroom/RECOVERY.md and strongroom/inventory.json. Nothing is staged on disk: each
file's data is handed on in chunks as restic writes it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Literal

from orchestrator.engines.base import Engine, Snapshot
from orchestrator.errors import StrongroomError
from orchestrator.export.tar_reader import TarMember, TarReader
from orchestrator.run.pipes import read_chunks
from orchestrator.sets.digest import StreamDigest
from orchestrator.sets.manifest import (
    INVENTORY_FILE,
    LOG_FILE,
    MANIFEST_FILE,
    RECOVERY_FILE,
    VERIFICATION_LOG,
    Manifest,
    ManifestPath,
    manifest_dir_in,
)

STAGED_FILES = (LOG_FILE, RECOVERY_FILE, INVENTORY_FILE)


@dataclass
class Entry:
    name: str
    kind: Literal["file", "dir", "symlink"]
    mode: int
    mtime: float
    size: int = 0
    link: str | None = None
    chunks: Iterator[bytes] = field(default_factory=lambda: iter(()))


def logical_name(path: str, prefixes: Sequence[tuple[str, str]]) -> str | None:
    """The logical name of an absolute path, by the longest source prefix that holds it."""
    for source, logical in prefixes:
        if path == source:
            return logical
        if path.startswith(source + "/"):
            return logical + path[len(source):]
    return None


def has_file_parts(final: Snapshot, base: str) -> bool:
    """Whether the final snapshot holds source paths besides the staged manifest."""
    staging = manifest_dir_in(final, base)
    return any(not (path == staging or path.startswith(staging + "/")) for path in final.paths)


def set_entries(
    engine: Engine,
    final: Snapshot,
    manifest: Manifest,
    manifest_bytes: bytes,
    services: Sequence[str] = (),
    tar_stream: IO[bytes] | None = None,
    verification: Snapshot | None = None,
    vaults: Sequence[tuple[str, Engine, str]] = (),
) -> Iterator[Entry]:
    """The set's entries. `tar_stream` is the final snapshot's `restic dump --archive tar /`,
    opened by the caller (early, so that restic opens the repository meanwhile);
    `verification` is the set's verification report part, when it has one; `vaults` the
    (repository, engine, snapshot id) of each vault part the manifest's parts name."""
    started = manifest.started.timestamp()
    yield Entry(MANIFEST_FILE, "file", 0o644, started, len(manifest_bytes),
                chunks=iter([manifest_bytes]))
    paths = [p for p in manifest.paths
             if not services or (p.kind.startswith("service") and p.owner in services)]
    staging = manifest_dir_in(final, manifest.name)
    prefixes = _prefixes([p for p in paths if p.repository is None])
    logs: list[Entry] = []
    if tar_stream is not None:
        archive = TarReader(tar_stream)
        for member in archive:
            path = "/" + member.name.strip("/")
            if path.startswith(staging + "/"):
                relative = path[len(staging) + 1:]
                if relative == MANIFEST_FILE:
                    _same_manifest(archive, member, manifest_bytes)
                logs += _staged_log(archive, member, relative)
                continue
            name = logical_name(path, prefixes)
            if name is None:
                continue
            yield _entry(archive, member, name)
    for repository, vault_engine, snapshot_id in vaults:
        held = _prefixes([p for p in paths if p.repository == repository])
        if held:
            yield from _vault_files(vault_engine, snapshot_id, held)
    engines: dict[str | None, Engine] = {None: engine}
    engines.update({repository: e for repository, e, _ in vaults})
    for item in manifest.streams:
        if services and item.service not in services:
            continue
        yield Entry(item.logical, "file", 0o600, started, item.bytes,
                    chunks=_stream_chunks(engines[item.repository], item.snapshot_id,
                                          item.logical, item.digest, item.bytes))
    if not logs and manifest.log:
        data = ("\n".join(manifest.log) + "\n").encode()
        logs.append(Entry(LOG_FILE, "file", 0o644, started, len(data), chunks=iter([data])))
    yield from logs
    if verification is not None:
        report = engine.dump(verification.id, "/" + VERIFICATION_LOG)
        yield Entry(VERIFICATION_LOG, "file", 0o644, verification.time.timestamp(), len(report),
                    chunks=iter([report]))


def _prefixes(paths: Sequence[ManifestPath]) -> list[tuple[str, str]]:
    return sorted(((p.source.rstrip("/") or "/", p.logical) for p in paths),
                  key=lambda pair: len(pair[0]), reverse=True)


def _vault_files(engine: Engine, snapshot_id: str,
                 prefixes: Sequence[tuple[str, str]]) -> Iterator[Entry]:
    """The file parts a vault holds of the set, from one tar dump of its part there."""
    with engine.open_dump(snapshot_id, "/", archive=True) as stream:
        archive = TarReader(stream)
        for member in archive:
            name = logical_name("/" + member.name.strip("/"), prefixes)
            if name is not None:
                yield _entry(archive, member, name)


def _entry(archive: TarReader, member: TarMember, name: str) -> Entry:
    mode = member.mode & 0o7777
    if member.is_dir:
        return Entry(name, "dir", mode, member.mtime)
    if member.is_symlink:
        return Entry(name, "symlink", 0o777, member.mtime, link=member.linkname)
    if member.is_file:
        return Entry(name, "file", mode, member.mtime, member.size,
                     chunks=archive.data(member))
    raise StrongroomError(f"{name}: cannot export a {chr(member.type)!r} entry "
                          "(a hard link, device or fifo)")


def _same_manifest(archive: TarReader, member: TarMember, expected: bytes) -> None:
    """The manifest the export was built from must be the one stored in the snapshot."""
    if b"".join(archive.data(member)) != expected:
        raise StrongroomError("the local copy of the set's manifest differs from the one in "
                              "the repository; the export was stopped")


def _staged_log(archive: TarReader, member: TarMember, relative: str) -> list[Entry]:
    """The run's log and a disaster-recovery set's runbook and inventory: small files the
    run staged, at the same place in the logical layout as in the staging folder."""
    if relative not in STAGED_FILES or not member.is_file:
        return []
    data = b"".join(archive.data(member))
    return [Entry(relative, "file", 0o644, member.mtime, len(data), chunks=iter([data]))]


def _stream_chunks(
    engine: Engine, snapshot_id: str, logical: str, digest: str | None, size: int
) -> Iterator[bytes]:
    tap = StreamDigest()
    with engine.open_dump(snapshot_id, "/" + logical) as stream:
        for chunk in read_chunks(stream):
            tap.update(memoryview(chunk))
            yield chunk
    if tap.bytes != size or (digest and tap.label != digest):
        raise StrongroomError(
            f"{logical}: the stored stream does not match its manifest entry "
            f"({tap.bytes} bytes, {tap.label}; expected {size} bytes, {digest})"
        )
