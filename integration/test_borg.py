"""What only a borg repository has: ssh:// repositories (the private sshd), backup-sync
between borg repositories, the refusals (URLs borg cannot use, an unknown unencrypted
repository, a wrong passphrase) and its locks. The round trips both engines share run in
the other files, marked BOTH_ENGINES."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from integration.conftest import Site, compare_trees, require_binary, with_sqlite
from integration.servers import free_port
from integration.sshserver import SshServer, private_sshd


@pytest.fixture
def engine_name() -> str:
    return "borg"


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshServer]:
    with private_sshd(tmp_path / "sshd") as server:
        yield server


def ssh_repository(name: str, server: SshServer, path: Path, password: Path,
                   identity: Path | None = None, port: int | None = None) -> str:
    return f"""
[repositories.{name}]
engine = "borg"
url = "ssh://{server.user}@127.0.0.1:{port or server.port}{path}"
identity_file = "{identity or server.identity}"
known_hosts_file = "{server.known_hosts}"
password_file = "{password}"
"""


def test_ssh_repository_round_trip_sync_and_its_errors(site: Site, sshd: SshServer) -> None:
    folder = site.root / "ssh-repository"
    stranger = sshd.identity.with_name("stranger_key")
    closed = free_port()
    site.profile.write_text(
        site.profile.read_text()
        + ssh_repository("nas", sshd, folder, site.password_file)
        + ssh_repository("stranger", sshd, folder, site.password_file, identity=stranger)
        + ssh_repository("down", sshd, folder, site.password_file, port=closed))
    assert site.run("init", "--destination", "nas", "--json").json()[0]["created"] is True
    assert (folder / "config").is_file()  # written by `borg serve` over ssh
    assert site.run("init", "--destination", "nas", "--json").json()[0]["created"] is False
    name = site.run("create-backup", "--type", "full", "--destination", "nas",
                    "--json").json()["set"]
    listed = site.run("list-backups", "--destination", "nas", "--json").json()["backups"]
    assert [entry["set"] for entry in listed] == [name]
    target = site.root / "restored"
    site.run("restore-backup", "--destination", "nas", "--backup", name, "--target",
             str(target))
    host = site.root / "host"
    compare_trees(host, target / str(host).lstrip("/"), skip=(".terraform",))

    # backup-sync borg → borg: the set, a dump part too, arrives whole and restores the same.
    db = with_sqlite(site)
    local = site.run("create-backup", "--type", "full", "--name", "here", "--json").json()
    synced = site.run("backup-sync", "--from", "local", "--to", "nas", "--json").json()
    assert synced["copied"] == [local["set"]] and synced["skipped"] == []
    again = site.run("backup-sync", "--from", "local", "--to", "nas", "--json").json()
    assert again["copied"] == [] and again["skipped"] == [local["set"]]
    verified = site.run("verify-backup", "--destination", "nas", "--backup", local["set"],
                        "--deep-check", "--json").json()
    assert verified["ok"] is True, verified
    checks = {check["check"]: check for check in verified["checks"]}
    assert "1 stream(s) match their recorded digests" in checks["stream digests"]["detail"]
    db.unlink()
    site.run("restore-backup", "--destination", "nas", "--backup", local["set"],
             "--database", str(db))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (300,)
    conn.close()
    copied = site.root / "from-copy"
    site.run("restore-backup", "--destination", "nas", "--backup", local["set"], "--target",
             str(copied))
    compare_trees(host / "etc/app", copied / str(host / "etc/app").lstrip("/"),
                  skip=(".terraform",), mtimes=False)  # a tar stream keeps whole seconds

    # borg reads ssh's own words ("Permission denied (publickey)") only when they come
    # before the closed connection; either way the error names the repository.
    for repository, messages in (("stranger", ("refused the ssh key", "Connection closed")),
                                 ("down", (f"127.0.0.1:{closed}: connection refused",))):
        result = site.run("list-backups", "--destination", repository, check=False)
        assert result.returncode != 0 and f"repository {repository!r}" in result.stderr
        assert any(message in result.stderr for message in messages), result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 2


def test_urls_borg_cannot_use_are_refused_at_load(make_site: Callable[..., Site]) -> None:
    site = make_site(large_bytes=1024, init=False)
    profile = site.profile.read_text()
    for url in ("s3://bucket/prefix", "sftp://u@host/srv", "azure://c/p", "rest:https://host/",
                "ssh://"):
        site.profile.write_text(profile.replace(f'url = "{site.repository}"', f'url = "{url}"'))
        result = site.run("list-backups", check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "borg" in result.stderr and url in result.stderr, result.stderr


def test_wrong_passphrase_missing_repository_and_no_secret_on_argv(
        make_site: Callable[..., Site]) -> None:
    site = make_site(init=False)
    missing = site.run("list-backups", check=False)
    assert missing.returncode != 0 and "no borg repository" in missing.stderr
    assert f"strongroom -p {site.profile} init --destination local" in missing.stderr
    site.run("init")
    site.run("create-backup", "--type", "config")
    site.password_file.write_text("not the passphrase\n")
    wrong = site.run("list-backups", check=False)
    assert wrong.returncode != 0 and "wrong password" in wrong.stderr, wrong.stderr
    assert "Traceback" not in wrong.stderr
    site.password_file.write_text("correct horse battery staple\n")
    log = "\n".join(p.read_text() for p in site.state.rglob("*.log"))
    assert "correct horse" not in log


def test_an_unknown_unencrypted_repository_is_refused(site: Site) -> None:
    require_binary("borg")
    plain = site.root / "plain-repository"
    subprocess.run(["borg", "init", "--encryption", "none", str(plain)], check=True,
                   capture_output=True, env={**os.environ, "BORG_BASE_DIR": str(site.root /
                                                                                "other")})
    site.profile.write_text(site.profile.read_text() + f"""
