"""Repositories on S3 (moto with authentication on), SFTP (a private sshd) and Azure
(azurite through rclone): round trips, backup-sync, and one clear error per cause.
Secrets reach restic through its environment only."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.azureserver import azurite
from integration.conftest import STRONGROOM, Site, compare_trees, require_binary, with_sqlite
from integration.s3server import S3Server, moto_s3, moto_s3_users
from integration.servers import free_port
from integration.sshserver import SshServer, private_sshd


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    with moto_s3(tmp_path) as server:
        yield server


def assert_rows(db: Path, count: int) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (count,)
    conn.close()


def test_s3_round_trip(site: Site, s3: S3Server) -> None:
    db = with_sqlite(site, rows=500)
    site.profile.write_text(site.profile.read_text() + s3.repository_toml(
        "offsite", "strongroom-site", site.password_file))
    assert site.run("init", "--destination", "offsite", "--json").json()[0]["created"] is True
    made = site.run("create-backup", "--type", "full", "--destination", "offsite", "-vv",
                    "--json")
    secret = s3.secret_file.read_text().strip()
    assert secret not in made.stderr and "AWS_SECRET_ACCESS_KEY" not in made.stderr
    name = made.json()["set"]
    listed = site.run("list-backups", "--destination", "offsite", "--json").json()
    assert [entry["set"] for entry in listed["backups"]] == [name]
    assert site.run("list-backups", "--json").json()["backups"] == []  # the local one
    target = site.root / "restored"
    db.unlink()
    site.run("restore-backup", "--destination", "offsite", "--backup", name, "--target",
             str(target), "--force")
    host = site.root / "host"
    compare_trees(host, target / str(host).lstrip("/"), skip=(".terraform",))
    assert_rows(target / str(db).lstrip("/"), 500)
    again = site.run("init", "--destination", "offsite", "--json").json()
    assert again[0]["created"] is False


def test_each_cause_has_its_own_error(site: Site, s3: S3Server) -> None:
    wrong = site.root / "wrong.secret"
    wrong.write_text("not-the-secret\n")
    closed = free_port()
    site.profile.write_text(site.profile.read_text()
                            + s3.repository_toml("badkey", "bucket-a", site.password_file,
                                                 wrong)
                            + s3.repository_toml("nobucket", "never-made", site.password_file)
                            + s3.repository_toml("down", "bucket-b", site.password_file)
                            .replace(s3.endpoint, f"http://127.0.0.1:{closed}"))
    cases = {
        ("init", "--destination", "badkey"): "refused the credentials",
        ("list-backups", "--destination", "nobucket"): "bucket or container of repository "
                                                       "'nobucket'",
        ("init", "--destination", "down"): f"at 127.0.0.1:{closed}: connection refused",
    }
    for args, message in cases.items():
        result = site.run(*args, check=False)
        assert result.returncode != 0 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 2
    site.run("init", "--destination", "nobucket")
    wrong_password = site.root / "wrong.pass"
    wrong_password.write_text("not the password\n")
    site.profile.write_text(site.profile.read_text().replace(
        f'password_file = "{site.password_file}"\n\n[repositories.nobucket.env]',
        f'password_file = "{wrong_password}"\n\n[repositories.nobucket.env]'))
    refused = site.run("list-backups", "--destination", "nobucket", check=False)
    assert refused.returncode != 0 and "wrong password" in refused.stderr


def test_sync_local_to_s3_whole_sets_once(site: Site, s3: S3Server) -> None:
    db = with_sqlite(site, rows=500)
    site.profile.write_text(site.profile.read_text() + s3.repository_toml(
        "offsite", "strongroom-sync", site.password_file))
    full = site.run("create-backup", "--type", "full", "--json").json()["set"]
    config = site.run("create-backup", "--name", "second", "--json").json()["set"]
    synced = site.run("backup-sync", "--from", "local", "--to", "offsite", "--json").json()
    assert synced["created"] is True and synced["copied"] == [full, config]
    assert synced["snapshots"] == 3  # the full set's files and dump, the config set's files
    again = site.run("backup-sync", "--from", "local", "--to", "offsite", "--json").json()
    assert again["copied"] == [] and again["skipped"] == [full, config]
    there = site.run("list-backups", "--destination", "offsite", "--json").json()["backups"]
    assert [(entry["set"], entry["status"]) for entry in there] == [
        (full, "complete"), (config, "complete")]

    verified = site.run("verify-backup", "--destination", "offsite", "--backup", full,
                        "--deep-check", "--json").json()
    assert verified["ok"] is True
    target = site.root / "restored"
    db.unlink()
    site.run("restore-backup", "--destination", "offsite", "--backup", full, "--target",
             str(target), "--force")
    host = site.root / "host"
    compare_trees(host, target / str(host).lstrip("/"), skip=(".terraform",))
    assert_rows(target / str(db).lstrip("/"), 500)

    one = site.run("backup-sync", "--from", "offsite", "--to", "local", "--backup", full,
                   "--json").json()
    assert one["copied"] == [] and one["skipped"] == [full]
    bad = site.run("backup-sync", "--from", "local", "--to", "local", check=False)
    assert bad.returncode == 2 and "both 'local'" in bad.stderr

    shutil.copy(target / str(db).lstrip("/"), db)
    site.profile.write_text(site.profile.read_text().replace(
        'schedule = "0 3 * * *"\n', 'schedule = "0 3 * * *"\nsync_to = ["offsite"]\n'))
    nightly = site.run("create-backup", "--schedule", "nightly", "--json").json()
    assert nightly["synced_to"] == ["offsite"]
    there = site.run("list-backups", "--destination", "offsite", "--json").json()["backups"]
    assert [entry["set"] for entry in there] == [full, config, nightly["set"]]


def test_sync_between_s3_repositories_under_other_credentials(site: Site,
                                                             tmp_path: Path) -> None:
    """Two S3 repositories whose AWS_ACCESS_KEY_ID and secret differ: one restic process
    cannot hold both, so the copy runs through two, each with its own keys."""
    db = with_sqlite(site, rows=200)
    west_password = site.root / "west.pass"
    west_password.write_text("the west repository's own passphrase\n")
    west_password.chmod(0o600)
    with moto_s3_users(tmp_path, 2) as (east, west):
        assert east.access_key_id != west.access_key_id
        site.profile.write_text(site.profile.read_text()
                                + east.repository_toml("east", "bucket-east", site.password_file)
                                + west.repository_toml("west", "bucket-west", west_password))
        for name in ("east", "west"):
            site.run("init", "--destination", name)
        made = site.run("create-backup", "--type", "full", "--destination", "east",
                        "--json").json()["set"]
        run = site.run("backup-sync", "--from", "east", "--to", "west", "-v", "--json")
        assert run.json()["copied"] == [made]
        # Through two processes (a dump piped into a backup), not one `restic copy`.
        assert "restic copy" not in run.stderr and "--stdin-filename" in run.stderr
        verified = site.run("verify-backup", "--destination", "west", "--backup", made,
                            "--json").json()
        assert verified["ok"] is True, verified
        target = site.root / "restored"
        site.run("restore-backup", "--destination", "west", "--backup", made, "--target",
                 str(target))
        compare_trees(site.root / "host", target / str(site.root / "host").lstrip("/"),
                      skip=(".terraform",))
        assert_rows(target / str(db).lstrip("/"), 200)
        # The keys are really checked: west's key id with east's secret is refused.
        site.profile.write_text(site.profile.read_text().replace(
            str(west.secret_file), str(east.secret_file)))
        mixed = site.run("list-backups", "--destination", "west", check=False)
        assert mixed.returncode != 0 and "Traceback" not in mixed.stderr


def test_an_interrupted_sync_leaves_no_complete_looking_set(site: Site, s3: S3Server) -> None:
    import boto3
    import psutil

    site.profile.write_text(site.profile.read_text() + s3.repository_toml(
        "offsite", "strongroom-kill", site.password_file) + """
