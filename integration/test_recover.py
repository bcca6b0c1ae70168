"""The disaster, played: a host backed up as a disaster-recovery set loses its files, its
profile, its state and its schedule units, and a database is dropped; `strongroom recover
--repo … --password-file …` from a fresh HOME rebuilds it, with the real restic,
PostgreSQL, sqlite3 and (for S3) moto."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.conftest import STRONGROOM, Result, Site, compare_trees, with_sqlite

# The host's trees a recovery must bring back byte for byte (.terraform is excluded).
TREES = ("etc/app", "srv/data", "etc/netplan", "etc/other", "srv/other")
SCHEDULE = '\n[schedules.nightly]\nschedule = "0 3 * * *"\ntype = "full"\n'


@dataclass
class Disaster:
    site: Site
    original: Path  # a copy of the host's trees, the sqlite file and the profiles
    units: Path
    database: str | None
    fingerprint: dict[str, str]
    base: Path

    def strike(self) -> None:
        """Lose everything but the repository and its password."""
        from integration.databases import psql

        for path in (self.site.root / "host", self.site.state, self.units):
            shutil.rmtree(path, ignore_errors=True)
        for path in (self.site.profile, self.base, self.site.root / "app.sqlite"):
            path.unlink(missing_ok=True)
        if self.database:
            psql("postgres", f"DROP DATABASE IF EXISTS {self.database}")


def rows(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as conn:
        found = conn.execute("SELECT id, v FROM t ORDER BY id").fetchall()
    conn.close()
    return found


def fresh(tmp_path: Path, units: Path) -> Callable[..., Result]:
    """strongroom from a new HOME: no profile, empty state, only the repository's access."""
    home = tmp_path / "fresh-home"
    home.mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("STRONGROOM_", "RESTIC_", "AWS_", "XDG_"))}
    env.update(HOME=str(home), STRONGROOM_STATE_DIR=str(tmp_path / "fresh-state"),
               XDG_CONFIG_HOME=str(home / ".config"), XDG_CACHE_HOME=str(home / ".cache"),
               XDG_STATE_HOME=str(home / ".local/state"), STRONGROOM_SYSTEMD_DIR=str(units))

    def run(*args: str, extra: dict[str, str] | None = None) -> Result:
        proc = subprocess.run([*STRONGROOM, *args], capture_output=True, text=True,
                              env={**env, **(extra or {})}, cwd=home, timeout=600,
                              check=False, stdin=subprocess.DEVNULL)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


def prepare(site: Site, tmp_path: Path, database: str | None) -> Disaster:
    """Profile split over a base (the schedule lives there), sqlite on web, PostgreSQL
    on other, the schedule installed, then one disaster-recovery set."""
    from integration.databases import pg_fingerprint, psql

    with_sqlite(site, rows=120)
    base = site.root / "base.toml"
    text = site.profile.read_text()
    head, _, _ = text.partition("\n[schedules.nightly]")
    base.write_text(SCHEDULE.lstrip())
    site.profile.write_text('extends = "base.toml"\n' + head + text.split(
        'type = "full"\n', 1)[1])
    fingerprint: dict[str, str] = {}
    if database:
        psql("postgres", f"CREATE DATABASE {database}")
        psql(database, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, "
                       "md5(g::text) FROM generate_series(1, 400) g")
        fingerprint = pg_fingerprint(database)
        site.profile.write_text(site.profile.read_text() + f"""
[[services.other.hooks]]
type = "postgresql"
databases = ["{database}"]
host = "127.0.0.1"
username = "postgres"
""")
    units = tmp_path / "units"
    site.run("schedule-backup", "--name", "nightly", "--install", "systemd",
             env={"STRONGROOM_SYSTEMD_DIR": str(units)})
    assert sorted(p.name for p in units.iterdir()) == [
        "strongroom-site-nightly.service", "strongroom-site-nightly.timer"]
    original = tmp_path / "original"
    for part in TREES:
        shutil.copytree(site.path(part), original / part, symlinks=True)
    for path in (site.profile, base, site.root / "app.sqlite", *units.iterdir()):
        shutil.copy2(path, original / path.name)
    return Disaster(site, original, units, database, fingerprint, base)


