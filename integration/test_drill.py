"""strongroom drill against the real restic, PostgreSQL and sqlite: the rehearsal restores
into a sandbox, checks, times and removes it; a damaged pack fails it and says where."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from integration.conftest import STRONGROOM, Site, with_sqlite
from integration.databases import (
    MARIADB_SCHEMA,
    mariadb,
    psql,
    require_mariadb,
    require_postgres,
    unique,
)
from integration.test_containers import Podman, fill_volume, podman  # noqa: F401 - fixture
from integration.test_vm import disk, identical  # noqa: F401 - fixture

DRILL_PREFIX = "strongroom_drill_"


def drill_databases() -> list[str]:
    return psql("postgres", "SELECT datname FROM pg_database WHERE datname LIKE "
                            f"'{DRILL_PREFIX}%'").splitlines()


@pytest.fixture
def pg_small() -> Iterator[str]:
    require_postgres()
    name = unique("sr_drill")
    psql("postgres", f"CREATE DATABASE {name}")
    psql(name, "CREATE TABLE items (id int PRIMARY KEY, label text); "
               "INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 500) g; "
               "CREATE TABLE notes (body text); INSERT INTO notes VALUES ('a'), ('b')")
    yield name
    psql("postgres", f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture
def drilled_site(site: Site, pg_small: str) -> Site:
    with_sqlite(site, rows=120)
    site.profile.write_text(site.profile.read_text() + f"""
[[services.other.hooks]]
type = "postgresql"
databases = ["{pg_small}"]
host = "127.0.0.1"
username = "postgres"

