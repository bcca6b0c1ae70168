"""RECOVERY.md names every part and every secret's place, never a secret's value;
inventory.json is a schema that reads back what it wrote."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.profile.load import load_profile
from orchestrator.profile.schema import Profile
from orchestrator.sets.inventory import (
    Inventory,
    Mount,
    Schedules,
    build_inventory,
    read_mounts,
    read_os_release,
    schedule_places,
)
from orchestrator.sets.layout import plan_sources
from orchestrator.sets.manifest import Manifest, ManifestStream, paths_from
from orchestrator.sets.runbook import dump_command, render_runbook

SECRETS = ("repo-password-1111", "s3-secret-2222", "pg-password-3333", "url-password-4444",
           "audit-key-5555", "mongo-uri-6666", "inline-env-7777")
SET = "dr-20250101-120000"


@pytest.fixture
def profile(tmp_path: Path) -> Profile:
    files = {"repo.pass": SECRETS[0], "s3.secret": SECRETS[1], "pg.pass": SECRETS[2],
             "audit.key": SECRETS[4], "mongo.uri": f"mongodb://u:{SECRETS[5]}@db/"}
    for name, value in files.items():
        (tmp_path / name).write_text(value + "\n")
    for folder in ("etc/app", "srv/app", "etc/net"):
        (tmp_path / folder).mkdir(parents=True)
    toml = tmp_path / "host.toml"
    toml.write_text(f"""\
