"""Dump → repository → restore round trips against the real PostgreSQL and MariaDB."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.conftest import BOTH_ENGINES, Site
from integration.databases import (
    MARIADB_SCHEMA,
    PG,
    mariadb,
    mariadb_fingerprint,
    pg_fingerprint,
    psql,
    require_mariadb,
    require_postgres,
    unique,
)


def add_hooks(site: Site, text: str) -> None:
    site.profile.write_text(site.profile.read_text() + "\n" + text)


def snapshots_tagged(site: Site, tag: str) -> list[dict[str, object]]:
    return site.snapshots(tag)


@pytest.fixture
def pg_database() -> Iterator[str]:
    require_postgres()
    name = unique("sr_pg")
    psql("postgres", f"CREATE DATABASE {name}")
    subprocess.run(["pgbench", "-i", "-s", "1", "-q", *PG, name], check=True,
                   capture_output=True)
    psql(name, "CREATE VIEW rich AS SELECT * FROM pgbench_accounts WHERE abalance > 0")
    psql(name, "UPDATE pgbench_accounts SET abalance = aid % 97, filler = md5(aid::text) "
               "WHERE aid % 10 = 0")
    created = [name]
    yield name
    for db in created + [f"{name}_copy"]:
        psql("postgres", f"DROP DATABASE IF EXISTS {db}")


@BOTH_ENGINES
@pytest.mark.parametrize("dump_format", ["custom"])
def test_postgresql_custom_round_trip(site: Site, pg_database: str, dump_format: str) -> None:
    postgresql_round_trip(site, pg_database, dump_format)


@pytest.mark.parametrize("dump_format", ["plain"])
def test_postgresql_plain_round_trip(site: Site, pg_database: str, dump_format: str) -> None:
    postgresql_round_trip(site, pg_database, dump_format)


def postgresql_round_trip(site: Site, pg_database: str, dump_format: str) -> None:
    add_hooks(site, f"""
[[services.web.hooks]]
type = "postgresql"
databases = ["{pg_database}"]
host = "127.0.0.1"
username = "postgres"
format = "{dump_format}"
""")
    before = pg_fingerprint(pg_database)
    assert before["pgbench_accounts"].startswith("100000:")
    made = site.run("create-backup", "--type", "full", "--json").json()
    parts = {p["part"]: p for p in made["parts"]}
    ext = "dump" if dump_format == "custom" else "sql"
    assert f"services/web/{pg_database}.{ext}" in parts
    assert parts[f"services/web/{pg_database}.{ext}"]["bytes"] > 5_000_000

    psql("postgres", f"DROP DATABASE {pg_database}")
    site.run("restore-backup", "--backup", made["set"], "--database", pg_database)
    assert pg_fingerprint(pg_database) == before
    assert psql(pg_database, "SELECT count(*) FROM rich") != ""

    refused = site.run("restore-backup", "--backup", made["set"], "--database", pg_database,
                       check=False)
    assert refused.returncode == 3 and "is not empty" in refused.stderr
    psql(pg_database, "DELETE FROM pgbench_history; UPDATE pgbench_branches SET bbalance = 1")
    site.run("restore-backup", "--backup", made["set"], "--database", pg_database, "--force")
    assert pg_fingerprint(pg_database) == before

    site.run("restore-backup", "--backup", made["set"], "--database", pg_database,
             "--as-database", f"{pg_database}_copy")
    assert pg_fingerprint(f"{pg_database}_copy") == before


def test_postgresql_all_with_globals(site: Site, pg_database: str) -> None:
    role = unique("sr_role")
    psql("postgres", f"CREATE ROLE {role} LOGIN")
    try:
        add_hooks(site, """
[[services.web.hooks]]
type = "postgresql"
databases = ["all"]
host = "127.0.0.1"
username = "postgres"
""")
        before = pg_fingerprint(pg_database)
        made = site.run("backup-database", "--service", "web", "--json").json()
        parts = {p["part"] for p in made["parts"]}
        assert "services/web/postgresql-globals.sql" in parts
        assert f"services/web/{pg_database}.dump" in parts and "services/web/postgres.dump" in parts
        assert not any("template" in part for part in parts)

        psql("postgres", f"DROP DATABASE {pg_database}")
        psql("postgres", f"DROP ROLE {role}")
        dry = site.run("restore-backup", "--backup", made["set"], "--database", pg_database,
                       "--with-globals", "--dry-run", "--json").json()
        assert [e["logical"] for e in dry["plan"]] == [
            "services/web/postgresql-globals.sql", f"services/web/{pg_database}.dump"]
        site.run("restore-backup", "--backup", made["set"], "--database", pg_database,
                 "--with-globals")
        assert psql("postgres", f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'") == "1"
        assert pg_fingerprint(pg_database) == before
    finally:
        psql("postgres", f"DROP ROLE IF EXISTS {role}")


def test_postgresql_unreachable_is_one_clear_line(site: Site) -> None:
    require_postgres()
    add_hooks(site, """
