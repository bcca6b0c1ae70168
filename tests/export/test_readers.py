"""The archive readers' bounds: names, link targets, member counts, data against its
declared size, memory, and one short typed error for every damaged archive."""

from __future__ import annotations

import io
import stat
import struct
import tarfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from orchestrator.errors import StrongroomError, UsageError
from orchestrator.export import read_zip
from orchestrator.export.readers import ArchiveLimitExceeded, DamagedArchive, HostileArchive
from orchestrator.export.unpack import open_members, read_archive_manifest
from tests.export.archives import PASSWORD, build, consume

LINK = stat.S_IFLNK | 0o777


def _zip(members: list[tuple[str, bytes, int]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            info.compress_type, info.external_attr = method, mode << 16
            archive.writestr(info, data)
    return sink.getvalue()


def _write(tmp_path: Path, raw: bytes, name: str = "archive.zip") -> Path:
    path = tmp_path / name
    path.write_bytes(raw)
    return path


def _refused(path: Path, kind: type[StrongroomError] = HostileArchive,
             password: bytes | None = PASSWORD, max_members: int = 1_000_000) -> str:
    with pytest.raises(kind) as caught:
        consume(path, password, max_members)
    message = caught.value.render()
    assert "\n" not in message and len(message) < 700, message
    assert kind is UsageError or caught.value.exit_code == 2
    return message


def _patch_sizes(raw: bytes, file_size: int | None = None,
                 compress_size: int | None = None, entry: int = 0) -> bytes:
    """Rewrite the sizes of an entry in its local header and its central directory
    entry (as a hostile archive would)."""
    data = bytearray(raw)
    for signature, base in ((b"PK\x03\x04", 18), (b"PK\x01\x02", 20)):
        at = -1
        for _ in range(entry + 1):
            at = data.find(signature, at + 1)
        at += base
        if compress_size is not None:
            data[at:at + 4] = struct.pack("<I", compress_size)
        if file_size is not None:
            data[at + 4:at + 8] = struct.pack("<I", file_size)
    return bytes(data)


def test_ten_thousand_long_symlinks_are_refused_quickly_in_little_memory(tmp_path: Path) -> None:
    target = b"a" * (60 << 10)
    path = _write(tmp_path, _zip([(f"config/app/l{n:05}", target, LINK) for n in range(10_000)]))
    tracemalloc.start()
    started = time.monotonic()
    try:
        message = _refused(path, ArchiveLimitExceeded)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "link target longer than 4096 bytes" in message and "archive.zip" in message
    assert time.monotonic() - started < 5
    assert peak < 20 << 20, peak


def test_a_symlink_whose_target_outgrows_its_declared_size_is_cut_at_4097(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, _patch_sizes(_zip([("l", b"b" * (60 << 10), LINK)]), file_size=100))
    handed = _count_source_bytes(monkeypatch)
    message = _refused(path, ArchiveLimitExceeded)
    assert "more data than the 100 bytes it declares" in message
    assert sum(handed) <= 101


def _count_source_bytes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    handed: list[int] = []
    original = read_zip._Source.read

    def counting(self: read_zip._Source, size: int) -> bytes:
        data = original(self, size)
        handed.append(len(data))
        return data

    monkeypatch.setattr(read_zip._Source, "read", counting)
    return handed


def test_a_zip_bomb_is_refused_after_its_declared_size(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _zip([("metadata.json", b"{}", 0o100644), ("bomb", bytes(64 << 20), 0o100644)])
    path = _write(tmp_path, _patch_sizes(raw, file_size=1000, entry=1))
    handed = _count_source_bytes(monkeypatch)
    tracemalloc.start()
    try:
        message = _refused(path, ArchiveLimitExceeded)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "'bomb': holds more data than the 1000 bytes it declares" in message
    assert sum(handed) <= 1001 + 2  # metadata.json's two bytes
    assert peak < 20 << 20


def test_data_shorter_than_declared_is_refused(tmp_path: Path) -> None:
    raw = _zip([("f", b"x" * 100, 0o100644)], zipfile.ZIP_STORED)
    path = _write(tmp_path, _patch_sizes(raw, file_size=200))
    assert "ends after 100 of the 200 bytes" in _refused(path, DamagedArchive)


def test_a_truncated_tar_gz(tmp_path: Path) -> None:
    raw = build("tar.gz")
    path = _write(tmp_path, raw[:len(raw) // 2], "export.tar.gz")
    assert "export.tar.gz" in _refused(path, DamagedArchive)


@pytest.mark.parametrize("raw", [b"", b"\0" * 100, bytes(range(256)) * 40,
                                 b"PK\x03\x04" + b"garbage" * 50, b"\x1f\x8b" + b"junk" * 9,
                                 b"\xfd7zXZ\x00" + b"junk" * 9, b"SRENC\x00\x01\n" + b"j" * 9])
def test_garbage_and_empty_files(tmp_path: Path, raw: bytes) -> None:
    _refused(_write(tmp_path, raw, "garbage.bin"), DamagedArchive)


def test_duplicate_zip_names_are_all_yielded(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        raw = _zip([("config/app/x", b"first", 0o100644), ("config/app/x", b"second", LINK),
                    ("config/app/x", b"third", 0o100600)])
    members = consume(_write(tmp_path, raw))
    assert [(m[0], m[1], m[3], m[4]) for m in members] == [
        ("config/app/x", "file", b"first", ""), ("config/app/x", "symlink", b"", "second"),
        ("config/app/x", "file", b"third", "")]


def test_long_names_and_link_targets_are_refused(tmp_path: Path) -> None:
    long = "d/" + "n" * 5000
    message = _refused(_write(tmp_path, _zip([(long, b"", 0o100644)])), ArchiveLimitExceeded)
    assert "member name longer than 4096 bytes" in message and long not in message
    for info in (tarfile.TarInfo(long), tarfile.TarInfo("l")):
        if info.name == "l":
            info.type, info.linkname = tarfile.SYMTYPE, "t/" * 3000
        sink = io.BytesIO()
        with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as archive:
            archive.addfile(info)
        _refused(_write(tmp_path, sink.getvalue(), "long.tar"), ArchiveLimitExceeded)


def test_names_with_control_characters_are_shown_escaped(tmp_path: Path) -> None:
    raw = _patch_sizes(_zip([("evil\nname\x1b[2J", b"x" * 10, 0o100644)],
                            zipfile.ZIP_STORED), file_size=5, compress_size=5)
    message = _refused(_write(tmp_path, raw))
    assert "'evil\\nname\\x1b[2J'" in message


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_more_members_than_allowed(tmp_path: Path, fmt: str) -> None:
    path = _write(tmp_path, build(fmt), f"a.{fmt}")
    assert len(consume(path, max_members=6)) == 6
    assert "more than 5 members" in _refused(path, ArchiveLimitExceeded, max_members=5)


def test_local_header_disagreeing_with_the_central_directory(tmp_path: Path) -> None:
    raw = bytearray(_zip([("config/a", b"data", 0o100644), ("config/b", b"more", 0o100644)]))
    second = raw.find(b"PK\x03\x04", 4)
    raw[second + 30:second + 38] = b"config/c"
    assert "disagree" in _refused(_write(tmp_path, bytes(raw)), DamagedArchive)


def test_overlapping_entries_are_refused(tmp_path: Path) -> None:
    raw = bytearray(_zip([("a", b"x" * 1000, 0o100644), ("b", b"y" * 10, 0o100644)],
                         zipfile.ZIP_STORED))
    entry = raw.find(b"PK\x01\x02", raw.find(b"PK\x01\x02") + 1)
    raw[entry + 42:entry + 46] = struct.pack("<I", 0)  # b's local header offset: a's
    assert "share one local header" in _refused(_write(tmp_path, bytes(raw)), DamagedArchive)
    raw = _patch_sizes(_zip([("a", b"x" * 10, 0o100644), ("b", b"y" * 10, 0o100644)],
                            zipfile.ZIP_STORED), file_size=100, compress_size=100)
    assert "overlaps the next entry" in _refused(_write(tmp_path, raw), DamagedArchive)


def test_unsupported_compression_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, _zip([("f", b"x" * 100, 0o100644)], zipfile.ZIP_LZMA))
    assert "compression method 14" in _refused(path, DamagedArchive)


@pytest.mark.parametrize("fmt", ["aes.zip", "tar.gz.enc"])
def test_wrong_and_missing_passwords(tmp_path: Path, fmt: str) -> None:
    path = _write(tmp_path, build(fmt), f"a.{fmt}")
    if fmt == "aes.zip":
        assert "Bad password" in _refused(path, UsageError, b"nope")
    else:
        with pytest.raises(DamagedArchive, match="wrong password"):
            consume(path, b"nope")
    with pytest.raises(UsageError):
        consume(path, None)


def test_encrypted_flag_and_kinds(tmp_path: Path) -> None:
    for fmt, encrypted in (("aes.zip", True), ("zip", False), ("tar.xz.enc", True),
                           ("tar.gz", False)):
        with open_members(_write(tmp_path, build(fmt), f"a.{fmt}"), PASSWORD) as members:
            flags = {member.encrypted for member in members}
        assert flags == {encrypted}, fmt
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w") as archive:
        for name, kind in (("h", tarfile.LNKTYPE), ("f", tarfile.FIFOTYPE),
                           ("c", tarfile.CHRTYPE), ("s", tarfile.GNUTYPE_SPARSE)):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "target" if kind == tarfile.LNKTYPE else ""
            archive.addfile(info)
    with open_members(_write(tmp_path, sink.getvalue(), "kinds.tar"), None) as members:
        assert [(m.kind, m.detail, m.link) for m in members] == [
            ("other", "hardlink", "target"), ("other", "fifo", ""), ("other", "device", ""),
            ("other", "sparse", "")]


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_data_cannot_be_read_after_moving_on(tmp_path: Path, fmt: str) -> None:
    with open_members(_write(tmp_path, build(fmt), f"a.{fmt}"), None) as members:
        first = next(members)
        next(members)
        assert first.reader is not None
        with pytest.raises(StrongroomError, match="moved on"):
            first.reader.read()
        last = list(members)[-1]
        assert last.reader is not None
        with pytest.raises(StrongroomError, match="moved on"):
            last.reader.read()


def test_a_manifest_that_is_not_one(tmp_path: Path) -> None:
    path = _write(tmp_path, _zip([("metadata.json", b'{"set": "\n' + b"x" * 9000, 0o100644)]))
    with pytest.raises(DamagedArchive, match="not a strongroom manifest") as caught:
        read_archive_manifest(path, None)
    assert "\n" not in caught.value.message and len(caught.value.message) < 700


def _pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode()
    length = len(body) + len(str(len(body)))
    length += len(str(length)) - len(str(len(body)))
    return str(length).encode() + body


def test_tar_metadata_is_bounded_across_headers(tmp_path: Path) -> None:
    record = _pax_record("comment", "c" * (600 << 10))
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for _ in range(3):
            info = tarfile.TarInfo("pax")
            info.type, info.size = tarfile.XHDTYPE, len(record)
            archive.addfile(info, io.BytesIO(record))
        archive.addfile(tarfile.TarInfo("f"), io.BytesIO(b""))
    raw = sink.getvalue()
    assert "metadata of more than 1048576 bytes" in _refused(_write(tmp_path, raw, "m.tar"))
    one = raw[2 * (512 + len(record) + (-len(record) % 512)):]
    assert [m[0] for m in consume(_write(tmp_path, one, "one.tar"))] == ["f"]


def test_data_after_the_tar_end_is_bounded(tmp_path: Path) -> None:
    import gzip

    plain = gzip.decompress(build("tar.gz"))
    assert len(consume(_write(tmp_path, gzip.compress(plain + bytes(64 << 10)), "ok.tar.gz")))
    path = _write(tmp_path, gzip.compress(plain + bytes(4 << 20)), "tail.tar.gz")
    assert "bytes after the tar's end marker" in _refused(path, DamagedArchive)
