"""download-backup: a set, in its logical layout, as one archive streamed to its output."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

from orchestrator.engines.base import Engine, ProgressCallback, Snapshot
from orchestrator.errors import AccessDenied, UsageError
from orchestrator.export.entries import Entry, has_file_parts, set_entries
from orchestrator.export.targets import open_output, parse_output, presign
from orchestrator.export.writers import extension, open_writer
from orchestrator.models import DownloadBackupRequest, DownloadBackupResult
from orchestrator.sets.manifest import (
    MANIFEST_FILE,
    VERIFICATION_LOG,
    Manifest,
    manifest_dir_in,
    staged_copy,
)
from orchestrator.sets.progress import PartProgress
from orchestrator.sets.session import Session, choose_set, load_sets
from orchestrator.sets.vaults import readable_vaults


def download_backup(session: Session, request: DownloadBackupRequest,
                    on_progress: ProgressCallback | None = None) -> DownloadBackupResult:
    policy = session.profile.access.download
    if policy.require_encryption and not request.encrypt:
        raise AccessDenied("this profile requires downloads to be encrypted "
                           "([access.download] require_encryption); add --encrypt")
    if request.encrypt and request.password is None:
        raise UsageError("--encrypt needs a password (--password-file, --password-env, or the "
                         "prompt)")
    if request.presign is not None and not (request.output or "").startswith("s3://"):
        raise UsageError("--presign needs --output s3://bucket/key")
    repo_name, engine = session.engine(request.destination)
    url = session.profile.repositories[repo_name].url
    chosen = choose_set(session, engine, repo_name, load_sets(session, engine, url),
                        request.backup)
    final = chosen.final
    assert final is not None
    suffix = extension(request.format, request.encrypt)
    output = parse_output(request.output, f"{chosen.name}.{suffix}")
    if output.kind not in policy.allowed_outputs:
        raise AccessDenied(f"downloads to {output.kind} are not allowed by this profile "
                           f"([access.download] allowed_outputs = {policy.allowed_outputs})")
    clock = time.monotonic()
    password = request.password.get_secret_value().encode() if request.password else None
    entries = 0
    wants_files = has_file_parts(final, chosen.base)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="compress") as pool, \
            open_output(output, request.force, policy.max_bytes,
                        int(policy.file_mode, 8)) as sink, \
            (engine.open_dump(final.id, "/", archive=True) if wants_files
             else nullcontext(None)) as tar_stream:
        raw = _manifest_bytes(session, engine, final, chosen.base, chosen.name, wants_files)
        manifest = Manifest.model_validate(json.loads(raw)).located(chosen.parts)
        _check_services(manifest, request.services)
        vaults, manifest = readable_vaults(session, engine, chosen, manifest, request.services)
        writer = open_writer(request.format, sink, pool, password)  # type: ignore[arg-type]
        progress = PartProgress(on_progress, str(output), "export")
        progress.started()
        for entry in set_entries(engine, final, manifest, raw, request.services, tar_stream,
                                 chosen.parts.get(VERIFICATION_LOG), vaults):
            writer.add(_reported(entry, progress, sink) if on_progress else entry)
            entries += 1
            progress.at(sink.count, entries)
        writer.close()
        written = sink.count
        progress.finished(written, entries)
    link = presign(output, request.presign) if request.presign else None
    return DownloadBackupResult(
        set=chosen.name, format=request.format, output=str(output), entries=entries,
        bytes=written, encrypted=request.encrypt, url=link,
        duration=round(time.monotonic() - clock, 3),
    )


def _reported(entry: Entry, progress: PartProgress, sink: Any) -> Entry:
    """The entry, its data reporting the archive's bytes written as each chunk passes."""
    def chunks() -> Iterator[bytes]:
        for chunk in entry.chunks:
            yield chunk
            progress.at(sink.count, progress.count_done)

    return replace(entry, chunks=chunks())


def _manifest_bytes(session: Session, engine: Engine, final: Snapshot, base: str, name: str,
                    checked_in_stream: bool) -> bytes:
    """The set's manifest. The copy staged on this host saves a restic process when the
    tar stream will carry the stored one to compare against; else it is read from the
    repository (while the tar dump's restic opens the repository)."""
    staged = session.state.staging(base) / MANIFEST_FILE
    proven = staged_copy(final, staged)
    if proven is not None:
        return proven
    if checked_in_stream and staged.is_file():
        data = staged.read_bytes()
        try:
            if json.loads(data).get("set") == name:
                return data
        except ValueError:
            pass
    return engine.dump(final.id, f"{manifest_dir_in(final, base)}/{MANIFEST_FILE}")


def _check_services(manifest: Manifest, services: list[str]) -> None:
    present = set(manifest.services) | {s.service for s in manifest.streams}
    unknown = [name for name in services if name not in present]
    if unknown:
        raise UsageError(f"the backup holds no service named {', '.join(unknown)} "
                         f"(it has: {', '.join(sorted(present)) or 'none'})")