[[services.web.hooks]]
type = "postgresql"
databases = ["x"]
host = "127.0.0.1"
port = 1
username = "nextcloud"
""")
    result = site.run("create-backup", "--type", "full", check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "cannot connect to PostgreSQL at 127.0.0.1:1 as nextcloud" in result.stderr
    assert site.run("list-backups", "--all", "--json").json()["backups"] == []


@pytest.fixture
def maria_database() -> Iterator[str]:
    require_mariadb()
    name = unique("sr_my")
    mariadb(f"CREATE DATABASE {name}")
    mariadb(MARIADB_SCHEMA, name)
    yield name
    mariadb(f"DROP DATABASE IF EXISTS {name}")
    mariadb(f"DROP DATABASE IF EXISTS {name}_copy")


def test_mariadb_round_trip_with_routines_and_triggers(site: Site, maria_database: str) -> None:
    add_hooks(site, f"""
[[services.web.hooks]]
type = "mariadb"
databases = ["{maria_database}"]
username = "root"
""")
    before = mariadb_fingerprint(maria_database)
    assert before["routines"] == "doubled" and before["triggers"] == "orders_audit"
    made = site.run("backup-database", "--service", "web", "--json").json()
    mariadb(f"DROP DATABASE {maria_database}")
    site.run("restore-backup", "--backup", made["set"])
    assert mariadb_fingerprint(maria_database) == before
    site.run("restore-backup", "--backup", made["set"], "--as-database",
             f"{maria_database}_copy")
    assert mariadb_fingerprint(f"{maria_database}_copy") == before
    assert mariadb("SELECT doubled(21)", f"{maria_database}_copy") == "42"


def test_mariadb_wrong_password_is_one_clear_line(site: Site, maria_database: str) -> None:
    user = unique("sr_user")
    mariadb(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'right-password'")
    try:
        wrong = site.root / "db.pass"
        wrong.write_text("wrong-password\n")
        add_hooks(site, f"""
[[services.web.hooks]]
type = "mysql"
databases = ["{maria_database}"]
host = "127.0.0.1"
port = 3306
username = "{user}"
password_file = "{wrong}"
""")
        result = site.run("backup-database", "--service", "web", check=False)
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert "cannot connect to MySQL/MariaDB at 127.0.0.1:3306" in result.stderr
        assert "Access denied" in result.stderr
        assert "wrong-password" not in result.stderr
    finally:
        mariadb(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")


@BOTH_ENGINES
def test_sqlite_round_trip_and_refusal(site: Site) -> None:
    db = site.root / "app.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.executemany("INSERT INTO notes (body) VALUES (?)", [(f"note {i} ✓",) for i in range(500)])
    conn.close()
    add_hooks(site, f"""
[[services.web.hooks]]
type = "sqlite"
path = "{db}"
""")
    made = site.run("backup-database", "--service", "web", "--json").json()
    assert made["parts"][0]["part"] == "services/web/app.sql"
    refused = site.run("restore-backup", "--backup", made["set"], check=False)
    assert refused.returncode == 3 and "not empty" in refused.stderr
    db.unlink()
    site.run("restore-backup", "--backup", made["set"])
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT count(*), max(body) FROM notes").fetchone()
    conn.close()
    assert rows == (500, "note 99 ✓")
    assert not list(site.root.glob(".*.strongroom-restore"))


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_command_hook_round_trip(site: Site) -> None:
    restored = site.root / "restored.bin"
    dump = py("import sys\nfor i in range(2000): sys.stdout.buffer.write(bytes([i % 251]) * 1000)")
    restore = py(f"import sys; open({str(restored)!r}, 'wb').write(sys.stdin.buffer.read())")
    add_hooks(site, f"""
[[services.web.hooks]]
type = "command"
name = "cache.rdb"
dump = {json.dumps(dump)}
restore = {json.dumps(restore)}
""")
    made = site.run("backup-database", "--service", "web", "--json").json()
    assert made["parts"][0]["bytes"] == 2_000_000
    site.run("restore-backup", "--backup", made["set"])
    expected = b"".join(bytes([i % 251]) * 1000 for i in range(2000))
    assert restored.read_bytes() == expected


@BOTH_ENGINES
def test_a_dump_that_dies_halfway_leaves_no_complete_set(site: Site) -> None:
    dying = py("import sys\nsys.stdout.buffer.write(b'x' * 5_000_000); sys.stdout.flush()\n"
               "sys.stderr.write('FATAL: lost connection halfway\\n'); sys.exit(3)")
    add_hooks(site, f"""
