"""backup-migrate --to between engines (restic → borg → restic), its refusals, and
backup-sync between repositories that need different values of one variable."""

from __future__ import annotations

import io
import sqlite3
import subprocess
import tarfile
from pathlib import Path

from integration.conftest import Site, compare_trees, require_binary, with_sqlite


def add_repository(site: Site, name: str, engine: str, env: str = "") -> Path:
    """A repository of its own, under its own password (so its own keys)."""
    password = site.root / f"{name}.pass"
    password.write_text(f"another passphrase for {name}\n")
    password.chmod(0o600)
    folder = site.root / f"repo-{name}"
    site.profile.write_text(site.profile.read_text().replace("[config]", f"""\
[repositories.{name}]
engine = "{engine}"
url = "{folder}"
password_file = "{password}"
{env}
[config]""", 1))
    return folder


def stream_digests(site: Site, destination: str, name: str) -> dict[str, str]:
    verified = site.run("verify-backup", "--destination", destination, "--backup", name,
                        "--json").json()
    assert verified["ok"] is True, verified
    listed = site.run("list-backups", "--destination", destination, "--json").json()
    assert name in [entry["set"] for entry in listed["backups"]]
    return {check["check"]: check["detail"] for check in verified["checks"]
            if check["check"] != "repository"}  # it names the engine


def test_a_set_goes_restic_to_borg_to_restic_and_restores_the_same(site: Site) -> None:
    require_binary("borg")
    db = with_sqlite(site)
    add_repository(site, "vault", "borg")
    add_repository(site, "back", "restic")
    made = site.run("create-backup", "--type", "full", "--json").json()
    name = made["set"]

    there = site.run("backup-migrate", "--backup", name, "--to", "vault", "--json").json()
    assert there["set"] == name and there["target"] == "vault" and there["created"] is True
    assert there["staged"] is False  # borg takes the files part as a tar stream
    dumps = [part for part in there["parts"] if part["part"] != "files"]
    assert dumps and all(part["digest"] for part in dumps)
    back = site.run("backup-migrate", "--backup", name, "--destination", "vault", "--to",
                    "back", "--json").json()
    assert back["staged"] is True and back["set"] == name
    assert [p["digest"] for p in back["parts"] if p["digest"]] == [p["digest"] for p in dumps]

    # The same name and time in every repository; the digests as recorded at backup time.
    times = {site.run("list-backups", "--destination", repo, "--json").json()["backups"][0][
        "time"] for repo in ("local", "vault", "back")}
    assert len(times) == 1
    assert stream_digests(site, "back", name) == stream_digests(site, "local", name)

    target = site.root / "restored"
    site.run("restore-backup", "--destination", "back", "--backup", name, "--target",
             str(target))
    host = site.root / "host"
    compare_trees(host, target / str(host).lstrip("/"), skip=(".terraform",), mtimes=False)
    with sqlite3.connect(target / str(db).lstrip("/")) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (300,)
    conn.close()

    # No silent overwrite: the set is in back already.
    again = site.run("backup-migrate", "--backup", name, "--to", "back", check=False)
    assert again.returncode != 0 and "already holds set" in again.stderr
    assert "Traceback" not in again.stderr
    same = site.run("backup-migrate", "--backup", name, "--to", "local", check=False)
    assert same.returncode != 0 and "is the repository the set is in" in same.stderr
    both = site.run("backup-migrate", "--to-format", "zip", "--to", "back", check=False)
    assert both.returncode != 0 and "one or the other" in both.stderr


def test_sync_between_repositories_needing_different_values_of_one_variable(
        site: Site) -> None:
    site.profile.write_text(site.profile.read_text().replace(
        'password_file = "', 'env = { AWS_ACCESS_KEY_ID = "key-of-local" }\npassword_file = "',
        1))
    add_repository(site, "other", "restic", 'env = { AWS_ACCESS_KEY_ID = "key-of-other" }')
    with_sqlite(site, rows=20)
    name = site.run("create-backup", "--type", "full", "--json").json()["set"]
    dumps = site.run("backup-database", "--service", "web", "--json").json()["set"]
    synced = site.run("backup-sync", "--from", "local", "--to", "other", "--json").json()
    assert synced["copied"] == [name, dumps]
    again = site.run("backup-sync", "--from", "local", "--to", "other", "--json").json()
    assert again["copied"] == [] and again["skipped"] == [name, dumps]
    for each in (name, dumps):  # a set of dumps alone keeps its manifest in a stream
        verified = site.run("verify-backup", "--destination", "other", "--backup", each,
                            "--json").json()
        assert verified["ok"] is True, verified


