"""What a user can get wrong, and a restic killed mid-backup: one clear line, non-zero exit."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

import psutil

from integration.conftest import STRONGROOM, Site
from orchestrator.engines.restic import ResticEngine
from orchestrator.profile.load import load_profile


def assert_one_clear_error(result_code: int, stderr: str, *needles: str) -> None:
    assert result_code != 0
    assert "Traceback" not in stderr
    assert stderr.startswith("strongroom: error: "), stderr
    for needle in needles:
        assert needle in stderr, stderr


def test_wrong_password(site: Site) -> None:
    site.run("create-backup")
    site.run("list-backups")  # the listing is kept, but only for the password it proved
    site.run("list-backups")
    site.password_file.write_text("not the password\n")
    result = site.run("list-backups", check=False)
    assert_one_clear_error(result.returncode, result.stderr, "wrong password", "'local'")


def test_missing_repository_says_to_init(make_site: Callable[..., Site]) -> None:
    site = make_site(init=False)
    result = site.run("create-backup", check=False)
    assert_one_clear_error(result.returncode, result.stderr, "no restic repository",
                           f"strongroom -p {site.profile} init")  # a command to copy
    assert site.run("init").stdout.startswith("local: created")
    assert "exists, password ok" in site.run("init").stdout


def test_missing_source_path(site: Site) -> None:
    gone = site.path("srv/other")
    for child in gone.iterdir():
        child.unlink()
    gone.rmdir()
    result = site.run("create-backup", "--type", "full", check=False)
    assert_one_clear_error(result.returncode, result.stderr, str(gone), "do not exist")
    # Nothing was started, so nothing is listed, not even as incomplete.
    assert site.run("list-backups", "--all", "--json").json()["backups"] == []


def test_bad_timestamp_and_unknown_backup(site: Site) -> None:
    site.run("create-backup")
    bad = site.run("restore-backup", "--timestamp", "yesterday-ish", check=False)
    assert_one_clear_error(bad.returncode, bad.stderr, "not an ISO 8601 time")
    unknown = site.run("restore-backup", "--backup", "no-such-set", check=False)
    assert_one_clear_error(unknown.returncode, unknown.stderr, "no complete backup matches",
                           "config-")
    early = site.run("restore-backup", "--timestamp", "2001-01-01T00:00:00Z", check=False)
    assert_one_clear_error(early.returncode, early.stderr, "at or before")


def test_bad_arguments(site: Site) -> None:
    unknown_service = site.run("create-backup", "--type", "service", "--services", "nope",
                               check=False)
    assert_one_clear_error(unknown_service.returncode, unknown_service.stderr, "nope")
    no_encrypt = site.run("create-backup", "--no-encrypt", check=False)
    assert_one_clear_error(no_encrypt.returncode, no_encrypt.stderr, "always encrypted")
    bad_dest = site.run("create-backup", "--destination", "elsewhere", check=False)
    assert_one_clear_error(bad_dest.returncode, bad_dest.stderr, "elsewhere")
    bad_name = site.run("create-backup", "--name", "a,b", check=False)
    assert bad_name.returncode == 2 and "Traceback" not in bad_name.stderr


def test_broken_profile_is_located(site: Site) -> None:
    site.profile.write_text(site.profile.read_text().replace("password_file", "pasword_file"))
    result = site.run("list-backups", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{site.profile}:5" in result.stderr and "password_file" in result.stderr


def start_full_backup(site: Site, capture: bool = True) -> subprocess.Popen[str]:
    """`strongroom create-backup --type full` running in the background."""
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [*STRONGROOM, "create-backup", "-p", str(site.profile), "--type", "full"],
        stdout=output, stderr=output, text=True,
        env={**os.environ, "STRONGROOM_STATE_DIR": str(site.state)},
        # As from a terminal: a suite started in the background of a shell inherits
        # SIGINT ignored, and Python then installs no Ctrl-C handler at all.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def restic_child(parent: subprocess.Popen[str], timeout: float = 30) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in psutil.Process(parent.pid).children(recursive=True):
            try:  # a child may end (or be a zombie) between the listing and these reads
                if child.name() == "restic" and "backup" in child.cmdline():
                    return child
            except psutil.Error:
                continue
        time.sleep(0.05)
    raise AssertionError("restic backup never started")


def ended(process: psutil.Process) -> bool:
    """Gone, or a zombie its parent has yet to reap (it may be reaped while we ask)."""
    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_restic_killed_mid_backup_leaves_an_incomplete_set(make_site: Callable[..., Site]) -> None:
    site = make_site(large_bytes=400 * 1024 * 1024)
    proc = start_full_backup(site)
    try:
        restic = restic_child(proc)
        time.sleep(1.0)
        os.kill(restic.pid, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0 and "Traceback" not in stderr

    listed = site.run("list-backups", "--all", "--json").json()["backups"]
    assert [b["status"] for b in listed] == ["incomplete"]
    assert "failed" in listed[0]["problem"]
    assert site.run("list-backups", "--json").json()["backups"] == []
    refused = site.run("restore-backup", "--backup", listed[0]["set"], check=False)
    assert refused.returncode != 0 and "incomplete" in refused.stderr

    # The dead restic left its lock behind; an exclusive operation clears it, because
    # no live restic works on the repository, and the next backup succeeds.
    locks = list((site.repository / "locks").iterdir())
    assert locks, "a SIGKILLed restic leaves its lock file"
    profile = load_profile(site.profile)
    engine = ResticEngine("local", profile.repositories["local"], site.state)
    engine.check()
    assert not list((site.repository / "locks").iterdir())
    time.sleep(1.1)
    made = site.run("create-backup", "--type", "full", "--json").json()
    assert made["verified"]
    statuses = [b["status"] for b in site.run("list-backups", "--all", "--json").json()["backups"]]
    assert statuses == ["incomplete", "complete"]


def test_a_crash_mid_backup_is_shown_as_interrupted(site: Site) -> None:
    """strongroom and restic both die (power loss, OOM killer): the run shows as interrupted."""
    big = site.path("srv/data/big2.bin")
    with open(big, "wb") as handle:
        handle.writelines(os.urandom(1 << 20) for _ in range(300))
    proc = start_full_backup(site, capture=False)
    restic = restic_child(proc)
    proc.send_signal(signal.SIGKILL)
    restic.send_signal(signal.SIGKILL)
    proc.wait()
    restic.wait(timeout=30)
    listed = site.run("list-backups", "--all", "--json").json()["backups"]
    assert [b["status"] for b in listed] == ["incomplete"]
    assert "interrupted" in listed[0]["problem"]


def test_ctrl_c_stops_restic_and_marks_the_set(make_site: Callable[..., Site]) -> None:
    site = make_site(large_bytes=300 * 1024 * 1024)
    proc = start_full_backup(site)
    try:
        restic = restic_child(proc)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert ended(restic)
    listed = site.run("list-backups", "--all", "--json").json()["backups"]
    assert [b["status"] for b in listed] == ["incomplete"]
    assert "interrupted (Ctrl-C) at " in listed[0]["problem"]
    assert "KeyboardInterrupt" not in listed[0]["problem"]
