"""A generated corpus of hostile archives for restore-backup --from-archive.

Each case is a list of entries (after a manifest the case may also tamper with),
written in several container formats: plain tar, tar.gz, zip, AES zip and the
encrypted tar envelope. The canary file is what a script escape would create; the
sentinel folder is what a path escape would touch.
"""

from __future__ import annotations

import io
import json
import stat
import tarfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PASSWORD = b"corpus-password"
FORMATS = ("tar", "tar.gz", "zip", "aes.zip", "tar.gz.enc")


@dataclass(frozen=True)
class Entry:
    name: str
    kind: str = "file"  # file, dir, symlink, hardlink, chardev, fifo
    data: bytes = b"pwned\n"
    link: str = ""
    mode: int = 0o644


@dataclass(frozen=True)
class Case:
    name: str
    entries: Callable[[Path], list[Entry]]  # given the sentinel folder
    exit_code: int
    message: str  # a regular expression the error must match
    formats: tuple[str, ...] = FORMATS
    manifest: Callable[[dict[str, Any], Path], None] | None = None  # tampers with it
    in_place: bool = False  # no --target: the profile says where parts go
    args: tuple[str, ...] = ()
    writes: bool = False  # the restore succeeds (inside its bounds)
    streams: list[dict[str, Any]] = field(default_factory=list)


def manifest_for(site: Path, streams: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": 1, "set": "hostile-20260101-000000", "name": "hostile", "type": "full",
        "profile": "corpus", "host": "elsewhere", "started": datetime.now(UTC).isoformat(),
        "services": ["db"], "include_data": True, "compress": False,
        "paths": [{"source": str(site / "host/etc/app"), "logical": "config/app",
                   "kind": "config", "owner": "app"}],
        "streams": streams,
    }


def stream(logical: str, hook: str, index: int, database: str, fmt: str, data: bytes,
           **details: Any) -> dict[str, Any]:
    from orchestrator.digest import StreamDigest

    tap = StreamDigest()
    tap.update(memoryview(data))
    return {"part": logical, "logical": logical, "snapshot_id": "0" * 64, "bytes": len(data),
            "digest": tap.label, "hook": hook, "service": "db", "index": index,
            "database": database, "format": fmt, "details": details}


def write_archive(path: Path, fmt: str, manifest: dict[str, Any], entries: list[Entry],
                  stream_data: dict[str, bytes]) -> None:
    all_entries = [Entry("metadata.json", data=json.dumps(manifest).encode())]
    all_entries += [Entry(name, data=data) for name, data in stream_data.items()]
    all_entries += entries
    if fmt.endswith("zip"):
        _zip(path, all_entries, encrypted=fmt == "aes.zip")
    elif fmt == "tar.gz.enc":
        plain = io.BytesIO()
        _tar(plain, all_entries, "w:gz")
        from orchestrator.export.envelope import EnvelopeWriter

        with open(path, "wb") as out:
            writer = EnvelopeWriter(out, PASSWORD)  # type: ignore[arg-type]
            writer.write(plain.getvalue())
            writer.close()
    else:
        with open(path, "wb") as out:
            _tar(out, all_entries, "w:gz" if fmt == "tar.gz" else "w")


_TAR_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
              "hardlink": tarfile.LNKTYPE, "chardev": tarfile.CHRTYPE,
              "fifo": tarfile.FIFOTYPE}


def _tar(out: Any, entries: list[Entry], mode: str) -> None:
    with tarfile.open(fileobj=out, mode=mode, format=tarfile.PAX_FORMAT) as archive:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.type = _TAR_TYPES[entry.kind]
            info.mode = entry.mode
            info.mtime = int(time.time())
            info.linkname = entry.link
            if entry.kind == "file":
                info.size = len(entry.data)
                archive.addfile(info, io.BytesIO(entry.data))
            else:
                archive.addfile(info)