def test_imports_of_an_export_and_of_a_plain_tar_and_a_hostile_archive_refused(
        site: Site, tmp_path: Path) -> None:
    require_binary("borg")
    db = with_sqlite(site, rows=50)
    add_repository(site, "vault", "borg")
    add_repository(site, "back", "restic")
    name = site.run("create-backup", "--type", "full", "--json").json()["set"]
    export = tmp_path / "export.zip"
    site.run("download-backup", "--backup", name, "--format", "zip", "--output", str(export))

    imported = site.run("backup-migrate", "--from-archive", str(export), "--to", "vault",
                        "--json").json()
    assert imported["set"] == name and imported["target"] == "vault"
    assert stream_digests(site, "vault", name) == stream_digests(site, "local", name)
    restored = site.root / "from-export"
    site.run("restore-backup", "--destination", "vault", "--backup", name, "--target",
             str(restored))
    host = site.root / "host"
    for part in ("etc/app", "srv/data", "etc/other", "srv/other", "etc/netplan"):
        # An export holds the parts, not the folders above them.
        compare_trees(host / part, restored / str(host / part).lstrip("/"),
                      skip=(".terraform",), mtimes=False)
    with sqlite3.connect(restored / str(db).lstrip("/")) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (50,)
    conn.close()
    again = site.run("backup-migrate", "--from-archive", str(export), "--to", "vault",
                     check=False)
    assert again.returncode != 0 and "already holds set" in again.stderr

    # The encrypted envelope, under another name: the same dumps, digests checked.
    secret = tmp_path / "export.pass"
    secret.write_text("export password\n")
    sealed = tmp_path / "export.tar.gz.enc"
    site.run("download-backup", "--backup", name, "--format", "tar.gz", "--encrypt",
             "--password-file", str(secret), "--output", str(sealed))
    renamed = site.run("backup-migrate", "--from-archive", str(sealed), "--to", "vault",
                       "--name", "again", "--archive-password-file", str(secret),
                       "--json").json()
    assert renamed["set"] == "again-" + name.split("-", 1)[1]
    assert stream_digests(site, "vault", renamed["set"]) == stream_digests(site, "local", name)

    plain = tmp_path / "plain.tar"
    subprocess.run(["tar", "-cf", str(plain), "-C", str(host), "etc/app"], check=True)
    files = site.run("backup-migrate", "--from-archive", str(plain), "--to", "back",
                     "--name", "handmade", "--json").json()
    assert files["set"].startswith("handmade-") and [p["part"] for p in files["parts"]] == [
        "files"]
    out = site.root / "from-tar"
    site.run("restore-backup", "--destination", "back", "--backup", files["set"], "--target",
             str(out))
    compare_trees(host / "etc/app", out / "imported/handmade/etc/app", mtimes=False)

    hostile = tmp_path / "hostile.tar"
    with tarfile.open(hostile, "w") as archive:
        for entry_name, data in (("ok.txt", b"fine"), ("../../escape.txt", b"out")):
            info = tarfile.TarInfo(entry_name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    refused = site.run("backup-migrate", "--from-archive", str(hostile), "--to", "back",
                       check=False)
    assert refused.returncode != 0 and "refused" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert not list(site.root.rglob("escape.txt")) and not list(tmp_path.rglob("escape.txt"))
    listed = site.run("list-backups", "--destination", "back", "--json").json()["backups"]
    assert [entry["set"] for entry in listed] == [files["set"]]
    assert not any((site.state / "migrate").iterdir())  # the staging folders are gone
