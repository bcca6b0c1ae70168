"""The streaming tar reader against archives written by tarfile in each of its formats."""

from __future__ import annotations

import io
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from orchestrator.export.tar_reader import TarEndedEarly, TarFormatError, TarReader
from orchestrator.run import CommandError, reading

LONG = "deep/" * 30 + "név-ünïcode.txt"  # over 100 bytes: a PAX or GNU long name


def _archive(fmt: int, *, end: bool = True) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        folder = tarfile.TarInfo("srv/empty")
        folder.type, folder.mode, folder.mtime = tarfile.DIRTYPE, 0o750, 1_700_000_000
        archive.addfile(folder)
        for name, data in (("srv/a.txt", b"alpha\n"), (LONG, b"x" * 1500),
                           ("srv/exact", b"y" * 1024), ("srv/zero", b"")):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o640, 1_600_000_000
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("srv/link")
        link.type, link.linkname = tarfile.SYMTYPE, "../" + "far/" * 30 + "target"
        archive.addfile(link)
    data = buffer.getvalue()
    return data if end else data[:data.index(b"alpha\n") + 512]


def _read(data: bytes) -> list[tuple[str, str, int, float, bytes, str]]:
    reader = TarReader(io.BytesIO(data))
    found = []
    for member in reader:
        body = b"".join(reader.data(member)) if member.is_file else b""
        kind = "dir" if member.is_dir else "symlink" if member.is_symlink else "file"
        found.append((member.name, kind, member.mode, member.mtime, body, member.linkname))
    return found


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_members_match_what_tarfile_wrote(fmt: int) -> None:
    found = _read(_archive(fmt))
    names = [entry[0] for entry in found]
    assert names == ["srv/empty", "srv/a.txt", LONG, "srv/exact", "srv/zero", "srv/link"]
    by_name = {entry[0]: entry for entry in found}
    assert by_name["srv/empty"][1:4] == ("dir", 0o750, 1_700_000_000)
    assert by_name["srv/a.txt"][4] == b"alpha\n"
    assert by_name[LONG][4] == b"x" * 1500
    assert by_name["srv/exact"][4] == b"y" * 1024
    assert by_name["srv/zero"][4] == b""
    assert by_name["srv/a.txt"][2:4] == (0o640, 1_600_000_000)
    assert by_name["srv/link"][1] == "symlink"
    assert by_name["srv/link"][5] == "../" + "far/" * 30 + "target"


def test_ustar_prefix_joins_the_name() -> None:
    name = "p/" * 60 + "file"  # over 100 bytes, splittable at a slash
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo(name)
        info.size = 3
        archive.addfile(info, io.BytesIO(b"abc"))
    assert [(entry[0], entry[4]) for entry in _read(buffer.getvalue())] == [(name, b"abc")]


def test_pax_mtime_with_a_fraction_is_kept() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        info = tarfile.TarInfo("f")
        info.pax_headers = {"mtime": "1700000000.5", "atime": "1", "ctime": "2"}
        archive.addfile(info, io.BytesIO(b""))
    assert _read(buffer.getvalue())[0][3] == 1_700_000_000.5


def test_unread_data_is_skipped() -> None:
    reader = TarReader(io.BytesIO(_archive(tarfile.PAX_FORMAT)))
    assert [member.name for member in reader][-1] == "srv/link"


def test_data_of_a_passed_member_cannot_be_read() -> None:
    reader = TarReader(io.BytesIO(_archive(tarfile.PAX_FORMAT)))
    members = iter(reader)
    next(members)
    first_file = next(members)
    next(members)
    with pytest.raises(TarFormatError, match="passed over"):
        b"".join(reader.data(first_file))


def test_data_can_be_asked_for_only_once() -> None:
    reader = TarReader(io.BytesIO(_archive(tarfile.PAX_FORMAT)))
    members = iter(reader)
    next(members)
    first_file = next(members)
    assert b"".join(reader.data(first_file)) == b"alpha\n"
    with pytest.raises(TarFormatError, match="already read"):
        reader.data(first_file)
    assert next(members).name == LONG  # the stream is still in step


def _with_pax(records: bytes) -> bytes:
    """One PAX `x` block holding `records` verbatim, then an empty file and the end."""
    def header(name: bytes, kind: bytes, size: int) -> bytes:
        block = bytearray(512)
        block[0:len(name)] = name
        block[100:108] = b"0000644\0"
        block[124:136] = b"%011o\0" % size
        block[136:148] = b"%011o\0" % 1_600_000_000
        block[148:156] = b" " * 8
        block[156:157] = kind
        block[257:263] = b"ustar\x00"
        block[148:156] = b"%06o\0 " % sum(block)
        return bytes(block)
    body = records + b"\0" * (-len(records) % 512)
    return header(b"pax", b"x", len(records)) + body + header(b"f", b"0", 0) + b"\0" * 1024


@pytest.mark.parametrize("records", [
    b"0 path=x\n",  # a zero length would never move on
    b"-5 path=x\n",
    b"99 path=x\n",  # longer than the block
    b"4 path=x\n",  # shorter than its own digits
    b"nonsense\n",
    b"11 size=x1\n",
    b"13 mtime=soon\n",
])
def test_damaged_pax_records_are_an_error(records: bytes) -> None:
    with pytest.raises(TarFormatError):
        _read(_with_pax(records))


def test_a_good_pax_record_built_here_is_read() -> None:  # the helper above is sound
    assert _read(_with_pax(b"11 path=xy\n"))[0][0] == "xy"


def test_base256_numbers_both_signs() -> None:
    from orchestrator.export.tar_reader import _number

    assert _number(b"\x80" + (2**40).to_bytes(11, "big")) == 2**40
    assert _number(b"\xff" * 12) == -1
    assert _number(b"\xff" * 11 + b"\xfe") == -2
    assert _number(b"0000644\0") == 0o644


def test_a_stream_cut_short_is_an_error() -> None:
    with pytest.raises(TarEndedEarly):
        _read(_archive(tarfile.PAX_FORMAT, end=False))
    with pytest.raises(TarEndedEarly, match="end marker"):
        _read(b"")


def test_a_damaged_header_is_an_error() -> None:
    data = bytearray(_archive(tarfile.PAX_FORMAT))
    data[3] ^= 0x01
    with pytest.raises(TarFormatError, match="checksum"):
        _read(bytes(data))


def test_an_end_marker_reads_the_stream_to_its_end() -> None:
    stream = io.BytesIO(_archive(tarfile.PAX_FORMAT) + b"\0" * 20480)
    reader = TarReader(stream)
    list(reader)
    assert stream.read() == b""


def test_a_cut_stream_from_a_failing_child_reports_the_child(tmp_path: Path) -> None:
    half = tmp_path / "half.tar"
    half.write_bytes(_archive(tarfile.PAX_FORMAT, end=False))
    child = [sys.executable, "-c", textwrap.dedent(f"""
        import os, sys, time
        os.write(1, open({str(half)!r}, "rb").read())
        print("cannot dump file: pack not found", file=sys.stderr); sys.stderr.flush()
        os.close(1)
        time.sleep(0.5); sys.exit(2)
    """)]
    with pytest.raises(CommandError, match="pack not found"), reading(child) as stream:
        _read(stream.read())
