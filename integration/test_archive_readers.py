"""restore-backup --from-archive with damaged archives: exit 2, one line, no traceback."""

from __future__ import annotations

import io
import struct
import zipfile

import pytest

from integration.conftest import Site


def _export(site: Site, fmt: str) -> bytes:
    site.run("create-backup")
    out = site.root / f"real.{fmt}"
    site.run("download-backup", "--format", fmt, "-o", str(out), "--force")
    return out.read_bytes()


def _shrunk_declared_size(raw: bytes) -> bytes:
    """A restored file's declared size cut to 1 byte in the central directory (the
    export's entries carry data descriptors: their local headers hold no sizes)."""
    data = bytearray(raw)
    entry = data.find(b"PK\x01\x02")
    while entry >= 0:
        name = data[entry + 46:entry + 46 + struct.unpack_from("<H", data, entry + 28)[0]]
        if name.startswith(b"config/") and struct.unpack_from("<I", data, entry + 24)[0] > 1:
            struct.pack_into("<I", data, entry + 24, 1)
            return bytes(data)
        entry = data.find(b"PK\x01\x02", entry + 1)
    raise AssertionError("no file entry to shrink")


DAMAGE = {
    "empty": ("zip", lambda raw: b""),
    "garbage": ("zip", lambda raw: bytes(range(256)) * 64),
    "truncated-tar.gz": ("tar.gz", lambda raw: raw[:len(raw) // 2]),
    "truncated-tar.xz": ("tar.xz", lambda raw: raw[:-100]),
    "truncated-zip": ("zip", lambda raw: raw[:-30]),
    "flipped-tar.gz": ("tar.gz", lambda raw: raw[:300] + bytes([raw[300] ^ 4]) + raw[301:]),
    "more-data-than-declared": ("zip", _shrunk_declared_size),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_archive_is_one_line_and_exit_2(site: Site, damage: str) -> None:
    fmt, spoil = DAMAGE[damage]
    path = site.root / f"damaged.{fmt}"
    path.write_bytes(spoil(_export(site, fmt)))
    target = site.root / "landing"
    result = site.run("restore-backup", "--from-archive", str(path), "--target", str(target),
                      check=False)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "damaged." in lines[0], result.stderr
    assert not target.exists() or not any(target.rglob("*")), sorted(target.rglob("*"))


def test_a_long_name_is_cut_in_the_message(site: Site) -> None:
    manifest = zipfile.ZipFile(io.BytesIO(_export(site, "zip"))).read("metadata.json")
    path = site.root / "long.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", manifest)
        archive.writestr("config/" + "x\n" * 30000, b"")
    result = site.run("restore-backup", "--from-archive", str(path), "--target",
                      str(site.root / "landing"), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr) < 1000 and "longer than 4096 bytes" in result.stderr, \
        result.stderr
