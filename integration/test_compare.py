"""backup-compare against the real restic: file changes per part, stream digests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from integration.conftest import BOTH_ENGINES, Site


def write_rows(db: Path, rows: int) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO t (v) VALUES (?)", [(f"row {i}",) for i in range(rows)])
    conn.close()


@BOTH_ENGINES
def test_compare_two_sets_part_by_part(site: Site) -> None:
    a = site.run("create-backup", "--type", "full", "--json").json()["set"]
    site.path("etc/app/app.conf").write_text("listen = 9090\n")
    site.path("srv/data/new.bin").write_bytes(b"n" * 5000)
    site.path("srv/other/blob").unlink()
    db = site.root / "app.sqlite"
    write_rows(db, 100)
    site.profile.write_text(site.profile.read_text() + f"""
[[services.web.hooks]]
type = "sqlite"
path = "{db}"
""")
    b = site.run("create-backup", "--type", "full", "--json").json()["set"]

    result = site.run("backup-compare", a, b, "--json").json()
    assert (result["a"], result["b"]) == (a, b)
    parts = {part["part"]: part for part in result["parts"]}
    assert parts["config/app"]["status"] == "changed"
    assert [(c["path"], c["change"], c["bytes"]) for c in parts["config/app"]["changes"]] == [
        (str(site.path("etc/app/app.conf")), "modified", 14)]
    web = parts["services/web/data"]
    assert (web["added"], web["bytes_added"], web["removed"], web["modified"]) == (1, 5000, 0, 0)
    other = parts["services/other/data"]
    assert (other["removed"], other["bytes_removed"], other["added"]) == (1, 1000, 0)
    assert parts["services/other/config"]["status"] == "same"
    assert parts["infrastructure/network-configs"]["status"] == "same"
    stream = parts["services/web/app.sql"]
    assert (stream["kind"], stream["status"], stream["size_a"]) == ("stream", "only-in-b", None)
    assert "3 changed" in result["summary"] and "1 only in B" in result["summary"]

    write_rows(db, 5)
    c = site.run("backup-database", "--service", "web", "--json").json()["set"]
    streams = site.run("backup-compare", b, c, "--json").json()["parts"]
    by_name = {part["part"]: part for part in streams}
    changed = by_name["services/web/app.sql"]
    assert changed["status"] == "changed" and changed["digest_a"] != changed["digest_b"]
    assert changed["size_b"] > changed["size_a"]
    assert by_name["config/app"]["status"] == "only-in-a"

    text = site.run("backup-compare", a, b, "--files").stdout
    assert f"M {site.path('etc/app/app.conf')}" in text
    assert "config/app: +0 (0 B), -0 (0 B), ~1 (14 B)" in text

    unknown = site.run("backup-compare", a, "nosuch", check=False)
    assert unknown.returncode != 0 and "Traceback" not in unknown.stderr
    assert "nosuch" in unknown.stderr
