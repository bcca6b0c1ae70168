from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from orchestrator.engines.restic_listing import RepositoryListing


def snapshot_id(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def item(n: int) -> dict[str, Any]:
    return {"id": snapshot_id(n), "time": f"2026-12-01T10:00:0{n}Z", "tags": [f"n={n}"]}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "snapshots").mkdir(parents=True)
    (repo / "keys").mkdir()
    (repo / "keys" / snapshot_id(100)).write_bytes(b"key")
    (repo / "config").write_bytes(b"encrypted config")
    for n in (1, 2):
        (repo / "snapshots" / snapshot_id(n)).write_bytes(b"x")
    return repo


def listing(repo: Path, tmp_path: Path, password: str = "file:1:2") -> RepositoryListing:
    return RepositoryListing(repo, tmp_path / "state", password)


def test_nothing_is_known_before_restic_has_listed(repo: Path, tmp_path: Path) -> None:
    assert listing(repo, tmp_path).current() is None


def test_the_kept_items_are_the_listing_while_every_id_is_known(repo: Path,
                                                                 tmp_path: Path) -> None:
    listing(repo, tmp_path).remember([item(2), item(1)])
    assert listing(repo, tmp_path).current() == [item(1), item(2)]
    record = next((tmp_path / "state" / "cache" / "listings").iterdir())
    assert record.stat().st_mode & 0o777 == 0o600


def test_a_new_snapshot_asks_restic_again(repo: Path, tmp_path: Path) -> None:
    listing(repo, tmp_path).remember([item(1), item(2)])
    (repo / "snapshots" / snapshot_id(3)).write_bytes(b"someone else's")
    assert listing(repo, tmp_path).current() is None
    listing(repo, tmp_path).remember([item(3)])  # a later listing keeps the earlier items
    assert listing(repo, tmp_path).current() == [item(1), item(2), item(3)]


def test_a_removed_snapshot_leaves_the_listing(repo: Path, tmp_path: Path) -> None:
    listing(repo, tmp_path).remember([item(1), item(2)])
    (repo / "snapshots" / snapshot_id(1)).unlink()
    assert listing(repo, tmp_path).current() == [item(2)]


@pytest.mark.parametrize("name", ["notes.txt", snapshot_id(4) + "-tmp-123", snapshot_id(4)[:60]])
def test_a_name_that_is_not_a_snapshot_id_asks_restic(repo: Path, tmp_path: Path,
                                                       name: str) -> None:
    listing(repo, tmp_path).remember([item(1), item(2)])
    (repo / "snapshots" / name).write_bytes(b"?")
    assert listing(repo, tmp_path).current() is None


def test_a_repository_made_anew_at_the_same_path_starts_empty(repo: Path,
                                                              tmp_path: Path) -> None:
    listing(repo, tmp_path).remember([item(1), item(2)])
    (repo / "config").write_bytes(b"another repository's config")
    assert listing(repo, tmp_path).current() is None


def test_items_for_ids_not_in_the_repository_are_not_kept(repo: Path, tmp_path: Path) -> None:
    listing(repo, tmp_path).remember([item(1), item(2), item(9), {"id": 5}, "junk"])  # type: ignore[list-item]
    record = next((tmp_path / "state" / "cache" / "listings").iterdir())
    assert snapshot_id(9) not in record.read_text()


def test_a_damaged_or_mislabelled_record_is_not_trusted(repo: Path, tmp_path: Path) -> None:
    listing(repo, tmp_path).remember([item(1), item(2)])
    record = next((tmp_path / "state" / "cache" / "listings").iterdir())
    text = record.read_text()
    record.write_text(text.replace(f'"{snapshot_id(2)}":{{"id":"{snapshot_id(2)}"',
                                   f'"{snapshot_id(2)}":{{"id":"{snapshot_id(1)}"'))
    assert listing(repo, tmp_path).current() is None  # an item filed under another id
    record.write_text(text[:-5])
    assert listing(repo, tmp_path).current() is None


def test_a_missing_repository_is_left_to_restic(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    listing(missing, tmp_path).remember([item(1)])
    assert listing(missing, tmp_path).current() is None
    assert not (tmp_path / "state").exists()


def test_a_state_directory_that_cannot_take_the_record_only_costs_a_listing(
        repo: Path, tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file, not a folder")
    listing(repo, tmp_path).remember([item(1), item(2)])
    assert listing(repo, tmp_path).current() is None


def test_another_password_file_or_a_changed_key_asks_restic(repo: Path, tmp_path: Path) -> None:
    listing(repo, tmp_path).remember([item(1), item(2)])
    assert listing(repo, tmp_path, "file:1:3").current() is None
    listing(repo, tmp_path, "file:1:3").remember([])  # restic listed with it: all kept
    assert listing(repo, tmp_path, "file:1:3").current() == [item(1), item(2)]
    assert listing(repo, tmp_path).current() is None
    (repo / "keys" / snapshot_id(101)).write_bytes(b"another key")
    assert listing(repo, tmp_path, "file:1:3").current() is None