def assert_recovered(disaster: Disaster) -> None:
    from integration.databases import pg_fingerprint

    site = disaster.site
    for part in TREES:
        compare_trees(disaster.original / part, site.path(part), skip=(".terraform",))
    assert rows(site.root / "app.sqlite") == rows(disaster.original / "app.sqlite")
    assert len(rows(site.root / "app.sqlite")) == 120
    for path in (site.profile, disaster.base):
        assert path.read_bytes() == (disaster.original / path.name).read_bytes()
        back, before = path.stat(), (disaster.original / path.name).stat()
        assert (back.st_mode, back.st_mtime_ns) == (before.st_mode, before.st_mtime_ns)
    if disaster.database:
        assert pg_fingerprint(disaster.database) == disaster.fingerprint
    for unit in ("strongroom-site-nightly.service", "strongroom-site-nightly.timer"):
        assert without_state((disaster.units / unit).read_text()) == without_state(
            (disaster.original / unit).read_text())
    assert str(site.profile) in (disaster.units / "strongroom-site-nightly.service").read_text()


def without_state(unit: str) -> str:
    """A unit less the state folder it names (the tests run each side with its own)."""
    return "\n".join(line for line in unit.splitlines() if "STRONGROOM_STATE_DIR" not in line)


def snapshot_of(root: Path) -> list[tuple[str, int]]:
    return sorted((str(p), p.lstat().st_size) for p in root.rglob("*"))


@pytest.fixture
def database() -> Iterator[str]:
    from integration.databases import psql, require_postgres, unique

    require_postgres()
    name = unique("sr_recover")
    try:
        yield name
    finally:
        psql("postgres", f"DROP DATABASE IF EXISTS {name}")


def test_recover_rebuilds_the_host_from_the_repository_alone(
        make_site: Callable[..., Site], tmp_path: Path, database: str) -> None:
    from integration.databases import psql

    site = make_site(large_bytes=1 << 16)
    disaster = prepare(site, tmp_path, database)
    config = site.run("create-backup", "--type", "config", "--json").json()["set"]
    made = site.run("create-backup", "--type", "disaster-recovery", "--json",
                    env={"STRONGROOM_SYSTEMD_DIR": str(disaster.units)}).json()
    disaster.strike()
    run = fresh(tmp_path, disaster.units)
    repo = ["--repo", str(site.repository), "--password-file", str(site.password_file)]

    # What a user can get wrong: one message each, nothing written.
    before = snapshot_of(site.root)
    for args, code, message in (
        (["--backup", config], 2, f"set {config} is a config set: recover needs a "
                                   "disaster-recovery set"),
        (["--only", "files,dbs"], 2, "--only dbs: not a part of a recovery"),
        (["--timestamp", "2001-01-01T00:00:00Z"], 1, "no complete disaster-recovery set"),
        (["--repo", str(site.repository)], 2, "--repo needs exactly one of"),
    ):
        wrong = run("recover", *(repo if args[0] != "--repo" else []), *args, "--yes")
        assert wrong.returncode == code, wrong.stderr
        assert message in wrong.stderr and "Traceback" not in wrong.stderr
    nowhere = run("recover", "--yes")
    assert nowhere.returncode != 0 and "recover --repo URL" in nowhere.stderr
    assert snapshot_of(site.root) == before

    # --dry-run: the plan, and nothing written anywhere.
    planned = run("recover", *repo, "--dry-run", "--json")
    assert planned.returncode == 0, planned.stderr
    plan = planned.json()
    assert plan["dry_run"] and plan["set"] == made["set"] and plan["conflicts"] == []
    assert [s["kind"] for s in plan["steps"]] == [
        "profile", "config", "network", "service", "service", "database", "database",
        "schedule"]
    assert {s["result"] for s in plan["steps"]} == {"planned"}
    assert snapshot_of(site.root) == before and not disaster.units.exists()
    assert not psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{database}'")
    state = tmp_path / "fresh-state"  # the audit line and restic's cache, nothing more
    assert {p.name for p in state.iterdir()} <= {"audit.log", "audit.head", "cache"}

    # Without --yes and without a terminal: refused, nothing written.
    asked = run("recover", *repo)
    assert asked.returncode == 2 and "--yes" in asked.stderr.splitlines()[-1]
    assert snapshot_of(site.root) == before

    done = run("recover", *repo, "--yes", "--json")  # the units, as the inventory had them
    assert done.returncode == 0, done.stderr
    report = done.json()
    assert_recovered(disaster)
    assert [s["result"] for s in report["steps"]] == ["ok"] * 8
    assert report["ok"] and report["profile"] == "site"
    assert report["profile_file"] == str(site.profile)
    assert 0 < report["rto"] < 300 and 0 <= report["rpo"] < 600
    # The file steps share one restic restore; the PostgreSQL dump runs beside it; the
    # profile files before them and the sqlite file and the schedule after them do not.
    file_steps = [s for s in report["steps"] if s["part"] == "files"]
    assert len({s["duration"] for s in file_steps}) == 1
    in_line = [s for s in report["steps"] if s["part"] != "files"
               and not s["name"].startswith("postgresql")]
    assert report["rto"] >= file_steps[0]["duration"] + sum(s["duration"] for s in in_line)
    assert report["rto"] >= max(s["duration"] for s in report["steps"])
    database_step = next(s for s in report["steps"] if database in s["name"])
    assert database_step["bytes"] > 0 and database_step["duration"] > 0
    secrets = [f["text"] for f in report["follow_up"] if f["kind"] == "secret"]
    assert any(str(site.password_file) in text for text in secrets)
    assert "correct horse" not in done.stdout
    assert [f["text"] for f in report["follow_up"] if f["kind"] == "service"] == [
        "start service web", "start service other"]
    assert not any("does not name" in f["text"] for f in report["follow_up"])
    stored = Path(report["report"])
    assert stored.parent == tmp_path / "fresh-state" / "recoveries"
    assert json.loads(stored.read_text()) == report

    # A second recover finds everything in place and refuses without --force.
    again = run("recover", *repo, "--yes")
    assert again.returncode == 3, again.stderr
    assert "nothing was written" in again.stderr and str(site.path("etc/netplan")) in \
        again.stderr
    assert f"postgresql database {database} is not empty" in again.stderr
    assert_recovered(disaster)
    # Through the recovered profile itself (-p), over what is there.
    forced = run("recover", "-p", str(site.profile), "--yes", "--force", "--only",
                 "files,databases")
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.splitlines()[1].strip().startswith("1. [in-place] profile files")
    assert_recovered(disaster)

    # The database step fails (pg_restore exits 1): the files are still restored, exit 1.
    disaster.strike()
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    (fake / "pg_restore").write_text("#!/bin/sh\ncat >/dev/null\necho broken >&2\nexit 1\n")
    (fake / "pg_restore").chmod(0o755)
    broken = run("recover", *repo, "--yes", "--skip", "schedules", "--json",
                 extra={"PATH": f"{fake}:{os.environ['PATH']}"})
    assert broken.returncode == 1, broken.stderr
    result = broken.json()
    assert not result["ok"]
    by_kind = {(s["kind"], s["result"]) for s in result["steps"]}
    assert ("database", "failed") in by_kind and ("database", "ok") in by_kind  # sqlite
    failed = next(s for s in result["steps"] if s["result"] == "failed")
    assert database in failed["name"] and "exit code 1" in failed["error"]
    for part in TREES:
        compare_trees(disaster.original / part, site.path(part), skip=(".terraform",))
    assert rows(site.root / "app.sqlite") == rows(disaster.original / "app.sqlite")
    assert any("failed" in f["text"] for f in result["follow_up"])


