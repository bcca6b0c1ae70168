from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.export.safe_tree import SafeTree, UnsafePath, clean_absolute


def test_writes_files_dirs_and_links_below_the_root(tmp_path: Path) -> None:
    with SafeTree(tmp_path / "root") as tree:
        tree.mkdir("a/b")
        assert tree.write_file("a/b/f.txt", [b"he", b"llo"], 0o640, 1_000_000, limit=5) == 5
        tree.symlink("a/link", "/etc/hosts")
        tree.set_dir_meta("a", 0o750, 2_000_000)
    f = tmp_path / "root/a/b/f.txt"
    assert f.read_bytes() == b"hello" and f.stat().st_mode & 0o777 == 0o640
    assert f.stat().st_mtime == 1_000_000
    assert os.readlink(tmp_path / "root/a/link") == "/etc/hosts"
    assert (tmp_path / "root/a").stat().st_mode & 0o777 == 0o750


def test_never_writes_through_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "d").symlink_to(outside)
    with SafeTree(root) as tree:
        with pytest.raises(UnsafePath, match="not a folder"):
            tree.write_file("d/x", [b"x"], 0o644, 0, limit=1)
        with pytest.raises(UnsafePath):
            tree.set_dir_meta("d", 0o777, 0)
        with pytest.raises(UnsafePath, match="not a folder"):
            tree.mkdir("d")
    assert list(outside.iterdir()) == []
    assert outside.stat().st_mode & 0o777 != 0o777


def test_a_file_replaces_a_symlink_itself_not_its_target(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    root = tmp_path / "root"
    root.mkdir()
    (root / "f").symlink_to(victim)
    with SafeTree(root) as tree:
        tree.write_file("f", [b"new"], 0o644, 0, limit=3)
    assert victim.read_text() == "keep"
    assert not (root / "f").is_symlink() and (root / "f").read_text() == "new"


def test_set_uid_bits_are_dropped_and_limits_hold(tmp_path: Path) -> None:
    with SafeTree(tmp_path) as tree:
        tree.write_file("suid", [b"x"], 0o4755, 0, limit=1)
        with pytest.raises(UnsafePath, match="more data"):
            tree.write_file("big", [b"xx", b"yy"], 0o644, 0, limit=3)
    assert (tmp_path / "suid").stat().st_mode & 0o7777 == 0o755
    assert not (tmp_path / "big").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["suid"]  # no temp file left


def test_a_folder_is_not_replaced_by_a_file(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with SafeTree(tmp_path) as tree, pytest.raises(UnsafePath, match="exists as a folder"):
        tree.write_file("d", [b"x"], 0o644, 0, limit=1)


@pytest.mark.parametrize("path", ["relative", "/a/../b", "/a/./b", "/a//b", "/a/", "/a\x00"])
def test_clean_absolute_refuses_paths_that_are_not_normal(path: str) -> None:
    with pytest.raises(UnsafePath):
        clean_absolute(path, "source")


def test_clean_absolute_keeps_normal_paths() -> None:
    assert clean_absolute("/srv/app", "source") == "/srv/app"
    assert clean_absolute("/", "source") == "/"
