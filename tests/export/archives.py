"""Small valid archives made by the project's own writers (and by tarfile/zipfile), and a
consumer that reads every member of an archive the way a restore does."""

from __future__ import annotations

import io
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO

from orchestrator.export import envelope
from orchestrator.export.entries import Entry
from orchestrator.export.unpack import open_members
from orchestrator.export.writers import Format, open_writer

PASSWORD = b"pw"
MTIME = 1_700_000_000.0
FORMATS = ["zip", "aes.zip", "tar.gz", "tar.xz", "tar.gz.enc", "tar.xz.enc", "tar", "std.zip"]


def entries() -> list[Entry]:
    manifest = b'{"not": "checked by the reader"}'
    data = bytes(range(256)) * 5
    return [
        Entry("metadata.json", "file", 0o644, MTIME, len(manifest), chunks=iter([manifest])),
        Entry("config/app", "dir", 0o755, MTIME),
        Entry("config/app/a.txt", "file", 0o600, MTIME, len(data), chunks=iter([data])),
        Entry("config/app/empty", "file", 0o644, MTIME, 0),
        Entry("config/app/link", "symlink", 0o777, MTIME, link="a.txt"),
        Entry("services/db/dump.sql", "file", 0o600, MTIME, 11, chunks=iter([b"select 1;\n\n"])),
    ]


def build(fmt: str) -> bytes:
    """One small archive in `fmt`; the envelope with cheap scrypt parameters."""
    if fmt == "tar":
        return _tarfile()
    if fmt == "std.zip":
        return _zipfile()
    encrypted = fmt.endswith(".enc") or fmt == "aes.zip"
    writer_format: Format = "zip" if fmt.endswith("zip") else fmt.removesuffix(".enc")  # type: ignore[assignment]
    sink = io.BytesIO()
    cheap = (10, 8, 1)
    saved = envelope.SCRYPT
    envelope.SCRYPT = cheap
    try:
        with ThreadPoolExecutor(2) as pool:
            writer = open_writer(writer_format, sink, pool, PASSWORD if encrypted else None)
            for entry in entries():
                writer.add(entry)
            writer.close()
    finally:
        envelope.SCRYPT = saved
    return sink.getvalue()


def _tarfile() -> bytes:
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for entry in entries():
            info = tarfile.TarInfo(entry.name)
            info.mode, info.mtime = entry.mode, int(entry.mtime)
            if entry.kind == "dir":
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            elif entry.kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, entry.link or ""
                archive.addfile(info)
            else:
                data = b"".join(entry.chunks)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return sink.getvalue()


def _zipfile() -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for number, entry in enumerate(entries()):
            method = zipfile.ZIP_DEFLATED if number % 2 else zipfile.ZIP_STORED
            if entry.kind == "dir":
                archive.mkdir(entry.name)
            else:
                info = zipfile.ZipInfo(entry.name, (2024, 1, 1, 0, 0, 0))
                info.compress_type = method
                kind = 0o120000 if entry.kind == "symlink" else 0o100000
                info.external_attr = (kind | entry.mode) << 16
                data = (entry.link or "").encode() if entry.kind == "symlink" \
                    else b"".join(entry.chunks)
                archive.writestr(info, data)
    return sink.getvalue()


def consume(path: Path, password: bytes | None = PASSWORD,
            max_members: int = 1_000_000) -> list[tuple[str, str, int, bytes, str]]:
    """Every member as (name, kind, size, data, link), each member's data read in
    small chunks, as a restore does."""
    seen = []
    with open_members(path, password, max_members=max_members) as members:
        for member in members:
            data = b"" if member.reader is None else _read(member.reader)
            seen.append((member.name, member.kind, member.size, data, member.link))
    return seen


def _read(reader: IO[bytes]) -> bytes:
    pieces = []
    while piece := reader.read(700):
        pieces.append(piece)
    return b"".join(pieces)
