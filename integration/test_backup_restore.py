"""create-backup → list-backups → restore-backup against a real restic repository (and,
for the tests marked BOTH_ENGINES, a real borg repository too)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from integration.conftest import BOTH_ENGINES, Site, compare_trees


def snapshot_paths(site: Site, set_name: str) -> list[str]:
    env = {**os.environ, "RESTIC_REPOSITORY": str(site.repository),
           "RESTIC_PASSWORD_FILE": str(site.password_file)}
    out = subprocess.run(["restic", "snapshots", "--json", "--tag", f"set={set_name}"],
                         capture_output=True, text=True, env=env, check=True).stdout
    snaps = json.loads(out)
    assert len(snaps) == 1, snaps
    tags = set(snaps[0]["tags"])
    assert {"strongroom", f"set={set_name}", "part=files", "profile=site"} <= tags
    return list(snaps[0]["paths"])


def test_each_backup_type_holds_its_paths(site: Site) -> None:
    host = site.root / "host"
    expected = {
        "config": {"etc/app", "etc/other", "etc/netplan"},
        "full": {"etc/app", "etc/other", "etc/netplan", "srv/data", "srv/other"},
        "disaster-recovery": {"etc/app", "etc/other", "etc/netplan", "srv/data", "srv/other"},
    }
    for backup_type, rel_paths in expected.items():
        made = site.run("create-backup", "--type", backup_type, "--json").json()
        assert made["verified"] is True and made["type"] == backup_type
        paths = snapshot_paths(site, made["set"])
        sources = {str(Path(p).relative_to(host)) for p in paths if p.startswith(str(host))}
        assert sources == rel_paths, backup_type
        assert any(p.endswith(f"/sets/{backup_type}") for p in paths)
        if backup_type == "disaster-recovery":
            assert str(site.profile) in paths
    made = site.run("create-backup", "--type", "service", "--services", "web", "--json").json()
    assert {str(Path(p).relative_to(host)) for p in snapshot_paths(site, made["set"])
            if p.startswith(str(host))} == {"etc/app"}
    made = site.run("create-backup", "--type", "service", "--services", "web",
                    "--include-data", "--name", "web-data", "--json").json()
    assert made["services"] == ["web"]
    assert {str(Path(p).relative_to(host)) for p in snapshot_paths(site, made["set"])
            if p.startswith(str(host))} == {"etc/app", "srv/data"}

    listed = site.run("list-backups", "--json").json()["backups"]
    # Two sets made within one second list by name (restic keeps whole seconds).
    assert sorted(b["type"] for b in listed) == ["config", "disaster-recovery", "full",
                                                 "service", "service"]
    assert all(b["status"] == "complete" and b["parts"] == 1 for b in listed)
    assert [b["set"] for b in site.run("list-backups", "--type", "service", "--json")
            .json()["backups"]] == [b["set"] for b in listed if b["type"] == "service"]
    assert len(site.run("list-backups", "--name", "web-data", "--json").json()["backups"]) == 1
    table = site.run("list-backups").stdout
    assert listed[0]["set"] in table and "complete" in table


@BOTH_ENGINES
def test_restore_into_target_is_byte_for_byte(make_site: Callable[..., Site]) -> None:
    site = make_site(large_bytes=50 * 1024 * 1024)
    made = site.run("create-backup", "--type", "full", "--json").json()
    target = site.root / "restored"
    result = site.run("restore-backup", "--backup", made["set"], "--target", str(target),
                      "--verify", "--json").json()
    assert result["restored"] and result["verified"] and result["conflicts"] == []
    host = site.root / "host"
    inside = target / str(host).lstrip("/")
    # .terraform is excluded by the config group's exclude glob.
    assert not (inside / "etc/app/.terraform").exists()
    assert compare_trees(host, inside, skip=(".terraform",)) >= 15
    assert (inside / "srv/data/large.bin").stat().st_size == 50 * 1024 * 1024
    assert (inside / "etc/app/empty-dir").is_dir()
    assert os.readlink(inside / "etc/app/dangling") == "/nonexistent/target"


@BOTH_ENGINES
def test_timestamp_picks_the_latest_set_at_or_before(site: Site) -> None:
    conf = site.path("etc/app/app.conf")
    made = []
    for version in ("one", "two", "three"):
        conf.write_text(version + "\n")
        made.append(site.run("create-backup", "--json").json())
        time.sleep(1.1)
    times = [datetime.fromisoformat(m["time"]) for m in made]
    between = times[1] + (times[2] - times[1]) / 2
    for moment, expected in (
        (times[1], 1),
        (between, 1),
        (times[2] + timedelta(hours=1), 2),
        (times[0], 0),
    ):
        dry = site.run("restore-backup", "--timestamp", moment.isoformat(), "--dry-run",
                       "--json").json()
        assert dry["set"] == made[expected]["set"], moment
    # A naive time is local time.
    local_naive = times[1].astimezone().replace(tzinfo=None).isoformat()
    dry = site.run("restore-backup", "--timestamp", local_naive, "--dry-run", "--json").json()
    assert dry["set"] == made[1]["set"]
    target = site.root / "at-two"
    site.run("restore-backup", "--timestamp", between.isoformat(), "--target", str(target))
    assert (target / str(conf).lstrip("/")).read_text() == "two\n"


@BOTH_ENGINES
def test_dry_run_writes_nothing_and_conflicts_need_force(site: Site) -> None:
    conf = site.path("etc/app/app.conf")
    made = site.run("create-backup", "--type", "full", "--json").json()
    conf.write_text("changed after the backup\n")
    caches = site.state / "cache"  # restic's, and the snapshot listings: not restored data

    def written() -> list[str]:
        return sorted(str(p) for p in site.root.rglob("*") if caches not in p.parents)

    before = written()
    dry = site.run("restore-backup", "--backup", "latest", "--dry-run", "--json").json()
    assert dry["restored"] is False and str(conf) in dry["conflicts"]
    assert {entry["logical"] for entry in dry["plan"]} >= {"config/app", "services/web/data"}
    assert written() == before
    assert conf.read_text() == "changed after the backup\n"

    refused = site.run("restore-backup", "--backup", made["set"], check=False)
    assert refused.returncode != 0
    assert "would overwrite" in refused.stderr and str(conf) in refused.stderr
    assert "Traceback" not in refused.stderr
    assert conf.read_text() == "changed after the backup\n"

    site.run("restore-backup", "--backup", made["set"], "--force", "--verify")
    assert conf.read_text() == "listen = 8080\n"


@BOTH_ENGINES
def test_restore_modes_select_parts(site: Site) -> None:
    site.run("create-backup", "--type", "full")
    only_config = site.run("restore-backup", "--backup", "full", "--mode", "config-only",
                           "--dry-run", "--json").json()
    assert {e["logical"] for e in only_config["plan"]} == {
        "config/app", "services/other/config", "infrastructure/network-configs"}
    web = site.run("restore-backup", "--backup", "full", "--mode", "selective", "--services",
                   "web", "--target", str(site.root / "web"), "--json").json()
    assert {e["logical"] for e in web["plan"]} == {"services/web/data"}
    assert (site.root / "web" / str(site.path("srv/data/large.bin")).lstrip("/")).is_file()
    assert not (site.root / "web" / str(site.path("etc/other")).lstrip("/")).exists()


def test_unchanged_rerun_uses_the_previous_snapshot_as_parent(site: Site) -> None:
    site.run("create-backup", "--type", "full", "--json")
    time.sleep(1.1)
    again = site.run("create-backup", "--type", "full", "--json").json()
    # Only the staged manifest and log changed: restic skipped the unchanged files.
    assert again["bytes_added"] < 64 * 1024


@pytest.mark.parametrize("schedule_type", ["full"])
def test_schedule_supplies_type_and_name(site: Site, schedule_type: str) -> None:
    made = site.run("create-backup", "--schedule", "nightly", "--json").json()
    assert made["type"] == schedule_type and made["set"].startswith("nightly-")


@BOTH_ENGINES
def test_a_symlink_planted_below_the_target_is_refused(site: Site) -> None:
    made = site.run("create-backup", "--type", "config", "--json").json()
    outside = site.root / "outside"
    outside.mkdir()
    target = site.root / "target"
    target.mkdir()
    (target / site.root.relative_to("/").parts[0]).symlink_to(outside)
    result = site.run("restore-backup", "--backup", made["set"], "--target", str(target),
                      check=False)
    assert result.returncode == 1 and "is a symlink" in result.stderr
    assert list(outside.iterdir()) == []
