"""backup-encrypt --archive: a plain export made encrypted, streamed.

A ZIP becomes an AES-256 ZIP (its members read one by one through the bounded zip
reader and written again through the AES writer); a tar (plain, .gz, .xz, .bz2)
goes whole into the encrypted envelope, so `strongroom decrypt` gives back the very
same file. The output is written aside (O_EXCL, 0600) and renamed into place once
complete: no plain copy is ever written, and an interrupted run leaves no output.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from orchestrator.errors import ConflictError, UsageError
from orchestrator.export.entries import Entry
from orchestrator.export.envelope import EnvelopeWriter, is_envelope
from orchestrator.export.readers import Member, shown
from orchestrator.export.targets import CountingSink, replacing
from orchestrator.export.unpack import open_members
from orchestrator.export.writers import AesZipWriter
from orchestrator.models import BackupEncryptRequest, BackupEncryptResult

CHUNK = 1 << 20
TAR_MAGIC = (b"\x1f\x8b", b"\xfd7zXZ\x00", b"BZh")


def encrypt_archive(request: BackupEncryptRequest, file_mode: int = 0o600) -> BackupEncryptResult:
    if request.archive is None:
        raise UsageError("backup-encrypt --archive needs the archive's path")
    if request.password is None:
        raise UsageError("backup-encrypt --archive needs a password (--password-file, "
                         "--password-env or the prompt)")
    source = Path(request.archive)
    if not source.is_file():
        raise UsageError(f"no archive at {source}")
    kind = _kind(source)
    if request.output == "-":
        raise UsageError("backup-encrypt writes a file: give --output PATH, not stdout")
    if request.in_place and request.output is not None:
        raise UsageError("give --output or --in-place, not both")
    output = source if request.in_place else _output(source, kind, request.output)
    if output.resolve() == source.resolve() and not request.in_place:
        raise UsageError("--output is the archive itself: use --in-place to replace it")
    password = request.password.get_secret_value().encode()
    clock = time.monotonic()
    with replacing(output, request.force or request.in_place, file_mode,
                   hint=" (or --in-place to replace the archive itself)") as handle:
        sink = CountingSink(handle, None)
        entries: int | None = None
        if kind == "zip":
            entries = _zip(source, sink, password)
        else:
            _tar(source, sink, password)
    return BackupEncryptResult(
        archive=str(source), output=str(output),
        encryption="aes-zip" if kind == "zip" else "envelope", entries=entries,
        bytes=sink.count, duration=round(time.monotonic() - clock, 3))


def _kind(source: Path) -> str:
    with open(source, "rb") as handle:
        head = handle.read(512)
    if is_envelope(head):
        raise ConflictError(f"{source} is encrypted already (a strongroom envelope)")
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(TAR_MAGIC) or head[257:262] == b"ustar":
        return "tar"
    raise UsageError(f"{source} is neither a ZIP nor a tar export (plain, .gz, .xz, .bz2)")


def _output(source: Path, kind: str, value: str | None) -> Path:
    if value:
        path = Path(value).expanduser()
        default = _default_name(source, kind)
        return (path / default if value.endswith("/") or path.is_dir() else path).absolute()
    return source.with_name(_default_name(source, kind)).absolute()


def _default_name(source: Path, kind: str) -> str:
    if kind == "tar":
        return source.name + ".enc"
    stem = source.name[:-4] if source.name.lower().endswith(".zip") else source.name
    return f"{stem}.encrypted.zip"


def _tar(source: Path, sink: CountingSink, password: bytes) -> None:
    """The file's bytes as they are, sealed in the envelope."""
    envelope = EnvelopeWriter(sink, password)  # type: ignore[arg-type]
    with open(source, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            envelope.write(chunk)
    envelope.close()


def _zip(source: Path, sink: CountingSink, password: bytes) -> int:
    """Every member again, each encrypted with AES-256."""
    with open_members(source, None) as members:  # refused before anything is written
        for member in members:
            _refuse_special(source, member)
    writer = AesZipWriter(sink, password)  # type: ignore[arg-type]
    count = 0
    try:
        with open_members(source, None) as members:
            for member in members:
                writer.add(_entry(source, member))
                count += 1
        writer.close()
    except BaseException:
        writer.abandon()
        raise
    return count


def _refuse_special(source: Path, member: Member) -> None:
    if member.encrypted:
        raise ConflictError(f"{source} is encrypted already (member {shown(member.name)})")
    if member.kind == "other":
        raise UsageError(f"{source}, member {shown(member.name)}: a {member.detail or 'special'}"
                         " entry, which an export never holds")


def _entry(source: Path, member: Member) -> Entry:
    _refuse_special(source, member)
    if member.kind == "dir":
        return Entry(member.name.rstrip("/"), "dir", member.mode, member.mtime)
    if member.kind == "symlink":
        return Entry(member.name, "symlink", member.mode, member.mtime, link=member.link)
    assert member.reader is not None
    return Entry(member.name, "file", member.mode, member.mtime, member.size,
                 chunks=_chunks(member.reader))


def _chunks(reader: IO[bytes]) -> Iterator[bytes]:
    yield from iter(lambda: reader.read(CHUNK), b"")