[[services.web.hooks]]
type = "command"
name = "first.bin"
dump = {json.dumps(py("import sys; sys.stdout.write('ok' * 1000)"))}

[[services.web.hooks]]
type = "command"
name = "dying.bin"
dump = {json.dumps(dying)}
""")
    result = site.run("create-backup", "--type", "full", check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "dump of dying.bin" in result.stderr and "exit code 3" in result.stderr
    assert "FATAL: lost connection halfway" in result.stderr
    assert snapshots_tagged(site, "part=services/web/dying.bin") == []
    assert snapshots_tagged(site, "part=services/web/first.bin") == []
    listed = site.run("list-backups", "--all", "--json").json()["backups"]
    assert [b["status"] for b in listed] == ["incomplete"]
    assert site.run("list-backups", "--json").json()["backups"] == []


def test_a_large_dump_writes_nothing_to_disk(site: Site, tmp_path: Path) -> None:
    size = 300 * 1024 * 1024
    dump = py(f"import os, sys\nfor _ in range({size // (1 << 20)}): "
              "sys.stdout.buffer.write(os.urandom(1 << 20))")
    add_hooks(site, f"""
[[services.web.hooks]]
type = "command"
name = "big.bin"
dump = {json.dumps(dump)}
""")
    temp = tmp_path / "tmp"
    temp.mkdir()
    made = site.run("backup-database", "--service", "web", "--json",
                    env={"TMPDIR": str(temp)}).json()
    assert made["parts"][0]["bytes"] == size
    assert list(temp.iterdir()) == []
    state_bytes = sum(p.stat().st_size for p in site.state.rglob("*")
                      if p.is_file() and "cache" not in p.parts)
    assert state_bytes < 1024 * 1024


def test_mongodb_contract_with_stand_in_tools(site: Site, tmp_path: Path) -> None:
    """MongoDB's tools cannot be installed here: stand-ins check the argv/config contract."""
    uri_file = tmp_path / "mongo.uri"
    uri_file.write_text("mongodb://backup:s3cr3t@127.0.0.1:27017/?authSource=admin\n")
    log = tmp_path / "calls.jsonl"
    archive = b"MONGO-ARCHIVE\x00" * 50_000
    stand_in = f'''#!{sys.executable}
import json, sys
args = sys.argv[1:]
config = [a for a in args if a.startswith("--config=")][0].split("=", 1)[1]
text = open(config).read()
with open({str(log)!r}, "a") as out:
    out.write(json.dumps({{"tool": sys.argv[0].rsplit("/", 1)[-1], "args": args,
                          "config": text}}) + "\\n")
if "mongodump" in sys.argv[0]:
    sys.stdout.buffer.write({archive!r})
else:
    data = sys.stdin.buffer.read()
    sys.exit(0 if data == {archive!r} else 9)
'''
    for tool in ("mongodump", "mongorestore"):
        path = tmp_path / tool
        path.write_text(stand_in)
        path.chmod(0o755)
    add_hooks(site, f"""
[[services.web.hooks]]
type = "mongodb"
uri_file = "{uri_file}"
databases = ["shop"]
mongodump = "{tmp_path / 'mongodump'}"
mongorestore = "{tmp_path / 'mongorestore'}"
""")
    made = site.run("backup-database", "--service", "web", "--json").json()
    assert made["parts"][0] == {**made["parts"][0], "part": "services/web/mongodb-shop.archive",
                                "bytes": len(archive)}
    site.run("restore-backup", "--backup", made["set"], "--as-database", "shop_copy")
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c["tool"] for c in calls] == ["mongodump", "mongorestore"]
    dump_args, restore_args = calls[0]["args"], calls[1]["args"]
    assert dump_args[1:] == ["--archive", "--db=shop"] and dump_args[0].startswith("--config=/dev/fd/")
    assert restore_args[1:] == ["--archive", "--drop", "--nsFrom=shop.*", "--nsTo=shop_copy.*"]
    assert calls[0]["config"] == 'uri: "mongodb://backup:s3cr3t@127.0.0.1:27017/?authSource=admin"\n'
    assert all("s3cr3t" not in " ".join(c["args"]) for c in calls)


def test_config_sets_take_schema_only_dumps_when_asked(site: Site,
                                                       pg_database: str) -> None:
    add_hooks(site, f"""
[[services.web.hooks]]
type = "postgresql"
databases = ["{pg_database}"]
host = "127.0.0.1"
username = "postgres"
format = "plain"
schema_in_config = true
""")
    made = site.run("create-backup", "--type", "config", "--json").json()
    [stream] = [p for p in made["parts"] if p["part"] != "files"]
    assert stream["part"] == f"services/web/{pg_database}.sql" and stream["bytes"] < 100_000

