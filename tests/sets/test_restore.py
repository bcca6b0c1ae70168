from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.engines.base import Node
from orchestrator.errors import UsageError
from orchestrator.models import RestoreBackupRequest
from orchestrator.sets.layout import SourcePath
from orchestrator.sets.manifest import ManifestStream
from orchestrator.sets.restore import find_conflicts, parse_as_database, retarget, select_streams


def stream(service: str, database: str, fmt: str = "custom") -> ManifestStream:
    return ManifestStream(part=f"services/{service}/{database}", logical=f"services/{service}/"
                          f"{database}", snapshot_id="ab" * 32, bytes=1, hook="postgresql",
                          service=service, database=database, format=fmt)


STREAMS = [stream("nc", "postgresql-globals", "globals"), stream("nc", "nextcloud"),
           stream("git", "gitlab")]


def request(**values: object) -> RestoreBackupRequest:
    return RestoreBackupRequest.model_validate({"backup": "x", **values})


def test_select_streams_by_mode_service_and_globals() -> None:
    assert select_streams(STREAMS, request(mode="config-only")) == []
    assert [s.database for s in select_streams(STREAMS, request())] == ["nextcloud", "gitlab"]
    assert [s.database for s in select_streams(STREAMS, request(with_globals=True,
                                                                services=["nc"]))] == [
        "postgresql-globals", "nextcloud"]
    assert [s.database for s in select_streams(STREAMS, request(databases=["gitlab"]))] == [
        "gitlab"]


def test_as_database_takes_new_for_one_database_or_old_equals_new() -> None:
    assert parse_as_database(["copy"], STREAMS, request(services=["nc"])) == {"nextcloud": "copy"}
    assert parse_as_database(["gitlab=g2", "nextcloud=n2"], STREAMS, request()) == {
        "gitlab": "g2", "nextcloud": "n2"}
    with pytest.raises(UsageError, match="holds 2 databases"):
        parse_as_database(["copy"], STREAMS, request())
    with pytest.raises(UsageError, match="no database 'nope'"):
        parse_as_database(["nope=x"], STREAMS, request())


def test_retarget_keeps_absolute_paths_under_the_target() -> None:
    assert retarget("/srv/data/a", Path("/")) == Path("/srv/data/a")
    assert retarget("/srv/data/a", Path("/mnt/r")) == Path("/mnt/r/srv/data/a")


def test_conflicts_are_existing_files_not_existing_directories(tmp_path: Path) -> None:
    root = tmp_path / "srv"
    (root / "dir").mkdir(parents=True)
    (root / "file").write_text("x")
    (root / "link").symlink_to("file")
    nodes = [Node(str(root), "dir", 0, 0, ""), Node(str(root / "dir"), "dir", 0, 0, ""),
             Node(str(root / "file"), "file", 1, 0, ""), Node(str(root / "link"), "symlink", 0, 0, ""),
             Node(str(root / "new"), "file", 1, 0, ""), Node("/elsewhere/x", "file", 1, 0, "")]
    sources = [SourcePath(str(root), "config/x", "config", "x")]
    assert find_conflicts(nodes, sources, Path("/")) == [str(root / "file"), str(root / "link")]


def test_a_vacant_target_is_absent_or_an_empty_real_folder(tmp_path: Path) -> None:
    from orchestrator.sets.restore import vacant

    assert vacant(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    assert vacant(tmp_path / "empty")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    (tmp_path / "file").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "empty")
    (tmp_path / "dangling").symlink_to(tmp_path / "absent")
    assert not any(vacant(tmp_path / name) for name in ("full", "file", "link", "dangling"))


def test_a_restored_tree_is_counted_as_restic_ls_counts_it(tmp_path: Path) -> None:
    from orchestrator.sets.restore import count_tree

    root = tmp_path / "srv"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "one").write_bytes(b"12345")
    (root / "a" / "b" / "two").write_bytes(b"123")
    (root / "to-dir").symlink_to(root / "a")  # a link is one entry, not followed
    (root / "empty").mkdir()
    assert count_tree(root) == (3, 8)
    assert count_tree(root / "a" / "one") == (1, 5)
    assert count_tree(tmp_path / "absent") == (0, 0)


def test_paths_past_the_first_hundred_are_held_on_disk_and_read_back_in_order() -> None:
    from orchestrator.models.spilled import HEAD, SpilledPaths

    paths = [f"/srv/ü/{i}\n" for i in range(HEAD * 3 + 5)]
    held = SpilledPaths(paths)
    assert len(held._head) == HEAD and held._file is not None  # noqa: SLF001
    assert list(held) == paths and held == paths and held != paths[:-1]
    assert held[0] == paths[0] and held[HEAD + 7] == paths[HEAD + 7] and held[-1] == paths[-1]
    assert held[:20] == paths[:20] and held[HEAD - 2:HEAD + 2] == paths[HEAD - 2:HEAD + 2]
    with pytest.raises(IndexError):
        held[len(paths)]
    with pytest.raises(ValueError, match="NUL"):
        held.append("/srv/\0")
    assert SpilledPaths() == [] and not SpilledPaths() and SpilledPaths(["/a"]) == ["/a"]


def test_a_survey_keeps_no_node_and_clears_only_what_restic_cannot_overwrite(
        tmp_path: Path) -> None:
    from orchestrator.models.spilled import SpilledPaths
    from orchestrator.sets.restore import _clear, survey

    root = tmp_path / "srv"
    (root / "dir").mkdir(parents=True)
    (root / "was-dir").mkdir()
    (root / "was-dir" / "inner").write_text("x")
    (root / "was-file").write_text("x")
    (root / "link").symlink_to("dir")
    for i in range(300):
        (root / "dir" / f"f{i}").write_text("old")
    nodes = iter([Node(str(root), "dir", 0, 0, ""), Node(str(root / "dir"), "dir", 0, 0, ""),
                  *(Node(str(root / "dir" / f"f{i}"), "file", 3, 0, "") for i in range(300)),
                  Node(str(root / "was-dir"), "file", 2, 0, ""),
                  Node(str(root / "was-file"), "dir", 0, 0, ""),
                  Node(str(root / "link"), "file", 4, 0, ""),
                  Node(str(root / "new"), "file", 5, 0, "")])
    sources = [SourcePath(str(root), "config/x", "config", "x")]
    conflicts = SpilledPaths()
    found = survey(nodes, sources, Path("/"), conflicts)
    assert found.counts == {str(root): (303, 3 * 300 + 2 + 4 + 5)}
    assert list(conflicts) == [*(str(root / "dir" / f"f{i}") for i in range(300)),
                               str(root / "was-dir"), str(root / "was-file"), str(root / "link")]
    # Regular files over regular files are restic's to rewrite: only the others are kept.
    assert list(found.to_clear) == [f"d{root / 'was-dir'}", f"f{root / 'was-file'}",
                                    f"f{root / 'link'}"]
    _clear(found.to_clear)
    assert not any(os.path.lexists(root / name) for name in ("was-dir", "was-file", "link"))
    assert (root / "dir" / "f299").read_text() == "old"
