"""Reading exports back: `strongroom decrypt`, and restore-backup --from-archive.

A restore from an archive reads it twice: once to plan (every name checked, every
conflict found, nothing written), then to write. Entries that would land outside
their part's root — absolute names, `..`, paths through a symlink, symlinks that
point out, hard links — are refused before anything is written.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from orchestrator.errors import UsageError
from orchestrator.export.envelope import decrypt_stream
from orchestrator.export.read_tar import tar_members
from orchestrator.export.read_zip import zip_members
from orchestrator.export.readers import (
    MAX_MEMBERS,
    ArchiveLimitExceeded,
    DamagedArchive,
    HostileArchive,
    Member,
    shown,
    translate,
)
from orchestrator.export.targets import replacing
from orchestrator.sets.manifest import (
    INVENTORY_FILE,
    LOG_FILE,
    MANIFEST_FILE,
    RECOVERY_FILE,
    VERIFICATION_LOG,
    Manifest,
)

MANIFEST_MAX = 64 << 20


def decrypt_file(file: str, output: str | None, password: bytes, force: bool) -> None:
    source = Path(file)
    if output == "-":
        with open(source, "rb") as handle:
            for plain in decrypt_stream(handle, password):
                sys.stdout.buffer.write(plain)
        return
    target = Path(output) if output else source.with_suffix("") if source.suffix == ".enc" \
        else source.with_name(source.name + ".dec")
    with open(source, "rb") as handle, replacing(target, force) as out:
        for plain in decrypt_stream(handle, password):
            out.write(plain)


def open_members(path: Path, password: bytes | None, *,
                 max_members: int = MAX_MEMBERS) -> AbstractContextManager[Iterator[Member]]:
    """The archive's members in order (duplicates included), as a context manager.
    Whatever is wrong with the archive is raised as one HostileArchive (or UsageError
    for a missing or wrong password), at open or while iterating or reading data."""
    if not path.is_file():
        raise UsageError(f"no archive at {path}")
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise translate(str(path), exc) from None
    if not head:
        raise DamagedArchive(f"{shown(str(path))}: the file is empty, not an archive")
    is_zip = head == b"PK\x03\x04"
    reader = zip_members if is_zip else tar_members
    return reader(path, password, max_members)


def read_archive_manifest(path: Path, password: bytes | None) -> Manifest:
    from pydantic import ValidationError

    with open_members(path, password) as members:
        for member in members:
            if member.name == MANIFEST_FILE and member.reader is not None:
                if member.size > MANIFEST_MAX:
                    raise ArchiveLimitExceeded(f"{shown(str(path))}: its {MANIFEST_FILE} is "
                                               f"larger than {MANIFEST_MAX >> 20} MiB")
                data = member.reader.read()
                try:
                    return Manifest.model_validate_json(data)
                except ValidationError as exc:
                    first = exc.errors()[0]
                    where = ".".join(str(part) for part in first["loc"])
                    raise DamagedArchive(
                        f"{shown(str(path))}: its {MANIFEST_FILE} is not a strongroom manifest "
                        f"({exc.error_count()} error(s); {shown(where)}: "
                        f"{shown(first['msg'])})") from None
            break
    raise UsageError(f"{path} does not start with {MANIFEST_FILE}: not a strongroom export")


SKIPPED = (MANIFEST_FILE, LOG_FILE, VERIFICATION_LOG, RECOVERY_FILE, INVENTORY_FILE)

__all__ = ["SKIPPED", "ArchiveLimitExceeded", "DamagedArchive", "HostileArchive", "Member",
           "decrypt_file", "open_members", "read_archive_manifest"]
