"""Reading exports back: `strongroom decrypt`, and restore-backup --from-archive.

A restore from an archive reads it twice: once to plan (every name checked, every
conflict found, nothing written), then to write. Entries that would land outside
their part's root — absolute names, `..`, paths through a symlink, symlinks that
point out, hard links — are refused before anything is written.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from orchestrator.errors import StrongroomError, UsageError
from orchestrator.export.envelope import HEADER_SIZE, decrypt_stream, is_envelope
from orchestrator.export.targets import replacing
from orchestrator.manifest import LOG_FILE, MANIFEST_FILE, VERIFICATION_LOG, Manifest


class HostileArchive(StrongroomError):
    exit_code = 2


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


class _PlainReader:
    """read(n) over decrypted segments, for tarfile's stream mode."""

    def __init__(self, segments: Iterator[bytes]) -> None:
        self.segments = segments
        self.pending = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self.pending) < size:
            segment = next(self.segments, None)
            if segment is None:
                break
            self.pending += segment
        size = len(self.pending) if size < 0 else size
        out, self.pending = self.pending[:size], self.pending[size:]
        return out


@dataclass
class Member:
    name: str
    kind: str  # "file", "dir", "symlink", "other"
    mode: int
    mtime: float
    size: int
    link: str = ""
    reader: IO[bytes] | None = None


@contextmanager
def _tar_members(path: Path, password: bytes | None) -> Iterator[Iterator[Member]]:
    with open(path, "rb") as handle:
        head = handle.read(HEADER_SIZE)
        handle.seek(0)
        source: Any = handle
        if is_envelope(head):
            if password is None:
                raise UsageError(f"{path} is encrypted: give --password-file or --password-env")
            source = _PlainReader(decrypt_stream(handle, password))
        try:
            archive = tarfile.open(fileobj=source, mode="r|*")
        except tarfile.TarError as exc:
            raise UsageError(f"{path} is not a strongroom archive: {exc}") from None
        yield (_tar_member(archive, info) for info in archive)


def _tar_member(archive: tarfile.TarFile, info: tarfile.TarInfo) -> Member:
    kind = "dir" if info.isdir() else "symlink" if info.issym() else "file" if info.isfile() \
        else "other"
    reader = archive.extractfile(info) if info.isfile() else None
    return Member(info.name, kind, info.mode & 0o7777, info.mtime, info.size, info.linkname,
                  reader)


@contextmanager
def _zip_members(path: Path, password: bytes | None) -> Iterator[Iterator[Member]]:
    import stat

    import pyzipper

    with pyzipper.AESZipFile(path) as archive:
        if password is not None:
            archive.setpassword(password)

        def members() -> Iterator[Member]:
            for info in archive.infolist():
                mode = info.external_attr >> 16
                kind = "dir" if info.is_dir() else "symlink" if stat.S_ISLNK(mode) else "file"
                mtime = float(_zip_mtime(info))
                if kind == "symlink":
                    link = archive.read(info).decode()
                    yield Member(info.filename, kind, 0o777, mtime, 0, link)
                elif kind == "dir":
                    yield Member(info.filename, kind, mode & 0o7777 or 0o755, mtime, 0)
                else:
                    with archive.open(info) as reader:
                        yield Member(info.filename, kind, mode & 0o7777 or 0o644, mtime,
                                     info.file_size, reader=reader)

        try:
            yield members()
        except RuntimeError as exc:
            raise UsageError(f"{path}: {exc} (wrong or missing --password-file?)") from None


def _zip_mtime(info: zipfile.ZipInfo) -> int:
    extra = info.extra
    while len(extra) >= 4:
        tag, size = int.from_bytes(extra[:2], "little"), int.from_bytes(extra[2:4], "little")
        if tag == 0x5455 and size >= 5 and extra[4] & 1:
            return int.from_bytes(extra[5:9], "little")
        extra = extra[4 + size:]
    import time

    return int(time.mktime((*info.date_time, 0, 0, -1)))


def open_members(path: Path, password: bytes | None) -> Any:
    if not path.is_file():
        raise UsageError(f"no archive at {path}")
    with open(path, "rb") as handle:
        is_zip = handle.read(4) == b"PK\x03\x04"
    return _zip_members(path, password) if is_zip else _tar_members(path, password)


def read_archive_manifest(path: Path, password: bytes | None) -> Manifest:
    with open_members(path, password) as members:
        for member in members:
            if member.name == MANIFEST_FILE and member.reader is not None:
                return Manifest.model_validate_json(member.reader.read())
            break
    raise UsageError(f"{path} does not start with {MANIFEST_FILE}: not a strongroom export")


SKIPPED = (MANIFEST_FILE, LOG_FILE, VERIFICATION_LOG)
