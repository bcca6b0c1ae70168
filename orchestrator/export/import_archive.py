"""backup-migrate --from-archive FILE --to REPO: an archive made into a set of a
repository. A strongroom export (zip, tar.gz, tar.xz, AES zip, the encrypted envelope)
becomes its set again, with its manifest, name and time; any other zip or tar becomes a
files-only set whose one part sits at /imported/NAME.

The archive is untrusted. It is unpacked once into a private staging folder in the state
directory, every name checked as restore-backup --from-archive checks it (no absolute
names, no `..`, nothing through a symlink, no symlink climbing out, no hard links or
devices), and written through SafeTree; a refused archive leaves only the staging
folder, which is removed, and nothing in the repository. The dumps are stored through
their own engine runs and their digests checked against the manifest; the files and the
manifest last, so an interrupted import is an incomplete set the target lists as such.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from orchestrator import __version__
from orchestrator.engines.base import Engine
from orchestrator.errors import StrongroomError, UsageError
from orchestrator.export.placement import Part, check_manifest, check_member, place
from orchestrator.export.safe_tree import SafeTree, UnsafePath, components, shown
from orchestrator.export.unpack import HostileArchive, Member, open_members
from orchestrator.models import BackupMigrateRequest, BackupMigrateResult, MigratedPart
from orchestrator.run import Command
from orchestrator.run.pipes import read_chunks
from orchestrator.sets.digest import StreamDigest
from orchestrator.sets.manifest import LOG_FILE, MANIFEST_FILE, Manifest, ManifestPath
from orchestrator.sets.migrate import refuse_held, staging_folder
from orchestrator.sets.naming import FILES_PART, set_name, set_tags
from orchestrator.sets.session import Session

MAX_ENTRIES = 1_000_000
PLAIN_PART = "files"  # the logical name of a plain archive's one part
IMPORTED_ROOT = "/imported"


def import_archive(session: Session, request: BackupMigrateRequest) -> BackupMigrateResult:
    assert request.from_archive is not None and request.to is not None
    clock = time.monotonic()
    archive = Path(request.from_archive).expanduser().absolute()
    password = request.archive_password.get_secret_value().encode() \
        if request.archive_password else None
    manifest, plain = _manifest_of(session, archive, password, request.name)
    target_name, target = session.engine(request.to)
    created = target.init()
    refuse_held(target, target_name, manifest.set)
    staging = staging_folder(session)
    written: list[MigratedPart] = []
    try:
        streams = _unpack(archive, password, manifest, plain, staging)
        for stream in manifest.streams:
            written.append(_store_stream(target, session, manifest, stream.logical,
                                         streams[stream.logical], stream.digest,
                                         stream.service))
        written.append(_store_final(target, session, manifest, staging))
    except BaseException:
        if written:
            target.forget([part.snapshot_id for part in written])
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BackupMigrateResult(set=manifest.set, source=str(archive), target=target_name,
                               created=created, parts=written, staged=True,
                               duration=round(time.monotonic() - clock, 3))


def _manifest_of(session: Session, archive: Path, password: bytes | None,
                 name: str | None) -> tuple[Manifest, bool]:
    """The export's manifest (renamed with --name, its time kept), or a files-only one
    (True: the archive is a plain one)."""
    if name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
        raise UsageError(f"--name {name!r}: letters, digits, '.', '_' and '-' only")
    found = _first_manifest(archive, password)
    if found is not None:
        check_manifest(found)
        if name is None:
            return found, False
        return found.model_copy(update={"name": name, "set": set_name(name, found.started)}
                                ), False
    base = name or _stem(archive)
    started = datetime.now(UTC).replace(microsecond=0)
    return Manifest(
        set=set_name(base, started), name=base, type="files",
        profile=session.profile.profile_name, host=session.host, started=started,
        services=[], include_data=True, compress=True,
        paths=[ManifestPath(source=f"{IMPORTED_ROOT}/{base}", logical=PLAIN_PART,
                            kind="service-data", owner="imported")],
        tools={"strongroom": __version__, "imported-from": archive.name},
    ), True


def _first_manifest(archive: Path, password: bytes | None) -> Manifest | None:
    from orchestrator.export.unpack import read_archive_manifest

    try:
        return read_archive_manifest(archive, password)
    except UsageError as exc:
        if "not a strongroom export" in exc.message:
            return None
        raise


def _stem(archive: Path) -> str:
    stem = re.sub(r"(\.tar)?\.(zip|tar|tgz|gz|xz|bz2|zst|enc)$", "", archive.name)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", re.sub(r"(\.tar)?\.(gz|xz)$", "", stem))
    return stem.strip(".-_")[:64] or "imported"


def _unpack(archive: Path, password: bytes | None, manifest: Manifest, plain: bool,
            staging: Path) -> dict[str, Path]:
    """Every file member into staging at its source path, every dump into staging/streams;
    returns the dumps' files by logical name."""
    tree = staging / "tree"
    parts = [Part(p.logical, p.source, tree, p.source.lstrip("/")) for p in manifest.paths]
    stream_names = {stream.logical for stream in manifest.streams}
    streams: dict[str, Path] = {}
    seen: set[tuple[Path, str]] = set()
    links: set[tuple[Path, str]] = set()
    directories: list[tuple[str, Member]] = []
    tree.mkdir()
    (staging / "streams").mkdir()
    with SafeTree(tree) as files, SafeTree(staging / "streams") as dumps, \
            open_members(archive, password) as members:
        for count, member in enumerate(members):
            if count >= MAX_ENTRIES:
                raise HostileArchive(f"{archive.name} holds more than {MAX_ENTRIES} entries; "
                                     "refused, nothing was imported")
            try:
                name = "/".join(components(member.name))
                if not plain and name in stream_names | {MANIFEST_FILE, LOG_FILE}:
                    if member.kind != "file" or member.reader is None:
                        raise HostileArchive(f"archive entry {shown(member.name)} should be a "
                                             "file; nothing was imported")
                    dumps.write_file(name, read_chunks(member.reader), 0o600, member.mtime,
                                     limit=member.size)
                    streams[name] = staging / "streams" / name
                    continue
                spot = place(member, f"{PLAIN_PART}/{name}" if plain else name, parts)
                if spot is None:
                    continue
                check_member(member, spot, seen, links)
                if member.kind == "dir":
                    files.mkdir(spot.rel)
                    directories.append((spot.rel, member))
                elif member.kind == "symlink":
                    files.symlink(spot.rel, member.link)
                else:
                    assert member.reader is not None
                    files.write_file(spot.rel, read_chunks(member.reader), member.mode,
                                     member.mtime, limit=member.size)
            except UnsafePath as exc:
                raise HostileArchive(f"archive entry refused: {exc.message}; nothing was "
                                     "imported") from None
        for rel, member in reversed(directories):
            files.set_dir_meta(rel, member.mode, member.mtime)
    missing = sorted(stream_names - set(streams))
    if missing:
        raise HostileArchive(f"{archive.name} lacks the dump(s) its manifest names: "
                             f"{', '.join(map(shown, missing))}; nothing was imported")
    _make_part_roots(tree, [part.prefix for part in parts])
    return streams


