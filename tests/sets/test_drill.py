"""The pure parts of a drill: the sandbox's names and clean-up, the restored tree's
comparison, sqlite's statistics, the drill record in set grouping and in the state."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.engines.base import Node, Snapshot
from orchestrator.errors import StrongroomError, UsageError
from orchestrator.models import DrillCheck, DrillRecord
from orchestrator.sets.drill import make_workdir
from orchestrator.sets.drill_checks import (
    DATABASE_NAME_LIMIT,
    Sandbox,
    checking,
    sqlite_stats,
    tree_problems,
)
from orchestrator.sets.naming import DRILL_PART, drill_tags, group_sets, set_name, set_tags
from orchestrator.sets.state import StateDir

T0 = datetime(2024, 12, 20, 14, 30, 22, tzinfo=UTC)


def node(path: str, kind: str = "file", size: int = 0) -> Node:
    return Node(path=path, type=kind, size=size, mode=0o644, mtime="")


def snap(tags: list[str], moment: datetime, seed: str) -> Snapshot:
    return Snapshot(seed * 8, seed * 4, moment, "web1", ("/x",), tuple(tags))


# --- the sandbox ------------------------------------------------------------------------


def test_temporary_names_are_plain_unique_and_short(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, token="0badf00d")
    assert sandbox.temporary_name("Shop DB") == "strongroom_drill_0badf00d_shop_db"
    assert sandbox.temporary_name("vol.data", "-") == "strongroom-drill-0badf00d-vol-data"
    assert sandbox.temporary_name("'; DROP DATABASE x; --") == (
        "strongroom_drill_0badf00d_drop_database_x")
    assert sandbox.temporary_name("..") == "strongroom_drill_0badf00d_db"
    assert len(sandbox.temporary_name("x" * 200)) == DATABASE_NAME_LIMIT


def test_clean_removes_everything_in_reverse_and_reports_failures(tmp_path: Path) -> None:
    folder = tmp_path / "sandbox"
    (folder / "files").mkdir(parents=True)
    removed: list[str] = []

    def refuse() -> None:
        raise StrongroomError("server gone")

    sandbox = Sandbox(folder, token="t")
    sandbox.made("database a", lambda: removed.append("a"))
    sandbox.made("database b", refuse)
    sandbox.made("volume c", lambda: removed.append("c"))
    kept, left = sandbox.clean()
    assert kept == [] and removed == ["c", "a"]
    assert left == ["database b: server gone"]
    assert not folder.exists()


def test_keep_removes_nothing_and_says_what_is_kept(tmp_path: Path) -> None:
    sandbox = Sandbox(tmp_path, token="t", keep=True)
    sandbox.made("database a", lambda: pytest.fail("kept things are not removed"))
    kept, left = sandbox.clean()
    assert kept == ["database a", str(tmp_path)] and left == []
    assert tmp_path.is_dir()


def test_checking_turns_errors_into_a_failed_check_and_lets_interrupts_through() -> None:
    checks: list[DrillCheck] = []
    with checking("files", "files", checks) as check:
        check.detail = "fine"
    with checking("services/a/db.dump", "database", checks):
        raise StrongroomError("pg_restore failed")
    assert [(c.part, c.ok, c.detail) for c in checks] == [
        ("files", True, "fine"), ("services/a/db.dump", False, "pg_restore failed")]
    with checking("services/a/x.sql", "sqlite", checks):
        raise FileNotFoundError(2, "No such file or directory", "/sandbox/x")
    assert checks[-1].detail == "No such file or directory: /sandbox/x"
    with pytest.raises(KeyboardInterrupt), checking("x", "stream", checks):
        raise KeyboardInterrupt
    assert checks[-1].part == "x" and not checks[-1].ok


def test_workdir_is_private_and_inside_the_folder_asked(tmp_path: Path) -> None:
    made = make_workdir(str(tmp_path))
    assert made.parent == tmp_path and made.name.startswith("strongroom-drill-")
    assert oct(made.stat().st_mode & 0o777) == oct(0o700)
    with pytest.raises(UsageError, match="not a directory"):
        make_workdir(str(tmp_path / "missing"))


# --- the restored tree ------------------------------------------------------------------


def test_tree_problems_find_missing_changed_and_wrong_kinds(tmp_path: Path) -> None:
    (tmp_path / "srv/app").mkdir(parents=True)
    (tmp_path / "srv/app/a.txt").write_bytes(b"12345")
    (tmp_path / "srv/app/short.txt").write_bytes(b"12")
    (tmp_path / "srv/app/dir-as-file").write_bytes(b"")
    os.symlink("a.txt", tmp_path / "srv/app/link")
    os.symlink("/nowhere", tmp_path / "srv/app/dangling")
    nodes = [
        node("/srv/app", "dir"), node("/srv/app/a.txt", size=5),
        node("/srv/app/link", "symlink"), node("/srv/app/dangling", "symlink"),
        node("/srv/app/short.txt", size=3), node("/srv/app/gone.txt", size=1),
        node("/srv/app/dir-as-file", "dir"), node("/srv/app/link-as-file", "file"),
    ]
    assert tree_problems(nodes, tmp_path) == [
        "/srv/app/short.txt: 2 bytes, 3 stored",
        "/srv/app/gone.txt: missing",
        "/srv/app/dir-as-file: not a directory",
        "/srv/app/link-as-file: missing",
    ]
    (tmp_path / "srv/app/short.txt").write_bytes(b"123")
    assert tree_problems(nodes[:5], tmp_path) == []


# --- sqlite -----------------------------------------------------------------------------


def test_sqlite_stats_count_rows_and_digest_them_in_any_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    for path, rows in ((first, [(1, "x"), (2, "y")]), (second, [(2, "y"), (1, "x")])):
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE t (id INTEGER, v TEXT)")
            conn.execute('CREATE TABLE "odd ""name" (v)')
            conn.executemany("INSERT INTO t VALUES (?, ?)", rows)
        conn.close()
    verdict, tables = sqlite_stats(first)
    assert verdict == "ok"
    assert [(t.table, t.rows) for t in tables] == [('odd "name', 0), ("t", 2)]
    assert sqlite_stats(second)[1] == tables
    with sqlite3.connect(second) as conn:
        conn.execute("UPDATE t SET v = 'z' WHERE id = 1")
    conn.close()
    assert sqlite_stats(second)[1][1].checksum != tables[1].checksum


def test_sqlite_stats_of_a_damaged_file_is_a_verdict(tmp_path: Path) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database at all" * 100)
    verdict, tables = sqlite_stats(broken)
    assert verdict != "ok" and tables == []


# --- the record -------------------------------------------------------------------------


def test_the_last_drill_is_a_part_of_its_set_not_a_stream() -> None:
    name = set_name("nightly", T0)
    snaps = [
        snap(drill_tags(name, "full", "p", [], ok=False), T0 + timedelta(days=1), "a"),
        snap(drill_tags(name, "full", "p", [], ok=True), T0 + timedelta(days=2), "b"),
        snap(set_tags(name, "files", "full", "p", streams=0), T0, "c"),
    ]
    (entry,) = group_sets(snaps)
    assert entry.complete and entry.time == T0
    assert entry.drill == "ok" and entry.drilled == T0 + timedelta(days=2)
    assert entry.parts[DRILL_PART].short_id == "bbbb"
    (reversed_order,) = group_sets(list(reversed(snaps)))
    assert reversed_order.drill == "ok" and reversed_order.time == T0
    (undrilled,) = group_sets(snaps[2:])
    assert undrilled.drill == "never" and undrilled.drilled is None
    assert f"drill={name}" in drill_tags(name, "full", "p", [], ok=True)


def test_a_drill_record_alone_is_no_complete_set() -> None:
    name = set_name("nightly", T0)
    (entry,) = group_sets([snap(drill_tags(name, "full", "p", [], ok=True), T0, "a")])
    assert not entry.complete  # its set was forgotten: shown incomplete, removed by retention


def test_state_keeps_drills_per_repository(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    record = DrillRecord(set="a-20241220-143022", ok=True, started=T0, rto=1.5)
    state.save_drill(record.set, "/repo", record.model_dump_json().encode())
    state.save_drill("b-20241220-143022", "/other", record.model_dump_json().encode())
    (tmp_path / "drills" / "junk.json").write_text("{not json")
    found = state.drills("/repo")
    assert [DrillRecord.model_validate(item) for item in found] == [record]
    assert StateDir(tmp_path / "none").drills("/repo") == []