name = "host"
[repositories.local]
url = "{tmp_path}/repo"
password_file = "repo.pass"
[repositories.offsite]
url = "rest:https://backup:{SECRETS[3]}@rest.example:8000/host"
password_env = "OFFSITE_PASSWORD"
[repositories.cloud]
url = "s3://s3.example/bucket/host"
password_command = "pass show backup/cloud"
env = {{ AWS_ACCESS_KEY_ID = "{SECRETS[6]}", AWS_SECRET_ACCESS_KEY = {{ file = "s3.secret" }} }}
[config]
app = ["{tmp_path}/etc/app"]
[services.app]
data = ["{tmp_path}/srv/app"]
[[services.app.hooks]]
type = "postgresql"
databases = ["shop"]
host = "db.internal"
port = 5433
username = "backup"
password_file = "pg.pass"
[[services.app.hooks]]
type = "mariadb"
databases = ["wiki"]
socket = "/run/mysqld/mysqld.sock"
[[services.app.hooks]]
type = "sqlite"
path = "{tmp_path}/app.sqlite"
[[services.app.hooks]]
type = "mongodb"
uri_file = "mongo.uri"
[[services.app.hooks]]
type = "containers"
runtime = "podman"
volumes = ["appdata"]
[infrastructure]
network = ["{tmp_path}/etc/net"]
[audit]
key_file = "audit.key"
[schedules.weekly]
schedule = "0 4 * * 0"
type = "disaster-recovery"
sync_to = ["offsite"]
""")
    return load_profile(toml, environ={})


def stream(hook: str, database: str, logical: str, fmt: str, snapshot: str) -> ManifestStream:
    return ManifestStream(part=logical, logical=logical, snapshot_id=snapshot, bytes=10,
                          hook=hook, service="app", database=database, format=fmt)


@pytest.fixture
def manifest(profile: Profile, tmp_path: Path) -> Manifest:
    streams = [
        stream("postgresql", "shop", "services/app/shop.dump", "custom", "aaaa1111"),
        stream("postgresql", "postgresql-globals", "services/app/postgresql-globals.sql",
               "globals", "aaaa2222"),
        stream("mariadb", "wiki", "services/app/wiki.sql", "sql", "bbbb1111"),
        stream("sqlite", f"{tmp_path}/app.sqlite", "services/app/app.sql", "sql", "cccc1111"),
        stream("mongodb", "all", "services/app/mongodb-all.archive", "archive", "dddd1111"),
        stream("containers", "appdata", "infrastructure/docker-volumes/appdata.tar",
               "volume-tar", "eeee1111"),
    ]
    return Manifest(set=SET, name="dr", type="disaster-recovery", profile="host", host="web1",
                    started=datetime(2025, 1, 1, 12, tzinfo=UTC), services=["app"],
                    include_data=True, compress=True,
                    paths=paths_from(plan_sources(profile, "disaster-recovery")),
                    streams=streams, tools={"strongroom": "0.1.0", "engine": "restic 0.14.0"})


def test_the_runbook_names_where_secrets_lived_never_their_values(
    profile: Profile, manifest: Manifest, tmp_path: Path
) -> None:
    text = render_runbook(profile, manifest, "local", tmp_path / "state/sets/dr")
    for secret in SECRETS:
        assert secret not in text, secret
    for place in ("repo.pass", "s3.secret", "pg.pass", "mongo.uri", "audit.key"):
        assert f"{tmp_path / place}`" in text, place
    assert "`OFFSITE_PASSWORD`" in text and "`pass show backup/cloud`" in text
    assert "environment `AWS_ACCESS_KEY_ID` (set in the profile)" in text
    assert "rest:https://backup:***@rest.example:8000/host" in text
    assert "`0 4 * * 0`, disaster-recovery set, copied to offsite" in text


def test_the_runbook_names_every_part(profile: Profile, manifest: Manifest,
                                      tmp_path: Path) -> None:
    text = render_runbook(profile, manifest, "local", tmp_path / "state/sets/dr")
    holds = text.split("## What the set holds")[1].split("##")[0]
    for item in manifest.paths:
        assert f"- `{item.logical}` ({item.kind}, {item.owner}): `{item.source}`" in holds
    for item in manifest.streams:
        assert f"`{item.logical}`" in holds and f"`{item.snapshot_id}`" in holds
    assert "strongroom/profiles" in holds and str(tmp_path / "host.toml") in holds
    assert f"strongroom restore-backup -p {tmp_path / 'host.toml'} --backup {SET}" in text
    assert (f"3. See the plan: `strongroom recover --repo {tmp_path}/repo --password-file "
            f"{tmp_path}/repo.pass --backup {SET} --dry-run`") in text
    assert f"`strongroom schedule-backup -p {tmp_path / 'host.toml'} --name weekly`" in text
    restic = text.split("## Recover with plain restic")[1]
    assert f"restic -r {tmp_path}/repo snapshots --tag set={SET}\n" in restic
    assert (f"restore latest --tag set={SET},part=files --target / "
            f"--include {tmp_path}/etc/app") in restic
    assert f"dump latest --tag set={SET},part=files {tmp_path}/state/sets/dr/strongroom/" \
           "RECOVERY.md" in restic
    for item in manifest.streams:
        assert dump_command(shlex.quote(f"{tmp_path}/repo"), item) in restic


@pytest.mark.parametrize(("hook", "database", "fmt", "expected"), [
    ("postgresql", "shop", "custom", "createdb shop; {src} | pg_restore -d shop"),
    ("postgresql", "shop", "plain", "createdb shop; {src} | psql -v ON_ERROR_STOP=1 -d shop"),
    ("postgresql", "postgresql-globals", "globals", "{src} | psql -d postgres"),
    ("mariadb", "wiki", "sql",
     "mariadb -e 'CREATE DATABASE IF NOT EXISTS `wiki`'; {src} | mariadb wiki"),
    ("mysql", "wiki", "sql",
     "mariadb -e 'CREATE DATABASE IF NOT EXISTS `wiki`'; {src} | mariadb wiki"),
    ("sqlite", "/var/lib/my app.db", "sql", "{src} | sqlite3 '/var/lib/my app.db'"),
    ("vm", "/var/lib/disk.qcow2", "raw", "{src} > x.bin"),
])
def test_dump_commands_fit_their_hook(hook: str, database: str, fmt: str,
                                      expected: str) -> None:
    item = stream(hook, database, "services/app/x.bin", fmt, "abcd1234")
    src = "restic -r /r dump abcd1234 /services/app/x.bin"
    assert dump_command("/r", item) == expected.format(src=src)


def test_inventory_round_trips_and_holds_no_secret(profile: Profile, tmp_path: Path) -> None:
    made = build_inventory(
        profile, SET, {"strongroom": "0.1.0"}, hostname="web1",
        os_release={"ID": "debian", "VERSION_ID": "12"}, kernel="6.1.0",
        schedules=Schedules(systemd_dir="/etc/systemd/system",
                            systemd_units=["strongroom-host-weekly.timer"],
                            cron_file=None),
        mounts=[Mount(source="/dev/sda1", target="/", fstype="ext4", options="rw")],
    )
    data = made.to_bytes()
    assert Inventory.model_validate_json(data) == made
    for secret in SECRETS:
        assert secret.encode() not in data
    servers = {(s.hook, s.host, s.port, s.socket) for s in made.database_servers}
    assert servers == {("postgresql", "db.internal", 5433, None),
                       ("mariadb", None, None, "/run/mysqld/mysqld.sock"),
                       ("sqlite", None, None, None), ("mongodb", None, None, None)}
    assert [(r.service, r.runtime) for r in made.container_runtimes] == [("app", "podman")]
    with pytest.raises(ValueError, match="extra"):
        Inventory.model_validate({**made.model_dump(), "password": "x"})


def test_system_facts_are_read_and_filtered(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text('# comment\nID=debian\nPRETTY_NAME="Debian GNU/Linux 12"\n\n')
    assert read_os_release(release) == {"ID": "debian", "PRETTY_NAME": "Debian GNU/Linux 12"}
    assert read_os_release(tmp_path / "missing") == {}
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\n/dev/sda1 / ext4 rw,relatime 0 0\n"
                      "tmpfs /run tmpfs rw 0 0\nnas:/x /mnt/my\\040nas nfs4 rw 0 0\n")
    assert [(m.source, m.target, m.fstype) for m in read_mounts(mounts)] == [
        ("/dev/sda1", "/", "ext4"), ("nas:/x", "/mnt/my nas", "nfs4")]


def test_schedule_places_match_the_installer(tmp_path: Path) -> None:
    assert schedule_places({}, user=False) == (Path("/etc/systemd/system"),
                                               Path("/etc/cron.d/strongroom"))
    assert schedule_places({"XDG_CONFIG_HOME": str(tmp_path)}, user=True) == (
        tmp_path / "systemd/user", None)
    assert schedule_places({"STRONGROOM_SYSTEMD_DIR": "/u", "STRONGROOM_CRON_FILE": "/c"},
                           user=True) == (Path("/u"), Path("/c"))