def test_recover_from_s3_with_credentials_from_the_environment_only(
        make_site: Callable[..., Site], tmp_path: Path) -> None:
    from integration.s3server import moto_s3

    site = make_site(large_bytes=1 << 14, init=False)
    with moto_s3(tmp_path) as s3:
        text = site.profile.read_text()
        head, _, tail = text.partition("[config]")
        site.profile.write_text(head.split("[repositories.local]")[0] + s3.repository_toml(
            "offsite", "strongroom-site", site.password_file) + "\n[config]" + tail)
        site.run("init")
        disaster = prepare(site, tmp_path, None)
        site.run("create-backup", "--type", "disaster-recovery",
                 env={"STRONGROOM_SYSTEMD_DIR": str(disaster.units)})
        secret = s3.secret_file.read_text().strip()
        disaster.strike()
        s3.secret_file.unlink()  # the profile's own way to the key is gone with the host
        run = fresh(tmp_path, disaster.units)
        url = f"s3:{s3.endpoint}/strongroom-site/strongroom"
        done = run("recover", "--repo", url, "--password-file", str(site.password_file),
                   "--yes", "--install", "systemd", "--json",
                   extra={"AWS_ACCESS_KEY_ID": s3.access_key_id,
                          "AWS_SECRET_ACCESS_KEY": secret, "AWS_DEFAULT_REGION": "us-east-1"})
        assert done.returncode == 0, done.stderr
        assert_recovered(disaster)
        report = done.json()
        assert report["ok"] and report["repository"] == url and report["rto"] > 0
        assert secret not in done.stdout + done.stderr
        assert any(str(s3.secret_file) in f["text"] for f in report["follow_up"])
        assert any("does not name" in f["text"] and "offsite (s3://strongroom-site" in
                   f["text"] for f in report["follow_up"])
