"""schedule-backup, the profile lock and the scheduler, through the real command.

Units go to a test folder (STRONGROOM_SYSTEMD_DIR) and are checked by the real
`systemd-analyze verify`; the cron file (STRONGROOM_CRON_FILE) is run line by line
through /bin/sh as cron would; every installed command is executed for real.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from integration.conftest import STRONGROOM, Site, require_binary

COMMENTED = """
# ---- added by hand: a comment strongroom must keep ----
[access.download]   # exports
max_bytes = 10000000000  # ten gigabytes
"""


@pytest.fixture
def places(site: Site) -> dict[str, str]:
    return {"STRONGROOM_SYSTEMD_DIR": str(site.root / "units"),
            "STRONGROOM_CRON_FILE": str(site.root / "cron.d" / "strongroom")}


def sets_named(site: Site, base: str) -> list[str]:
    listed = site.run("list-backups", "--json").json()["backups"]
    return [entry["set"] for entry in listed if entry["set"].startswith(base + "-")]


def test_systemd_units_verify_and_run_the_schedule(site: Site, places: dict[str, str]) -> None:
    analyze = require_binary("systemd-analyze")
    site.profile.write_text(site.profile.read_text() + COMMENTED)
    before = site.profile.read_text()
    preview = site.run("schedule-backup", "--name", "hourly-config", "--schedule", "5 * * * *",
                       "--keep-last", "2", "--randomized-delay", "10min", "--install",
                       "systemd", "--dry-run", env=places)
    assert "[Timer]" in preview.stdout and "RandomizedDelaySec=600" in preview.stdout
    assert site.profile.read_text() == before and not (site.root / "units").exists()

    added = site.run("schedule-backup", "--name", "hourly-config", "--schedule", "5 * * * *",
                     "--keep-last", "2", "--randomized-delay", "10min", "--install",
                     "systemd", "--json", env=places).json()
    assert added["change"] == "added" and added["install"] == "systemd"
    after = site.profile.read_text()
    # Every line of the user's file is kept; the new table follows the last schedule.
    assert after == before.replace('type = "full"\n\n# ----', (
        'type = "full"\n\n[schedules.hourly-config]\nschedule = "5 * * * *"\n'
        'type = "config"\nkeep_last = 2\nrandomized_delay = "10min"\n\n# ----'))
    service = site.root / "units" / "strongroom-site-hourly-config.service"
    timer = site.root / "units" / "strongroom-site-hourly-config.timer"
    assert "OnCalendar=*-*-* *:05:00" in timer.read_text()
    verified = subprocess.run([analyze, "verify", str(service), str(timer)],
                              capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stderr

    exec_start = next(line for line in service.read_text().splitlines()
                      if line.startswith("ExecStart="))
    environment = dict(line.removeprefix("Environment=").split("=", 1)
                       for line in service.read_text().splitlines()
                       if line.startswith("Environment="))
    assert environment == {"STRONGROOM_STATE_DIR": str(site.state)}
    for _ in range(3):
        subprocess.run(shlex.split(exec_start.removeprefix("ExecStart=")), check=True,
                       env={**os.environ, **environment}, capture_output=True)
    assert len(sets_named(site, "hourly-config")) == 2  # keep_last = 2 applied by the runs

    listed = site.run("schedule-backup", "--list", "--json", env=places).json()["schedules"]
    mine = next(item for item in listed if item["name"] == "hourly-config")
    assert mine["installed"] == [f"systemd {timer}"]
    assert mine["last_status"] == "complete" and mine["last_success"] == mine["last_run"]
    assert len(mine["next_runs"]) == 3
    nightly = next(item for item in listed if item["name"] == "nightly")
    assert nightly["installed"] == [] and nightly["last_run"] is None

    again = site.run("schedule-backup", "--name", "hourly-config", "--schedule", "5 * * * *",
                     "--keep-last", "2", "--randomized-delay", "10min", "--install",
                     "systemd", "--json", env=places).json()
    assert again["change"] == "unchanged" and site.profile.read_text() == after

    removed = site.run("schedule-backup", "--remove", "hourly-config", env=places)
    assert "removed [schedules.hourly-config]" in removed.stdout
    assert site.profile.read_text() == before
    assert not service.exists() and not timer.exists()


def test_cron_entries_are_idempotent_and_run_through_sh(site: Site,
                                                        places: dict[str, str]) -> None:
    cron = Path(places["STRONGROOM_CRON_FILE"])
    cron.parent.mkdir()
    cron.write_text("# the admin's own line\n0 5 * * * root /usr/bin/true\n")
    for name, when in (("daily-config", "30 2 * * mon-fri"), ("weekly-full", "@weekly")):
        site.run("schedule-backup", "--name", name, "--schedule", when, "--install", "cron",
                 "--retention", "30d", env=places)
    text = cron.read_text()
    assert text.startswith("# the admin's own line\n0 5 * * * root /usr/bin/true\n")
    assert "\n30 2 * * 1-5 root /usr/bin/env PATH=" in text and "\n@weekly root " in text
    site.run("schedule-backup", "--name", "daily-config", "--install", "cron", env=places)
    assert cron.read_text() == text  # reinstalling from the profile changes nothing
    assert oct(cron.stat().st_mode & 0o777) == "0o644"

    line = next(item for item in text.splitlines() if item.startswith("30 2 * * 1-5 root "))
    command = line.split(" ", 6)[6].replace("\\%", "%")  # what cron hands to sh
    subprocess.run(["/bin/sh", "-c", command], check=True, capture_output=True,
                   env={**os.environ, "STRONGROOM_STATE_DIR": str(site.state)})
    assert len(sets_named(site, "daily-config")) == 1

    site.run("schedule-backup", "--remove", "daily-config", env=places)
    left = cron.read_text()
    assert "daily-config" not in left and "weekly-full" in left and left.startswith("# the")


def test_schedule_mistakes_are_one_clear_line(site: Site, places: dict[str, str]) -> None:
    before = site.profile.read_text()
    cases = [
        (["--name", "x", "--schedule", "61 * * * *"], 2, "minute: 61 is outside 0-59"),
        (["--name", "x", "--schedule", "@daily", "--retention", "30 days"], 2,
         "48h, 30d, 12w, 12m or 1y"),
        (["--name", "x", "--schedule", "@daily", "--destination", "nowhere"], 2,
         "no repository named 'nowhere'"),
        (["--name", "x", "--schedule", "@daily", "--services", "nosuch"], 2,
         "no service named 'nosuch'"),
        (["--name", "nightly", "--schedule", "@daily"], 3, "already exists"),
        (["--name", "ghost"], 2, "no schedule named 'ghost'"),
        (["--remove", "ghost"], 2, "no schedule named 'ghost'"),
        (["--schedule", "@daily"], 2, "needs the schedule's name"),
        (["--name", "x", "--schedule", "@daily", "--randomized-delay", "5m"], 2,
         "randomized_delay: '5m' is not a time span (minutes are written min)"),
    ]
    for args, code, message in cases:
        result = site.run("schedule-backup", *args, "--install", "none", check=False,
                          env=places)
        assert (result.returncode, message) == (code, message) and message in result.stderr, \
            result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 2
    assert site.profile.read_text() == before

    nowhere = {"PATH": "/usr/bin:/bin", "STRONGROOM_SYSTEMD_DIR": places[
        "STRONGROOM_SYSTEMD_DIR"]}
    if not Path("/run/systemd/system").is_dir() and not any(
            Path(folder, name).exists() for folder in ("/usr/sbin", "/usr/bin")
            for name in ("cron", "crond")):
        auto = site.run("schedule-backup", "--name", "x", "--schedule", "@daily",
                        check=False, env=nowhere)
        assert auto.returncode == 2 and re.search(r"strongroom (-p \S+ )?scheduler`",
                                                  auto.stderr)
        assert site.profile.read_text() == before


def slow_service(site: Site, seconds: int, lock_wait: str) -> None:
    site.profile.write_text(f'lock_wait = "{lock_wait}"\n' + site.profile.read_text() + f"""