def _make_part_roots(tree: Path, prefixes: list[str]) -> None:
    """Each part's root, and the folders above it as a host has them (0755): an archive
    holds no entry for those (nothing it holds is placed outside a part)."""
    for prefix in prefixes:
        (tree / prefix).mkdir(parents=True, exist_ok=True)
        for parent in map(str, Path(prefix).parents):
            if parent != "." and not any(parent == other or parent.startswith(other + "/")
                                         for other in prefixes):
                folder = tree / parent
                if folder.is_symlink():  # chmod would follow it out of the tree
                    raise HostileArchive(f"{parent} is a symlink above a part; nothing was "
                                         "imported")
                os.chmod(folder, 0o755)


def _store_stream(target: Engine, session: Session, manifest: Manifest, logical: str,
                  path: Path, digest: str | None, service: str) -> MigratedPart:
    tap = StreamDigest()
    summary = target.backup_stream(
        Command(("cat", "--", str(path))), logical,
        tags=set_tags(manifest.set, logical, manifest.type, session.profile.profile_name,
                      [service]),
        time=manifest.started, host=manifest.host, tap=tap)
    if digest and digest.split(":", 1)[0] == tap.algorithm and tap.label != digest:
        target.forget([summary.snapshot_id])
        raise StrongroomError(f"{logical}: the archive's copy does not match the digest its "
                              "manifest records; nothing was imported")
    return MigratedPart(part=logical, snapshot_id=summary.snapshot_id, bytes=tap.bytes,
                        digest=tap.label if digest else None)


def _store_final(target: Engine, session: Session, manifest: Manifest,
                 staging: Path) -> MigratedPart:
    """The files and the manifest (with the run's log when the archive has it)."""
    tags = set_tags(manifest.set, FILES_PART, manifest.type, session.profile.profile_name,
                    manifest.services, streams=len(manifest.streams))
    folder = str(session.state.staging(manifest.name))
    data = manifest.to_bytes()
    if not manifest.paths:
        summary = target.start_stream_backup(
            f"{folder.lstrip('/')}/{MANIFEST_FILE}", tags=tags, time=manifest.started,
            host=manifest.host).finish(data)
        return MigratedPart(part=FILES_PART, snapshot_id=summary.snapshot_id,
                            bytes=len(data))
    tree = staging / "tree"
    staged = tree / folder.lstrip("/")
    (staged / "logs").mkdir(parents=True)
    (staged / MANIFEST_FILE).write_bytes(data)
    log_file = staging / "streams" / LOG_FILE
    if log_file.is_file():
        shutil.copyfile(log_file, staged / LOG_FILE)
    paths = [item.source for item in manifest.paths] + [folder]
    summary = target.backup_tree(tree, paths, tags=tags, time=manifest.started,
                                 host=manifest.host)
    return MigratedPart(part=FILES_PART, snapshot_id=summary.snapshot_id,
                        bytes=summary.total_bytes or None)