[repositories.plain]
engine = "borg"
url = "{plain}"
password_file = "{site.password_file}"
""")
    result = site.run("list-backups", "--destination", "plain", check=False)
    assert result.returncode != 0 and "unencrypted" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_after_init_a_backup_starts_only_borg_create(site: Site, tmp_path: Path) -> None:
    """`borg init --show-version` tells the version in passing: the first backup asks no
    `borg --version` (a Python start of its own)."""
    real = require_binary("borg")
    log = tmp_path / "borg-calls"
    wrapper = tmp_path / "bin" / "borg"  # a borg binary strongroom has not seen
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    env = {"PATH": f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}"}
    site.profile.write_text(site.profile.read_text() + f"""
[repositories.fresh]
engine = "borg"
url = "{tmp_path / 'fresh'}"
password_file = "{site.password_file}"
""")
    site.run("init", "--destination", "fresh", env=env)
    assert log.read_text().split() == ["init"]
    log.unlink()
    site.run("create-backup", "--destination", "fresh", "--no-verify", env=env)
    assert log.read_text().split() == ["create"]


def test_a_live_borg_keeps_its_lock_and_a_stale_one_is_broken(site: Site) -> None:
    made = site.run("create-backup", "--type", "config", "--json").json()["set"]
    # A borg that holds the repository's exclusive lock while it waits on its stdin.
    holder = subprocess.Popen(
        ["borg", "create", "--stdin-name", "x", "::held", "-"], stdin=subprocess.PIPE,
        env=site.engine_env(), stderr=subprocess.DEVNULL)
    try:
        lock = site.repository / "lock.exclusive"
        for _ in range(100):
            if lock.exists():
                break
            subprocess.run(["sleep", "0.1"], check=True)
        busy = site.run("create-backup", "--type", "config", check=False)
        assert busy.returncode != 0 and f"borg (pid {holder.pid}) is still running" in \
            busy.stderr, busy.stderr
    finally:
        holder.kill()
        holder.wait()
    # Killed, it left its lock behind: strongroom breaks it, as no borg holds it now.
    assert (site.repository / "lock.exclusive").exists()
    for roster in (site.repository / "lock.roster",):
        roster_text = roster.read_text() if roster.exists() else ""
        # A foreign host name keeps borg itself from clearing the dead holder's lock.
        roster.write_text(roster_text.replace(os.uname().nodename, "elsewhere"))
    for owner in (site.repository / "lock.exclusive").iterdir():
        owner.rename(owner.with_name(owner.name.replace(os.uname().nodename, "elsewhere")))
    listed = site.run("list-backups", "--json").json()["backups"]
    assert [entry["set"] for entry in listed] == [made]


def test_the_runbook_of_a_borg_set_recovers_with_plain_borg(
        make_site: Callable[..., Site]) -> None:
    require_binary("sqlite3")
    site = make_site(large_bytes=1 << 16)
    db = with_sqlite(site)
    made = site.run("create-backup", "--type", "disaster-recovery", "--json").json()
    [final] = site.snapshots(f"set={made['set']}", "part=files")
    staging = next(p for p in final["paths"] if p.endswith("/sets/disaster-recovery"))
    runbook = site.engine_run("extract", "--stdout", f"::{final['name']}",
                              f"{staging.lstrip('/')}/strongroom/RECOVERY.md")
    assert "Install borg" in runbook and "restic" not in runbook.split("## Recover")[1]
    commands = runbook.split("## Recover with plain borg")[1]
    env = site.engine_env()
    (line,) = [ln for ln in commands.splitlines() if "| sqlite3 " in ln]
    fresh = site.root / "fresh.sqlite"
    subprocess.run(line.removesuffix(str(db)) + str(fresh), shell=True, check=True, env=env,
                   timeout=300)
    with sqlite3.connect(fresh) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (300,)
    conn.close()
    (line,) = [ln for ln in commands.splitlines() if ln.startswith("cd / && borg extract ")]
    target = site.root / "restored"
    target.mkdir()
    subprocess.run(line.replace("cd / ", f"cd {target} "), shell=True, check=True, env=env,
                   timeout=300, capture_output=True)
    host = site.root / "host"
    compare_trees(host / "etc/app", target / str(host / "etc/app").lstrip("/"),
                  skip=(".terraform",))
    (line,) = [ln for ln in commands.splitlines() if "RECOVERY.md" in ln]
    shown = subprocess.run(line, shell=True, check=True, env=env, timeout=300,
                           capture_output=True).stdout.decode()
    assert shown == runbook


def test_a_borg_repository_read_without_its_profile(site: Site, tmp_path: Path) -> None:
    made = site.run("create-backup", "--type", "config", "--json").json()["set"]
    home = tmp_path / "fresh-home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "STRONGROOM_STATE_DIR": str(home / "state")}

    def bare(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "orchestrator", *args], env=env,
                              capture_output=True, text=True, timeout=300, check=False)

    for repo in (str(site.repository), f"borg:{site.repository}"):
        listed = bare("list-backups", "--repo", repo, "--password-file",
                      str(site.password_file), "--json")
        assert listed.returncode == 0, listed.stderr
        assert [entry["set"] for entry in json.loads(listed.stdout)["backups"]] == [made]
    target = tmp_path / "restored"
    restored = bare("restore-backup", "--repo", str(site.repository), "--password-file",
                    str(site.password_file), "--backup", made, "--target", str(target))
    assert restored.returncode == 0, restored.stderr
    host = site.root / "host"
    compare_trees(host / "etc/app", target / str(host / "etc/app").lstrip("/"),
                  skip=(".terraform",))
    refused = bare("list-backups", "--repo", "borg:s3://bucket/x", "--password-env", "X")
    assert refused.returncode == 2 and "borg cannot use" in refused.stderr