[schedules.rehearsal]
schedule = "0 4 * * 0"
type = "drill"
name = "nightly"
""")
    site.run("create-backup", "--schedule", "nightly")
    return site


def test_drill_restores_checks_and_leaves_nothing(drilled_site: Site, pg_small: str,
                                                  tmp_path: Path) -> None:
    site = drilled_site
    workdir = tmp_path / "work"
    workdir.mkdir()
    assert site.run("list-backups", "--json").json()["backups"][0]["drill"] == "never"
    psql(pg_small, "INSERT INTO notes VALUES ('written after the backup')")  # live changes

    result = site.run("drill", "--workdir", str(workdir), "--json").json()

    assert result["ok"] is True, result
    assert result["rto"] > 0 and result["rpo"] >= 0
    checks = {check["part"]: check for check in result["checks"]}
    assert checks["files"]["ok"] and "re-read" in checks["files"]["detail"]
    database = checks[f"services/other/{pg_small}.dump"]
    assert database["kind"] == "database" and database["sandbox"].startswith(DRILL_PREFIX)
    tables = {table["table"]: table for table in database["tables"]}
    assert tables["public.items"]["rows"] == 500
    assert tables["public.notes"]["rows"] == 2  # the dump's, not the live database's
    expected = psql(pg_small, "SELECT md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))) "
                              "FROM items t")
    assert tables["public.items"]["checksum"] == f"md5:{expected}"
    sqlite_check = checks["services/web/app.sql"]
    assert sqlite_check["kind"] == "sqlite" and "integrity_check ok" in sqlite_check["detail"]
    assert sqlite_check["tables"] == [{"table": "t", "rows": 120,
                                       "checksum": sqlite_check["tables"][0]["checksum"]}]
    # nothing left behind: no temporary database, no folder in the workdir
    assert drill_databases() == []
    assert list(workdir.iterdir()) == []
    assert result["left_behind"] == [] and result["record_part"] == "logs/drill.json"

    listed = site.run("list-backups", "--json").json()["backups"][0]
    assert listed["drill"] == "ok" and listed["parts"] == 3  # dumps and files; not the record
    text = site.run("list-backups").stdout
    assert text.splitlines()[0].split()[-1] == "DRILL" and text.splitlines()[1].endswith(" ok")


def test_keep_and_the_widest_set_at_a_time(drilled_site: Site, tmp_path: Path) -> None:
    result = drilled_site.run("drill", "--keep", "--services", "other", "--workdir",
                              str(tmp_path), "--json").json()
    try:
        assert result["ok"] and result["kept"]
        (database,) = [c for c in result["checks"] if c["kind"] == "database"]
        assert database["sandbox"] in drill_databases()
        assert Path(result["workdir"], "files").is_dir()
        assert {c["part"] for c in result["checks"]} == {
            "files", f"services/other/{database['part'].rsplit('/', 1)[1]}"}
    finally:
        for name in drill_databases():
            psql("postgres", f"DROP DATABASE IF EXISTS {name}")
    # restore-backup --timestamp takes the widest set there, and says why
    site = drilled_site
    site.run("create-backup", "--type", "config")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    plan = site.run("restore-backup", "--timestamp", now, "--dry-run", "--json").json()
    assert plan["set"].startswith("nightly-")
    assert "full is the widest type there" in plan["reason"]
    narrowed = site.run("restore-backup", "--timestamp", now, "--type", "config", "--dry-run",
                        "--json").json()
    assert narrowed["set"].startswith("config-") and "of type config" in narrowed["reason"]


def test_a_damaged_pack_fails_the_drill_and_names_it(drilled_site: Site, tmp_path: Path,
                                                     pg_small: str) -> None:
    site = drilled_site
    workdir = tmp_path / "work"
    workdir.mkdir()
    data = sorted((site.repository / "data").rglob("*"), key=lambda p: p.stat().st_size)
    largest = [p for p in data if p.is_file()][-1]  # holds the 1 MiB file's blobs
    with open(largest, "r+b") as handle:
        handle.seek(largest.stat().st_size // 2)
        handle.write(os.urandom(64))

    failed = site.run("drill", "--workdir", str(workdir), "--json", check=False)

    assert failed.returncode == 1, failed.stderr
    result = failed.json()
    assert result["ok"] is False
    bad = [check for check in result["checks"] if not check["ok"]]
    assert bad and all(check["detail"] for check in bad)
    (files,) = [check for check in bad if check["part"] == "files"]
    assert "large.bin" in files["detail"], files["detail"]  # the damaged file, named
    assert drill_databases() == [] and list(workdir.iterdir()) == []
    assert site.run("list-backups", "--json").json()["backups"][0]["drill"] == "failed"
    text = site.run("drill", "--workdir", str(workdir), check=False)
    assert text.returncode == 1 and "FAILED" in text.stdout and "files" in text.stdout
    # the second drill's record replaced the first one's
    env = {**os.environ, "RESTIC_REPOSITORY": str(site.repository),
           "RESTIC_PASSWORD_FILE": str(site.password_file)}
    records = subprocess.run(["restic", "snapshots", "--json", "--tag", f"drill={result['set']}"],
                             capture_output=True, text=True, env=env, check=True).stdout
    assert len(json.loads(records)) == 1


def test_a_drill_schedule_runs_through_the_scheduler(drilled_site: Site) -> None:
    site = drilled_site
    refused = site.run("create-backup", "--schedule", "rehearsal", check=False)
    assert refused.returncode == 2 and (
        f"strongroom -p {site.profile} drill --schedule rehearsal" in refused.stderr)
    # the scheduler runs a schedule that should have fired while it was down once at start
    stamps = site.state / "scheduler" / "site"
    stamps.mkdir(parents=True, exist_ok=True)
    (stamps / "rehearsal.stamp").write_text("2020-01-01T00:00:00+00:00\n")
    (stamps / "nightly.stamp").write_text("2999-01-01T00:00:00+00:00\n")
    served = site.run("scheduler", "--max-runs", "1")
    assert "schedule rehearsal: finished" in served.stderr, served.stderr
    assert site.run("list-backups", "--json").json()["backups"][0]["drill"] == "ok"
    listed = site.run("schedule-backup", "--list", "--json").json()["schedules"]
    rehearsal = next(item for item in listed if item["name"] == "rehearsal")
    assert rehearsal["type"] == "drill" and rehearsal["last_status"] == "ok"


BAD_INPUTS = [
    (("--backup", "nosuch"), "no complete backup matches 'nosuch'"),
    (("--workdir", "/nonexistent/place"), "--workdir /nonexistent/place: not a directory"),
    (("--services", "nope"), "the backup holds no service named nope"),
    (("--schedule", "nightly"), "schedule 'nightly' makes full sets"),
    (("--schedule", "nosuch"), "no schedule named 'nosuch'"),
]


def test_bad_drill_inputs_and_a_drill_without_the_profile(site: Site) -> None:
    site.run("create-backup", "--type", "config")
    for args, message in BAD_INPUTS:
        failed = site.run("drill", *args, check=False)
        assert failed.returncode != 0 and failed.stdout == "", (args, failed)
        assert failed.stderr.startswith(f"strongroom: error: {message}"), failed.stderr
        assert "Traceback" not in failed.stderr
    assert not (site.state / "drills").exists()
    # without the profile, from the repository and its password alone
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("STRONGROOM_", "RESTIC_"))}
    done = subprocess.run(
        [*STRONGROOM, "drill", "--repo", str(site.repository), "--password-file",
         str(site.password_file), "--json"], capture_output=True, text=True, check=False,
        env={**env, "HOME": str(site.root), "STRONGROOM_STATE_DIR": str(site.root / "fresh")})
    assert done.returncode == 0, done.stderr
    by_repo = json.loads(done.stdout)
    assert by_repo["ok"] and [c["part"] for c in by_repo["checks"]] == ["files"]


@pytest.fixture
def maria_small() -> Iterator[str]:
    require_mariadb()
    name = unique("sr_drill")
    mariadb(f"CREATE DATABASE {name}")
    mariadb(MARIADB_SCHEMA, name)
    yield name
    mariadb(f"DROP DATABASE IF EXISTS {name}")


def drill_schemas() -> list[str]:
    return mariadb("SELECT schema_name FROM information_schema.schemata WHERE schema_name "
                   f"LIKE '{DRILL_PREFIX}%'").splitlines()


def test_drill_of_mariadb_a_volume_and_a_vm_disk(
    site: Site, maria_small: str, tmp_path: Path,
    podman: Podman,  # noqa: F811 - the fixture imported above
    disk: Path,  # noqa: F811 - the fixture imported above
) -> None:
    fill_volume(podman, "appdata")
    site.profile.write_text(site.profile.read_text() + f"""