[[services.web.hooks]]
type = "command"
name = "big.bin"
dump = ["head", "-c", "300000000", "/dev/urandom"]
""")
    big = site.run("create-backup", "--type", "full", "--json").json()["set"]
    site.run("init", "--destination", "offsite")
    env = {**os.environ, "STRONGROOM_STATE_DIR": str(site.state)}
    sync = subprocess.Popen([*STRONGROOM, "backup-sync", "--from", "local", "--to", "offsite",
                             "-p", str(site.profile)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1",
                          aws_access_key_id=s3.access_key_id,
                          aws_secret_access_key=s3.secret_file.read_text().strip())
    deadline = time.monotonic() + 120
    while not client.list_objects_v2(Bucket="strongroom-kill",
                                     Prefix="strongroom/data/").get("KeyCount"):
        assert sync.poll() is None and time.monotonic() < deadline, "no data was copied"
        time.sleep(0.05)
    tree = [sync.pid] + [child.pid for child in psutil.Process(sync.pid).children(True)]
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    sync.wait()

    there = site.run("list-backups", "--destination", "offsite", "--all", "--json").json()
    assert [entry["status"] for entry in there["backups"] if entry["set"] == big] in (
        [], ["incomplete"])
    finished = site.run("backup-sync", "--from", "local", "--to", "offsite", "--json").json()
    assert finished["copied"] == [big]
    there = site.run("list-backups", "--destination", "offsite", "--json").json()["backups"]
    assert [(entry["set"], entry["status"]) for entry in there] == [(big, "complete")]
    assert site.run("verify-backup", "--destination", "offsite", "--backup", big,
                    "--json").json()["ok"] is True


@pytest.fixture
def sftp(tmp_path: Path) -> Iterator[SshServer]:
    with private_sshd(tmp_path / "sshd") as server:
        yield server


def test_sftp_round_trip_and_its_errors(site: Site, sftp: SshServer) -> None:
    folder = site.root / "sftp-repository"
    stranger = sftp.identity.with_name("stranger_key")
    closed = free_port()
    site.profile.write_text(
        site.profile.read_text()
        + sftp.repository_toml("nas", folder, site.password_file)
        + sftp.repository_toml("stranger", folder, site.password_file, identity=stranger)
        + sftp.repository_toml("down", folder, site.password_file, port=closed))
    assert site.run("init", "--destination", "nas", "--json").json()[0]["created"] is True
    assert (folder / "config").is_file()  # written over SFTP into the folder
    name = site.run("create-backup", "--type", "full", "--destination", "nas",
                    "--json").json()["set"]
    listed = site.run("list-backups", "--destination", "nas", "--json").json()["backups"]
    assert [entry["set"] for entry in listed] == [name]
    target = site.root / "restored"
    site.run("restore-backup", "--destination", "nas", "--backup", name, "--target",
             str(target))
    host = site.root / "host"
    compare_trees(host, target / str(host).lstrip("/"), skip=(".terraform",))

    for repository, message in (("stranger", "refused the credentials"),
                                ("down", f"127.0.0.1:{closed}: connection refused")):
        for _ in range(3):
            result = site.run("list-backups", "--destination", repository, check=False)
            # restic 0.14 relays ssh's "Permission denied" from a goroutine that can lose
            # the race with its own exit (seen under a loaded suite): then it says only
            # "unable to start the sftp session, error: EOF". Asked again, not accepted.
            if "sftp session, error: eof" not in result.stderr.lower():
                break
        assert result.returncode != 0 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 2


def test_azure_through_rclone_against_azurite(site: Site, tmp_path: Path) -> None:
    require_binary("rclone")
    with azurite(tmp_path / "azurite") as endpoint:
        site.profile.write_text(site.profile.read_text() + f"""
[repositories.azure]
url = "azure://backups/site"
account = "devstoreaccount1"
endpoint = "{endpoint}"
password_file = "{site.password_file}"
""")
        assert site.run("init", "--destination", "azure", "--json").json()[0]["created"]
        name = site.run("create-backup", "--type", "full", "--destination", "azure",
                        "--json").json()["set"]
        listed = site.run("list-backups", "--destination", "azure", "--json").json()
        assert [entry["set"] for entry in listed["backups"]] == [name]
        target = site.root / "restored"
        site.run("restore-backup", "--destination", "azure", "--backup", name, "--target",
                 str(target))
        host = site.root / "host"
        compare_trees(host, target / str(host).lstrip("/"), skip=(".terraform",))
        local = site.run("create-backup", "--name", "local-only", "--json").json()["set"]
        synced = site.run("backup-sync", "--from", "local", "--to", "azure", "--json").json()
        assert synced["copied"] == [local] and synced["created"] is False
    down = site.run("list-backups", "--destination", "azure", check=False)
    assert down.returncode != 0 and "connection refused" in down.stderr
