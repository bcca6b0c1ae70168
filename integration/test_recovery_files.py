"""A disaster-recovery set's RECOVERY.md and inventory.json, read back with plain restic, and
the plain-restic commands the runbook prints, run as a person would run them."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

from integration.conftest import Site, compare_trees, require_binary, with_sqlite


def restic_env(site: Site) -> dict[str, str]:
    return {**os.environ, "RESTIC_PASSWORD_FILE": str(site.password_file)}


def restic(site: Site, *args: str) -> bytes:
    return subprocess.run(["restic", "-r", str(site.repository), *args], capture_output=True,
                          env=restic_env(site), check=True, timeout=300).stdout


def rows(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as conn:
        found = conn.execute("SELECT id, v FROM t ORDER BY id").fetchall()
    conn.close()
    return found


def test_recovery_files_and_the_plain_restic_fallback(make_site: Callable[..., Site]) -> None:
    require_binary("sqlite3")
    site = make_site(large_bytes=1 << 16)
    db = with_sqlite(site)
    made = site.run("create-backup", "--type", "disaster-recovery", "--json").json()
    name = made["set"]
    final = json.loads(restic(site, "snapshots", "--json", "--tag", f"set={name},part=files"))
    assert len(final) == 1
    staging = next(p for p in final[0]["paths"] if p.endswith("/sets/disaster-recovery"))

    runbook = restic(site, "dump", final[0]["id"], f"{staging}/strongroom/RECOVERY.md").decode()
    inventory = json.loads(restic(site, "dump", final[0]["id"],
                                  f"{staging}/strongroom/inventory.json"))
    manifest = json.loads(restic(site, "dump", final[0]["id"], f"{staging}/metadata.json"))

    assert f"set {name}" in runbook and "correct horse" not in runbook
    assert str(site.password_file) in runbook  # where the password lived, not what it is
    for item in manifest["paths"]:
        assert f"`{item['logical']}`" in runbook and item["source"] in runbook
    (stream,) = manifest["streams"]
    assert stream["snapshot_id"] in runbook and "`0 3 * * *`" in runbook
    assert inventory["set"] == name and inventory["hostname"] == socket.gethostname()
    assert inventory["tools"] == manifest["tools"] and inventory["kernel"] == os.uname().release
    assert inventory["database_servers"] == [
        {"service": "web", "hook": "sqlite", "host": None, "port": None, "socket": None,
         "username": None, "databases": [], "path": str(db)}]
    assert inventory["os_release"].get("ID") and all(
        mount["fstype"] != "proc" for mount in inventory["mounts"])

    commands = runbook.split("## Recover with plain restic")[1]
    # The sqlite line, into a fresh database file instead of the live one.
    (line,) = [ln for ln in commands.splitlines() if "| sqlite3 " in ln]
    fresh = site.root / "fresh.sqlite"
    assert line.endswith(f"| sqlite3 {db}")
    subprocess.run(line.removesuffix(str(db)) + str(fresh), shell=True, check=True,
                   env=restic_env(site), timeout=300)
    assert rows(fresh) == rows(db) and len(rows(fresh)) == 300
    # The files line, into a folder instead of /.
    (line,) = [ln for ln in commands.splitlines() if " restore latest " in ln]
    target = site.root / "restored"
    subprocess.run(line.replace("--target /", f"--target {target}"), shell=True, check=True,
                   env=restic_env(site), timeout=300, capture_output=True)
    host = site.root / "host"
    for part in ("etc/app", "srv/data", "etc/netplan"):
        compare_trees(host / part, target / str(host / part).lstrip("/"), skip=(".terraform",))
    assert (target / str(site.profile).lstrip("/")).read_bytes() == site.profile.read_bytes()
    assert not (target / staging.lstrip("/")).exists()  # only the set's own paths
    # The runbook's own line for reading it back.
    (line,) = [ln for ln in commands.splitlines() if " dump latest " in ln]
    shown = subprocess.run(line, shell=True, check=True, env=restic_env(site), timeout=300,
                           capture_output=True).stdout.decode()
    assert shown == runbook


def test_exports_carry_the_recovery_files(make_site: Callable[..., Site]) -> None:
    site = make_site(large_bytes=1 << 16)
    made = site.run("create-backup", "--type", "disaster-recovery", "--json").json()
    out = site.root / "dr.tar.gz"
    site.run("download-backup", "--backup", made["set"], "--format", "tar.gz", "-o", str(out))
    with tarfile.open(out) as archive:
        names = archive.getnames()
        runbook = archive.extractfile("strongroom/RECOVERY.md").read()  # type: ignore[union-attr]
    assert names[0] == "metadata.json"
    assert {"strongroom/RECOVERY.md", "strongroom/inventory.json"} <= set(names)
    assert f"set {made['set']}".encode() in runbook
    target = site.root / "from-archive"
    site.run("restore-backup", "--from-archive", str(out), "--target", str(target))
    assert (target / str(site.profile).lstrip("/")).read_bytes() == site.profile.read_bytes()
    assert not list(target.rglob("RECOVERY.md"))
    # A full set made after it under another name carries neither.
    full = site.run("create-backup", "--type", "full", "--json").json()
    listed = restic(site, "ls", full["id"]).decode()
    assert "RECOVERY.md" not in listed and "metadata.json" in listed