[[services.other.hooks]]
type = "mariadb"
databases = ["{maria_small}"]

[services.pods]

[[services.pods.hooks]]
type = "containers"
{podman.toml()}volumes = ["appdata"]

[services.hypervisor]

[[services.hypervisor.hooks]]
type = "vm"
name = "web"
disks = ["{disk}"]
""")
    site.run("create-backup", "--type", "full")
    volumes_before = podman("volume", "ls", "--format", "{{.Name}}").splitlines()
    workdir = tmp_path / "work"
    workdir.mkdir()

    result = site.run("drill", "--workdir", str(workdir), "--json").json()

    assert result["ok"] is True, result
    checks = {check["kind"]: check for check in result["checks"]}
    tables = {t["table"]: t for t in checks["database"]["tables"]}
    assert tables["customers"]["rows"] == 3 and tables["orders"]["rows"] == 4
    live = mariadb("CHECKSUM TABLE `orders` EXTENDED", maria_small).split()[-1]
    assert tables["orders"]["checksum"] == f"checksum-table:{live}"
    assert checks["volume"]["sandbox"].startswith("strongroom-drill-")
    assert "read back" in checks["disk"]["detail"]
    assert drill_schemas() == [] and list(workdir.iterdir()) == []
    assert podman("volume", "ls", "--format", "{{.Name}}").splitlines() == volumes_before

    kept = site.run("drill", "--services", "hypervisor", "--keep", "--workdir", str(workdir),
                    "--json").json()
    (copy,) = [Path(c["sandbox"]) for c in kept["checks"] if c["kind"] == "disk"]
    assert copy.is_relative_to(workdir) and identical(copy, disk)


def test_an_interrupted_drill_removes_its_sandbox(site: Site, tmp_path: Path) -> None:
    require_postgres()
    name = unique("sr_drill_big")
    psql("postgres", f"CREATE DATABASE {name}")
    try:
        psql(name, "CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 8) AS body "
                   "FROM generate_series(1, 400000) g")
        site.profile.write_text(site.profile.read_text() + f"""
[[services.other.hooks]]
type = "postgresql"
databases = ["{name}"]
host = "127.0.0.1"
username = "postgres"
""")
        site.run("create-backup", "--type", "full")
        workdir = tmp_path / "work"
        workdir.mkdir()
        env = {**os.environ, "STRONGROOM_STATE_DIR": str(site.state)}
        proc = subprocess.Popen(
            [*STRONGROOM, "drill", "--services", "other", "--workdir", str(workdir),
             "-p", str(site.profile)], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while not drill_databases() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert drill_databases(), "the drill never created its temporary database"
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 143, stderr
        assert drill_databases() == [] and list(workdir.iterdir()) == []
        assert site.run("list-backups", "--json").json()["backups"][-1]["drill"] == "never"
    finally:
        for leftover in drill_databases():
            psql("postgres", f"DROP DATABASE IF EXISTS {leftover}")
        psql("postgres", f"DROP DATABASE IF EXISTS {name}")