[[services.web.hooks]]
type = "command"
name = "slow.txt"
dump = ["sh", "-c", "sleep {seconds}; echo done"]
""")


def start(site: Site, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "STRONGROOM_STATE_DIR": str(site.state)}
    return subprocess.Popen([*STRONGROOM, *args, "-p", str(site.profile)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_lock_holder(site: Site) -> None:
    lock = site.state / "locks" / "site.lock"
    deadline = time.monotonic() + 30
    while not (lock.exists() and lock.read_text().strip()):
        assert time.monotonic() < deadline, "the first run never took the lock"
        time.sleep(0.05)


def test_a_second_run_of_the_profile_waits_then_names_the_holder(site: Site) -> None:
    slow_service(site, 6, "1s")
    first = start(site, "create-backup", "--type", "full", "--schedule", "nightly")
    try:
        wait_for_lock_holder(site)
        second = site.run("create-backup", "--type", "config", check=False)
        assert second.returncode == 75
        assert f"in progress (PID {first.pid}); giving up after waiting 1 s" in second.stderr
        assert first.wait(timeout=120) == 0
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()
    assert len(sets_named(site, "nightly")) == 1 and sets_named(site, "config") == []


def test_a_second_run_within_lock_wait_runs_after_the_first(site: Site) -> None:
    slow_service(site, 3, "2min")
    first = start(site, "create-backup", "--type", "full", "--name", "first")
    try:
        wait_for_lock_holder(site)
        second = site.run("create-backup", "--type", "config", "--name", "second", "--json")
        assert first.wait(timeout=120) == 0
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()
    assert "waiting up to 120 s" in second.stderr
    times = {entry["set"].split("-")[0]: entry["time"]
             for entry in site.run("list-backups", "--json").json()["backups"]}
    assert times["first"] < times["second"]


def test_scheduler_catches_up_one_missed_run_and_stops_on_sigterm(site: Site) -> None:
    stamps = site.state / "scheduler" / "site"
    stamps.mkdir(parents=True)
    (stamps / "nightly.stamp").write_text("2020-01-01T00:00:00+00:00")
    caught_up = site.run("scheduler", "--max-runs", "1")
    assert "schedule nightly missed its run" in caught_up.stderr
    assert "schedule nightly: finished" in caught_up.stderr
    assert len(sets_named(site, "nightly")) == 1

    watching = start(site, "scheduler")
    try:
        deadline = time.monotonic() + 30
        assert watching.stderr is not None
        while "next run" not in watching.stderr.readline():
            assert time.monotonic() < deadline
        watching.send_signal(signal.SIGTERM)
        assert watching.wait(timeout=20) == 0
    finally:
        if watching.poll() is None:
            watching.kill()
        watching.communicate()
    assert len(sets_named(site, "nightly")) == 1  # nothing else was due
