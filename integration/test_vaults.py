"""Per-service keys: a service whose parts go to a repository of its own (real restic)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

from integration.conftest import Site, compare_trees

VAULT = """
[repositories.nc-vault]
url = "{vault}"
password_file = "{password}"

[services.nextcloud]
config = ["{host}/etc/nextcloud"]
data = ["{host}/srv/nextcloud"]
repository = "nc-vault"

[[services.nextcloud.hooks]]
type = "sqlite"
path = "{db}"
"""


def vault_site(make_site: Callable[..., Site]) -> tuple[Site, Path, Path, Path]:
    site = make_site(large_bytes=4096, init=False)
    host = site.root / "host"
    (host / "etc/nextcloud").mkdir(parents=True)
    (host / "etc/nextcloud/config.php").write_text("<?php $CONFIG = [];\n")
    (host / "srv/nextcloud/files").mkdir(parents=True)
    (host / "srv/nextcloud/files/holiday-photo.jpg").write_bytes(os.urandom(3000))
    db = site.root / "nextcloud.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO t (v) VALUES (?)", [(f"row {i}",) for i in range(50)])
    conn.close()
    vault, password = site.root / "vault", site.root / "vault.pass"
    password.write_text("another horse entirely\n")
    password.chmod(0o600)
    site.profile.write_text(site.profile.read_text().replace("[infrastructure]", VAULT.format(
        vault=vault, password=password, host=host, db=db) + "\n[infrastructure]"))
    site.run("init")
    return site, vault, password, db


def restic_paths(repository: Path, password: Path) -> list[str]:
    """Every path plain restic lists in every snapshot of a repository."""
    env = {**os.environ, "RESTIC_REPOSITORY": str(repository),
           "RESTIC_PASSWORD_FILE": str(password)}
    snaps = json.loads(subprocess.run(["restic", "snapshots", "--json"], env=env, check=True,
                                      capture_output=True, text=True).stdout)
    paths: list[str] = []
    for snap in snaps:
        out = subprocess.run(["restic", "ls", "--json", snap["id"]], env=env, check=True,
                             capture_output=True, text=True).stdout
        paths += [json.loads(line).get("path", "") for line in out.splitlines()[1:]]
    return paths


def test_a_service_vault_holds_its_parts_and_restores_with_both_keys(
        make_site: Callable[..., Site]) -> None:
    site, vault, vault_password, db = vault_site(make_site)
    made = site.run("create-backup", "--type", "full", "--json").json()
    name = made["set"]

    in_main = restic_paths(site.repository, site.password_file)
    in_vault = restic_paths(vault, vault_password)
    assert not [p for p in in_main if "nextcloud" in p and not p.endswith("metadata.json")]
    assert any(p.endswith("srv/nextcloud/files/holiday-photo.jpg") for p in in_vault)
    assert any("services/nextcloud" in p for p in in_vault)  # the sqlite dump
    assert any(p.endswith("srv/data/large.bin") for p in in_main)
    assert not any(p.endswith("srv/data/large.bin") for p in in_vault)

    listed = site.run("list-backups", "--json").json()["backups"]
    assert [(b["set"], b["status"], b["repositories"]) for b in listed] == [
        (name, "complete", ["local", "nc-vault"])]
    assert "KEYS" in site.run("list-backups").stdout

    target = site.root / "restored"
    site.run("restore-backup", "--backup", name, "--target", str(target))
    host = site.root / "host"
    inside = target / str(host).lstrip("/")
    compare_trees(host / "srv/nextcloud", inside / "srv/nextcloud")
    compare_trees(host / "etc/nextcloud", inside / "etc/nextcloud")
    compare_trees(host / "srv/data", inside / "srv/data")
    restored_db = target / str(db).lstrip("/")
    with sqlite3.connect(restored_db) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (50,)
    conn.close()

    verified = site.run("verify-backup", "--backup", name, "--deep-check", "--json").json()
    assert verified["ok"], verified
    assert {"vault nc-vault parts", "vault nc-vault digests", "vault nc-vault test restore"} <= {
        check["check"] for check in verified["checks"]}

    drilled = site.run("drill", "--backup", name, "--json").json()
    assert drilled["ok"], drilled
    assert {"files", "files in nc-vault"} <= {check["part"] for check in drilled["checks"]}
    assert [c for c in drilled["checks"] if c["kind"] == "sqlite" and c["ok"]]

    exported = site.root / "export.tar.gz"
    site.run("download-backup", "--backup", name, "--format", "tar.gz", "-o", str(exported))
    with tarfile.open(exported) as archive:
        names = set(archive.getnames())
        photo = archive.extractfile("services/nextcloud/data/files/holiday-photo.jpg")
        assert photo is not None and photo.read() == (
            host / "srv/nextcloud/files/holiday-photo.jpg").read_bytes()
    assert "services/web/data/large.bin" in names and "metadata.json" in names
    assert [n for n in names if n.startswith("services/nextcloud/") and n.split("/")[2] not in (
        "config", "data")]  # the sqlite dump

    # Without the vault's password: everything else comes back, the rest is named.
    vault_password.rename(site.root / "vault.pass.away")
    listed = site.run("list-backups", "--json").json()["backups"]
    assert listed[0]["status"] == "unchecked" and "nc-vault" in listed[0]["problem"]
    partial = site.root / "partial"
    failed = site.run("restore-backup", "--backup", name, "--target", str(partial), check=False)
    assert failed.returncode == 1, failed.stderr
    assert "nc-vault" in failed.stderr and "services/nextcloud/data" in failed.stderr
    assert "Traceback" not in failed.stderr
    inside = partial / str(host).lstrip("/")
    compare_trees(host / "srv/data", inside / "srv/data")
    assert not (inside / "srv/nextcloud").exists()
    refused = site.run("download-backup", "--backup", name, "-o", str(site.root / "x.zip"),
                       check=False)
    assert refused.returncode == 1 and "vault nc-vault" in refused.stderr, refused.stderr
    assert not (site.root / "x.zip").exists()
    site.run("download-backup", "--backup", name, "--services", "web", "-o",
             str(site.root / "web.zip"))
    undrilled = site.run("drill", "--backup", name, "--json", check=False)
    assert undrilled.returncode == 1
    assert [c["part"] for c in undrilled.json()["checks"] if not c["ok"]] == ["vault nc-vault"]
    unverified = site.run("verify-backup", "--backup", name, "--json", check=False)
    assert unverified.returncode == 1
    failed_checks = [c for c in unverified.json()["checks"] if not c["ok"]]
    assert [c["check"] for c in failed_checks] == ["vault nc-vault"], failed_checks

    # The vault's password given for this restore alone: everything comes back.
    given = site.root / "given"
    site.run("restore-backup", "--backup", name, "--target", str(given),
             "--vault-password-file", f"nc-vault={site.root / 'vault.pass.away'}")
    inside = given / str(host).lstrip("/")
    compare_trees(host / "srv/nextcloud", inside / "srv/nextcloud")
    compare_trees(host / "etc/nextcloud", inside / "etc/nextcloud")
    compare_trees(host / "srv/data", inside / "srv/data")
    with sqlite3.connect(given / str(db).lstrip("/")) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (50,)
    conn.close()
    wrong = site.run("restore-backup", "--backup", name, "--target", str(site.root / "w"),
                     "--vault-password-file", f"web-vault={site.root / 'vault.pass.away'}",
                     check=False)
    assert wrong.returncode == 2 and "not a service's own repository" in wrong.stderr


def test_a_missing_vault_part_makes_the_set_incomplete(make_site: Callable[..., Site]) -> None:
    site, vault, vault_password, _ = vault_site(make_site)
    name = site.run("create-backup", "--type", "config", "--json").json()["set"]
    env = {**os.environ, "RESTIC_REPOSITORY": str(vault), "RESTIC_PASSWORD_FILE":
           str(vault_password)}
    held = json.loads(subprocess.run(["restic", "snapshots", "--json", "--tag", f"set={name}"],
                                     env=env, check=True, capture_output=True).stdout)
    assert held
    subprocess.run(["restic", "forget", *[snap["id"] for snap in held]], env=env, check=True,
                   capture_output=True)
    listed = site.run("list-backups", "--all", "--json").json()["backups"]
    assert listed[0]["status"] == "incomplete" and "nc-vault" in listed[0]["problem"]
    refused = site.run("create-backup", "--type", "config", "--destination", "nc-vault",
                       check=False)
    assert refused.returncode == 2 and "vault" in refused.stderr


def test_retention_forgets_vault_parts_and_what_does_not_follow_a_vault_refuses(
        make_site: Callable[..., Site]) -> None:
    site, vault, vault_password, _ = vault_site(make_site)
    spare = site.root / "spare"
    site.profile.write_text(site.profile.read_text() + f"""