def _zip(path: Path, entries: list[Entry], encrypted: bool) -> None:
    import pyzipper
    from pyzipper.zipfile_aes import AESZipInfo

    kinds = {"file": stat.S_IFREG, "dir": stat.S_IFDIR, "symlink": stat.S_IFLNK,
             "hardlink": stat.S_IFREG, "chardev": stat.S_IFCHR, "fifo": stat.S_IFIFO}
    archive: Any = pyzipper.AESZipFile(path, "w", compression=zipfile.ZIP_DEFLATED,
                                       encryption=pyzipper.WZ_AES) if encrypted else \
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
    with archive:
        if encrypted:
            archive.setpassword(PASSWORD)
        for entry in entries:
            name = entry.name + ("/" if entry.kind == "dir" and not entry.name.endswith("/")
                                 else "")
            info = (AESZipInfo if encrypted else zipfile.ZipInfo)(
                name, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (kinds[entry.kind] | entry.mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            data = entry.link.encode() if entry.kind in ("symlink", "hardlink") else (
                b"" if entry.kind == "dir" else entry.data)
            archive.writestr(info, data)


def _manifest_source(value: str) -> Callable[[dict[str, Any], Path], None]:
    def tamper(manifest: dict[str, Any], site: Path) -> None:
        manifest["paths"][0]["source"] = value.replace("SITE", str(site))
    return tamper


def _extra_path(logical: str, source: str) -> Callable[[dict[str, Any], Path], None]:
    def tamper(manifest: dict[str, Any], site: Path) -> None:
        manifest["paths"].append({"source": source.replace("SITE", str(site)),
                                  "logical": logical, "kind": "config", "owner": "x"})
    return tamper


OUT = "refused, nothing was written|nothing was written"
APP = "config/app"

CASES: list[Case] = [
    Case("dotdot-member", lambda s: [Entry(f"{APP}/../../../../sentinel/x")], 2, OUT),
    Case("absolute-member", lambda s: [Entry(f"{s}/victim")], 2, OUT),
    Case("dotdot-top", lambda s: [Entry("../../sentinel/x")], 2, OUT),
    Case("manifest-source-dotdot", lambda s: [Entry(f"{APP}/m1.txt")], 2,
         "not a normal path", manifest=_manifest_source("/../../../../SITE/sentinel/m1")),
    Case("manifest-source-relative", lambda s: [Entry(f"{APP}/m1.txt")], 2,
         "not an absolute path", manifest=_manifest_source("sentinel")),
    Case("manifest-logical-dotdot", lambda s: [Entry("config/x/../../y")], 2, OUT,
         manifest=_extra_path("config/x/../..", "SITE/host/other")),
    Case("symlink-then-dir-chmod", lambda s: [
        Entry(f"{APP}/d", "symlink", link=str(s)), Entry(f"{APP}/d/", "dir", mode=0o777)],
        2, "appears twice|through the symlink"),
    Case("symlink-then-file", lambda s: [
        Entry(f"{APP}/d", "symlink", link=str(s)), Entry(f"{APP}/d/victim")], 2,
        "through the symlink"),
    Case("relative-symlink-out", lambda s: [
        Entry(f"{APP}/up", "symlink", link="../../../../../../../../../../"),
        Entry(f"{APP}/up/x")], 2, "climbing out|through the symlink"),
    Case("symlink-chain", lambda s: [
        Entry(f"{APP}/a", "symlink", link="b"), Entry(f"{APP}/b", "symlink", link=str(s)),
        Entry(f"{APP}/a/victim")], 2, "through the symlink"),
    Case("hardlink", lambda s: [Entry(f"{APP}/h", "hardlink", link=f"{s}/victim")], 2,
         "hard link|hardlink|refused", formats=("tar", "tar.gz", "tar.gz.enc")),
    Case("device", lambda s: [Entry(f"{APP}/null", "chardev")], 2,
         "device|refused", formats=("tar", "tar.gz", "tar.gz.enc")),
    Case("fifo", lambda s: [Entry(f"{APP}/pipe", "fifo")], 2, "FIFO|fifo|refused",
         formats=("tar", "tar.gz", "tar.gz.enc")),
    Case("duplicate-file-file", lambda s: [Entry(f"{APP}/f"), Entry(f"{APP}/f", data=b"2")],
         2, "appears twice", formats=("tar", "tar.gz", "tar.gz.enc")),
    Case("duplicate-file-symlink", lambda s: [
        Entry(f"{APP}/f"), Entry(f"{APP}/f", "symlink", link=f"{s}/victim")], 2,
        "appears twice", formats=("tar", "tar.gz", "tar.gz.enc")),
    Case("duplicate-symlink-file", lambda s: [
        Entry(f"{APP}/f", "symlink", link=f"{s}/victim"), Entry(f"{APP}/f")], 2,
        "appears twice", formats=("tar", "tar.gz", "tar.gz.enc")),
    Case("duplicate-dir-file", lambda s: [Entry(f"{APP}/f", "dir"), Entry(f"{APP}/f")], 2,
         "appears twice"),
    Case("not-in-profile-in-place", lambda s: [Entry(f"{APP}/m1.txt")], 2,
         "does not name them", manifest=_manifest_source("SITE/sentinel"), in_place=True,
         formats=("tar.gz", "zip")),
    Case("unlisted-extra-part-in-place", lambda s: [Entry("config/evil/x")], 2,
         "does not name them", manifest=_extra_path("config/evil", "SITE/sentinel"),
         in_place=True, formats=("tar.gz", "zip")),
    Case("long-pax-name", lambda s: [Entry(f"{APP}/" + "d" * 200 + "/" + "n" * 300)], 2,
         "File name too long|too long|refused", formats=("tar", "tar.gz")),
    Case("newline-name", lambda s: [Entry(f"{APP}/line\nbreak")], 0, "", writes=True,
         formats=("tar", "zip")),
    Case("case-fold-twins", lambda s: [Entry(f"{APP}/README"), Entry(f"{APP}/readme")], 0, "",
         writes=True, formats=("tar", "zip")),
    Case("setuid-file", lambda s: [Entry(f"{APP}/suid", mode=0o4755)], 0, "", writes=True,
         formats=("tar",)),
]


SCRIPT_CASES: list[tuple[str, str, int, str, bytes, str, int, str]] = [
    # (name, hook, index, database, payload, format, exit code, message)
    ("sqlite-shell", "sqlite", 0, "db.sqlite", b".shell touch CANARY\n", "sql", 1,
     "safe mode"),
    ("sqlite-system", "sqlite", 0, "db.sqlite", b".system touch CANARY\n", "sql", 1,
     "safe mode"),
    ("sqlite-writefile", "sqlite", 0, "db.sqlite",
     b"SELECT writefile('CANARY', 'x');\n", "sql", 1, "safe mode"),
    ("sqlite-attach", "sqlite", 0, "db.sqlite", b"ATTACH 'CANARY' AS x;\n", "sql", 1,
     "safe mode"),
    ("psql-plain-bang", "postgresql", 1, "corpus_pg", b"\\! touch CANARY\n", "plain", 2,
     "psql obeys backslash commands"),
    ("psql-globals-bang", "postgresql", 1, "postgresql-globals", b"\\! touch CANARY\n",
     "globals", 2, "psql obeys backslash commands"),
    ("mariadb-system", "mariadb", 2, "corpus_my", b"system touch CANARY\n", "sql", 1,
     "sandbox"),
    ("mariadb-bang", "mariadb", 2, "corpus_my", b"\\! touch CANARY\n", "sql", 1, "sandbox"),
    ("command-hook", "command", 3, "cmd", b"touch CANARY\n", "raw", 2,
     "cannot vouch for"),
]
