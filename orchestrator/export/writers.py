"""Archive writers: tar.gz, tar.xz (optionally inside the encrypted envelope), ZIP, AES ZIP."""

from __future__ import annotations

import stat
import struct
import tarfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, Literal, Protocol

from orchestrator.errors import StrongroomError
from orchestrator.export.compress import ParallelGzipWriter, ParallelXzWriter
from orchestrator.export.entries import Entry
from orchestrator.export.envelope import EnvelopeWriter
from orchestrator.export.zipstream import ZipStreamWriter, dos_moment, needs_zip64

Format = Literal["zip", "tar.gz", "tar.xz"]
EXTENSIONS: dict[str, str] = {"zip": "zip", "tar.gz": "tar.gz", "tar.xz": "tar.xz"}


def extension(fmt: str, encrypted: bool) -> str:
    return EXTENSIONS[fmt] + (".enc" if encrypted and fmt != "zip" else "")


class ArchiveWriter(Protocol):
    def add(self, entry: Entry) -> None: ...

    def close(self) -> None: ...


class TarWriter:
    """A PAX tar stream written header by header: file data goes straight from its
    chunks to the compressor, with no intermediate copying."""

    def __init__(self, sink: BinaryIO, fmt: Format, pool: ThreadPoolExecutor,
                 password: bytes | None) -> None:
        self.layers: list[Any] = []
        target: Any = sink
        if password is not None:
            target = EnvelopeWriter(sink, password)
            self.layers.append(target)
        target = ParallelGzipWriter(target, pool) if fmt == "tar.gz" else ParallelXzWriter(
            target, pool)
        self.layers.append(target)
        self.out = target
        self.written = 0

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.written += len(data)

    def add(self, entry: Entry) -> None:
        info = tarfile.TarInfo(entry.name)
        info.mode = entry.mode
        info.mtime = int(entry.mtime)
        if entry.kind == "dir":
            info.type = tarfile.DIRTYPE
        elif entry.kind == "symlink":
            info.type = tarfile.SYMTYPE
            info.linkname = entry.link or ""
        else:
            info.size = entry.size
        self._write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if entry.kind != "file":
            return
        count = 0
        for chunk in entry.chunks:
            count += len(chunk)
            if count > entry.size:
                raise StrongroomError(f"{entry.name}: more data than its recorded size")
            self._write(chunk)
        if count != entry.size:
            raise StrongroomError(f"{entry.name}: {count} bytes read, {entry.size} expected")
        remainder = count % tarfile.BLOCKSIZE
        if remainder:
            self._write(tarfile.NUL * (tarfile.BLOCKSIZE - remainder))

    def close(self) -> None:
        self._write(tarfile.NUL * (2 * tarfile.BLOCKSIZE))
        remainder = self.written % tarfile.RECORDSIZE
        if remainder:
            self._write(tarfile.NUL * (tarfile.RECORDSIZE - remainder))
        for layer in reversed(self.layers):
            layer.close()


class ZipWriter:
    def __init__(self, sink: BinaryIO, pool: ThreadPoolExecutor) -> None:
        self.zip = ZipStreamWriter(sink, pool)

    def add(self, entry: Entry) -> None:
        if entry.kind == "dir":
            self.zip.add_dir(entry.name, entry.mode, entry.mtime)
        elif entry.kind == "symlink":
            self.zip.add_symlink(entry.name, entry.link or "", entry.mtime)
        else:
            self.zip.add_file(entry.name, entry.mode, entry.mtime, entry.size, entry.chunks)

    def close(self) -> None:
        self.zip.close()


class AesZipWriter:
    """WinZip AE-2 (AES-256) through pyzipper: opens in 7-Zip, not in plain unzip."""

    def __init__(self, sink: BinaryIO, password: bytes) -> None:
        import pyzipper

        self.pyzipper = pyzipper
        self.zip = pyzipper.AESZipFile(_Counting(sink), "w", compression=pyzipper.ZIP_DEFLATED,
                                       encryption=pyzipper.WZ_AES)
        self.zip.setpassword(password)

    def add(self, entry: Entry) -> None:
        name = entry.name + ("/" if entry.kind == "dir" else "")
        info = _timestamped_info()(name, date_time=dos_moment(entry.mtime))
        info.exact_mtime = int(entry.mtime) & 0xFFFFFFFF
        kind = {"dir": stat.S_IFDIR, "symlink": stat.S_IFLNK, "file": stat.S_IFREG}[entry.kind]
        info.external_attr = (kind | (entry.mode & 0o7777)) << 16
        if entry.kind == "dir":
            info.external_attr |= 0x10
            self.zip.writestr(info, b"")
            return
        info.compress_type = self.pyzipper.ZIP_DEFLATED
        if entry.kind == "symlink":
            self.zip.writestr(info, (entry.link or "").encode())
            return
        with self.zip.open(info, "w", force_zip64=needs_zip64(entry.size)) as out:
            for chunk in entry.chunks:
                out.write(chunk)

    def close(self) -> None:
        self.zip.close()

    def abandon(self) -> None:
        """Drop the archive unfinished (its output is being discarded): no end record
        written later, when pyzipper's object is collected, into a closed file."""
        self.zip.fp = None


def _timestamped_info() -> Any:
    """pyzipper's AES ZipInfo, plus the extended timestamp (0x5455) in both headers:
    DOS times have two-second steps, and the restored mtime should be exact."""
    from pyzipper.zipfile_aes import AESZipInfo

    class TimestampedInfo(AESZipInfo):  # type: ignore[misc]
        exact_mtime = 0

        def _timestamp(self) -> bytes:
            return struct.pack("<HHBI", 0x5455, 5, 1, self.exact_mtime)

        def encode_local_header(self, *, extra: bytes, **fields: Any) -> bytes:
            return bytes(super().encode_local_header(extra=extra + self._timestamp(), **fields))

        def encode_central_directory(self, *, extra_data: bytes, **fields: Any) -> Any:
            return super().encode_central_directory(
                extra_data=extra_data + self._timestamp(), **fields)

    return TimestampedInfo


class _Counting:
    """pyzipper asks an unseekable output for tell(): give it the bytes written so far."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.position = 0

    def write(self, data: bytes) -> int:
        self.sink.write(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return False

    def flush(self) -> None:
        return None


def open_writer(fmt: Format, sink: BinaryIO, pool: ThreadPoolExecutor,
                password: bytes | None) -> ArchiveWriter:
    if fmt == "zip":
        return AesZipWriter(sink, password) if password is not None else ZipWriter(sink, pool)
    return TarWriter(sink, fmt, pool, password)