[repositories.spare]
url = "{spare}"
password_file = "{site.password_file}"
""")
    site.run("init", "--destination", "spare")
    site.profile.write_text(site.profile.read_text().replace(
        'type = "full"\n', 'type = "full"\nkeep_last = 1\n', 1))
    first = site.run("create-backup", "--schedule", "nightly", "--json").json()["set"]
    name = site.run("create-backup", "--schedule", "nightly", "--json").json()["set"]
    env = {**os.environ, "RESTIC_REPOSITORY": str(vault),
           "RESTIC_PASSWORD_FILE": str(vault_password)}
    held = json.loads(subprocess.run(["restic", "snapshots", "--json"], env=env, check=True,
                                     capture_output=True).stdout)
    sets_in_vault = {tag for snap in held for tag in snap["tags"] if tag.startswith("set=")}
    assert sets_in_vault == {f"set={name}"}, (first, sets_in_vault)
    (site.root / "host/srv/nextcloud/files/holiday-photo.jpg").write_bytes(os.urandom(2000))
    later = site.run("create-backup", "--type", "full", "--json").json()["set"]
    compared = site.run("backup-compare", name, later, "--json").json()
    status = {p["part"]: (p["status"], p.get("modified")) for p in compared["parts"]}
    assert status["services/nextcloud/data"] == ("changed", 1), compared
    assert status["services/nextcloud/config"][0] == "same"
    assert status["services/web/data"][0] == "same"
    refused = site.run("backup-sync", "--from", "local", "--to", "spare", "--backup", name,
                       check=False)
    assert refused.returncode == 2, refused.stderr
    assert f"{name} has parts in vault nc-vault" in refused.stderr, refused.stderr
    assert "[repositories.spare] vaults = { nc-vault = " in refused.stderr, refused.stderr


def test_recover_reads_a_vault_with_its_password_and_fails_only_its_steps_without(
        make_site: Callable[..., Site]) -> None:
    site, _vault, vault_password, db = vault_site(make_site)
    name = site.run("create-backup", "--type", "disaster-recovery", "--json").json()["set"]
    host = site.root / "host"
    in_vault = {"service nextcloud: config and data from vault nc-vault",
                f"sqlite {db} (service nextcloud) from vault nc-vault"}
    planned = site.run("recover", "--backup", name, "--dry-run", "--target",
                       str(site.root / "unused"), "--json").json()
    assert in_vault <= {step["name"] for step in planned["steps"]}, planned["steps"]

    rebuilt = site.root / "rebuilt"
    done = site.run("recover", "--backup", name, "--target", str(rebuilt), "--yes",
                    "--json").json()
    assert done["ok"], done["steps"]
    inside = rebuilt / str(host).lstrip("/")
    for tree in ("srv/nextcloud", "etc/nextcloud", "srv/data"):
        compare_trees(host / tree, inside / tree)
    with sqlite3.connect(rebuilt / str(db).lstrip("/")) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (50,)
    conn.close()

    # Without the vault's password: everything else comes back, the vault's steps fail.
    vault_password.rename(site.root / "vault.pass.away")
    partial = site.root / "partial"
    failed = site.run("recover", "--backup", name, "--target", str(partial), "--yes",
                      "--json", check=False)
    assert failed.returncode == 1, failed.stderr
    assert "Traceback" not in failed.stderr
    report = failed.json()
    steps = {step["name"]: step for step in report["steps"]}
    assert {n for n, step in steps.items() if step["result"] == "failed"} == in_vault, steps
    assert all(step["result"] == "ok" for n, step in steps.items() if n not in in_vault)
    for step_name in in_vault:
        error = steps[step_name]["error"]
        assert "nc-vault" in error and "services/nextcloud/data" in error, error
    inside = partial / str(host).lstrip("/")
    compare_trees(host / "srv/data", inside / "srv/data")
    assert not (inside / "srv/nextcloud").exists()
    assert not (partial / str(db).lstrip("/")).exists()
    assert any(f"restore-backup --backup {name} --services nextcloud" in item["text"]
               for item in report["follow_up"]), report["follow_up"]
