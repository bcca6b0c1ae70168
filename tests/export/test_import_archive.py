"""Unpacking an archive to import: names of plain archives, hostile entries refused with
nothing written outside the staging folder, the folders above a part's root."""

from __future__ import annotations

import io
import stat
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.engines.borg_transfer import tar_command
from orchestrator.export.import_archive import _make_part_roots, _stem, _unpack
from orchestrator.export.unpack import HostileArchive
from orchestrator.sets.manifest import Manifest, ManifestPath


def plain_manifest() -> Manifest:
    return Manifest(set="x-20240101-000000", name="x", type="files", profile="p", host="h",
                    started=datetime(2024, 1, 1, tzinfo=UTC), services=[], include_data=True,
                    compress=True, paths=[ManifestPath(source="/imported/x", logical="files",
                                                       kind="service-data", owner="imported")])


def tar_of(path: Path, entries: list[tuple[str, bytes | str]]) -> Path:
    """Files (bytes) and symlinks (str: the link's target)."""
    with tarfile.open(path, "w") as archive:
        for name, value in entries:
            info = tarfile.TarInfo(name)
            if isinstance(value, str):
                info.type, info.linkname = tarfile.SYMTYPE, value
                archive.addfile(info)
            else:
                info.size = len(value)
                archive.addfile(info, io.BytesIO(value))
    return path


def test_plain_archive_names_become_set_names() -> None:
    assert _stem(Path("/x/photos 2024.tar.gz")) == "photos-2024"
    assert _stem(Path("site.zip")) == "site" and _stem(Path("a.tar.xz")) == "a"
    assert _stem(Path("...zip")) == "imported"


def test_a_plain_tar_lands_below_its_part_root(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    archive = tar_of(tmp_path / "a.tar", [("etc/app.conf", b"listen"), ("etc/cur", "app.conf")])
    assert _unpack(archive, None, plain_manifest(), True, staging) == {}
    root = staging / "tree/imported/x"
    assert (root / "etc/app.conf").read_bytes() == b"listen"
    assert (root / "etc/cur").is_symlink()
    assert stat.S_IMODE((staging / "tree/imported").stat().st_mode) == 0o755


@pytest.mark.parametrize("entries", [
    [("../../escape.txt", b"out")],
    [("/abs.txt", b"out")],
    [("link", "/"), ("link/escape.txt", b"out")],
    [("up", "../../../.."), ("up/escape.txt", b"out")],
])
def test_hostile_entries_are_refused_and_nothing_lands_outside(
        tmp_path: Path, entries: list[tuple[str, bytes | str]]) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    archive = tar_of(tmp_path / "hostile.tar", entries)
    with pytest.raises(HostileArchive):
        _unpack(archive, None, plain_manifest(), True, staging)
    assert not list(tmp_path.rglob("escape.txt")) and not Path("/escape.txt").exists()


def test_part_roots_and_the_folders_above_them(tmp_path: Path) -> None:
    _make_part_roots(tmp_path, ["srv/data", "srv/data/inner", "etc/app"])
    assert (tmp_path / "srv/data/inner").is_dir() and (tmp_path / "etc/app").is_dir()
    assert stat.S_IMODE((tmp_path / "srv").stat().st_mode) == 0o755


def test_a_staged_tree_goes_to_borg_through_gnu_tar_from_below_its_root() -> None:
    command = tar_command(Path("/state/migrate/set-1"), ["/srv/data", "/var/lib/sr/sets/x"])
    assert command.argv == ("tar", "--create", "--file=-", "--format=posix",
                            "--numeric-owner", "--directory=/state/migrate/set-1", "--",
                            "srv/data", "var/lib/sr/sets/x")
