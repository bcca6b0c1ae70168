"""apply-retention on real sets: every part of a removed set goes, other schedules stay."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from integration.conftest import BOTH_ENGINES, Site


def snapshots(site: Site, tag: str) -> list[dict[str, Any]]:
    return site.snapshots(tag)


@BOTH_ENGINES
def test_scheduled_runs_keep_what_their_rules_keep(site: Site) -> None:
    db = site.root / "app.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (v TEXT)")
    conn.close()
    site.profile.write_text(site.profile.read_text() + f"""
[[services.web.hooks]]
type = "sqlite"
path = "{db}"

[schedules.hourly]
schedule = "0 * * * *"
type = "full"
keep_last = 2
""")
    other = site.run("create-backup", "--name", "manual", "--json").json()["set"]
    made = [site.run("create-backup", "--schedule", "hourly", "--json").json()
            for _ in range(3)]
    assert [m["removed_by_retention"] for m in made] == [[], [], [made[0]["set"]]]
    assert snapshots(site, f"set={made[0]['set']}") == []  # the files part and the dump
    assert len(snapshots(site, f"set={made[1]['set']}")) == 2
    listed = [b["set"] for b in site.run("list-backups", "--json").json()["backups"]]
    assert listed == [other, made[1]["set"], made[2]["set"]]

    # Restore by time still finds the newest set at or before that time.
    plan = site.run("restore-backup", "--timestamp", made[1]["time"], "--dry-run",
                    "--json").json()
    assert plan["set"] == made[1]["set"]

    site.profile.write_text(site.profile.read_text().replace("keep_last = 2", "keep_last = 1"))
    preview = site.run("apply-retention", "--dry-run", "--json").json()
    assert [(s["set"], s["keep"], s["reasons"]) for s in preview["sets"]] == [
        (made[1]["set"], False, ["no rule keeps it"]), (made[2]["set"], True, ["last 1"])]
    assert preview["forgotten_snapshots"] == 0
    assert len(snapshots(site, f"set={made[1]['set']}")) == 2
    text = site.run("apply-retention").stdout
    assert f"REMOVE  {made[1]['set']}" in text and "pruned local" in text
    assert snapshots(site, f"set={made[1]['set']}") == []
    assert snapshots(site, f"set={other}") != []


def test_bad_retention_requests(site: Site) -> None:
    unknown = site.run("apply-retention", "--schedule", "nosuch", check=False)
    assert unknown.returncode == 2 and "no schedule named 'nosuch'" in unknown.stderr
    ruleless = site.run("apply-retention", "--schedule", "nightly", check=False)
    assert ruleless.returncode == 2 and "has no retention" in ruleless.stderr
    site.profile.write_text(site.profile.read_text().replace(
        'type = "full"', 'type = "full"\nretention = "30 days"'))
    bad = site.run("apply-retention", check=False)
    assert bad.returncode == 2 and "48h, 30d, 12w, 12m or 1y" in bad.stderr


def test_repository_default_retention_and_prune_every(site: Site) -> None:
    first, second = (site.run("create-backup", "--schedule", "nightly", "--json").json()
                     for _ in range(2))
    assert second["removed_by_retention"] == []  # no rules anywhere yet: keep everything
    site.profile.write_text(site.profile.read_text().replace(
        "[repositories.local]\n", '[repositories.local]\nkeep_last = 1\nprune_every = "7d"\n'))
    applied = site.run("apply-retention", "--json").json()
    assert [(s["set"], s["keep"]) for s in applied["sets"]] == [
        (first["set"], False), (second["set"], True)]
    assert applied["pruned"] == ["local"]  # never pruned before

    third = site.run("create-backup", "--schedule", "nightly", "--json").json()
    assert third["removed_by_retention"] == [second["set"]]
    assert snapshots(site, f"set={second['set']}") == []
    quiet = site.run("apply-retention", "--json").json()
    assert quiet["removed"] == 0 and quiet["pruned"] == []  # pruned less than 7 days ago

    record = site.state / "pruned" / "local.json"
    stamp = json.loads(record.read_text())
    record.write_text(json.dumps({**stamp, "time": "2020-01-01T00:00:00+00:00"}))
    assert site.run("apply-retention", "--json").json()["pruned"] == ["local"]
