"""strongroom killed (SIGKILL) or stopped (SIGTERM) at random points of a backup with a
dump, an export and a restore: nothing it started survives it by more than 2 s, no set
is called complete that is not, no partial export sits under the final name, and the
next run succeeds. FAULT_SEED=N repeats a sequence (the seed is printed); FAULT_RUNS=N
changes the number of runs (21)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import psutil
import pytest

from integration.conftest import STRONGROOM, Site

RUNS = int(os.environ.get("FAULT_RUNS", "21"))
SURVIVAL = 2.0
DUMP = "for i in $(seq 30); do head -c 50000 /dev/urandom; sleep 0.1; done | cat"


@dataclass
class Outcome:
    returncode: int
    stderr: str
    seconds: float


def start(site: Site, mark: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*STRONGROOM, *args, "-p", str(site.profile)], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, cwd=site.root,
        env={**os.environ, "STRONGROOM_STATE_DIR": str(site.state), "FAULT_MARK": mark})


def marked(mark: str) -> list[str]:
    """Every live process of one run (the mark is inherited through the environment)."""
    found = []
    for proc in psutil.process_iter(["name", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and \
                    proc.environ().get("FAULT_MARK") == mark:
                found.append(f"{proc.pid} {proc.info['name']}")
        except psutil.Error:
            continue
    return found


def interrupt(site: Site, args: tuple[str, ...], signum: int, delay: float) -> Outcome:
    """Run a command, send it `signum` after `delay` s, and check nothing of it survives."""
    mark = uuid.uuid4().hex
    proc = start(site, mark, *args)
    time.sleep(delay)
    proc.send_signal(signum)
    try:
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    exited = time.monotonic()
    while marked(mark) and time.monotonic() - exited < SURVIVAL:
        time.sleep(0.05)
    survivors = marked(mark)
    assert not survivors, f"{args[0]} after {signal.Signals(signum).name}: {survivors}"
    assert "Traceback" not in stderr, stderr
    if signum == signal.SIGTERM:
        # Before the handler is installed (interpreter start) SIGTERM still ends it.
        assert proc.returncode in (143, 0, -signal.SIGTERM), stderr
        if proc.returncode == 143:
            assert stderr.strip().endswith("strongroom: error: terminated by SIGTERM"), stderr
    return Outcome(proc.returncode, stderr, time.monotonic() - exited)


def timed(run: Callable[[], object]) -> float:
    began = time.monotonic()
    run()
    return time.monotonic() - began


@pytest.mark.slow
def test_killed_and_terminated_runs_leave_nothing_behind(make_site: Callable[..., Site]) -> None:
    seed = int(os.environ.get("FAULT_SEED", str(random.SystemRandom().randrange(2**32))))
    print(f"FAULT_SEED={seed}")
    rng = random.Random(seed)
    site = make_site()
    site.profile.write_text(site.profile.read_text() + f"""
[[services.web.hooks]]
type = "command"
name = "stream.bin"
shell = true
dump = "{DUMP}"
restore = "cat > {site.root}/restored-stream.bin"
""")
    made: set[str] = set()

    def backup() -> None:
        made.add(site.run("create-backup", "--type", "full", "--no-verify",
                          "--json").json()["set"])

    first = timed(backup)
    good = sorted(made)[0]
    export = site.root / "export.zip"
    target = site.root / "restored"
    commands = {
        "create-backup": ("create-backup", "--type", "full", "--no-verify"),
        "download-backup": ("download-backup", "--backup", good, "-o", str(export), "--force"),
        "restore-backup": ("restore-backup", "--backup", good, "--target", str(target),
                           "--force"),
    }
    again = {
        "create-backup": backup,
        "download-backup": lambda: site.run(*commands["download-backup"]),
        "restore-backup": lambda: site.run(*commands["restore-backup"]),
    }
    durations = {"create-backup": first,
                 "download-backup": timed(again["download-backup"]),
                 "restore-backup": timed(again["restore-backup"])}
    print({name: round(seconds, 1) for name, seconds in durations.items()})
    expected_zip = sorted(zipfile.ZipFile(export).namelist())
    expected_stream = (site.root / "restored-stream.bin").read_bytes()
    tally: dict[str, int] = {}

    for index in range(RUNS):
        name = list(commands)[index % len(commands)]
        signum = rng.choice([signal.SIGKILL, signal.SIGTERM])
        delay = rng.uniform(0.1, durations[name] * 0.9)
        export.unlink(missing_ok=True)
        outcome = interrupt(site, commands[name], signum, delay)
        key = f"{name} {signal.Signals(signum).name} exit {outcome.returncode}"
        tally[key] = tally.get(key, 0) + 1

        if name == "create-backup":  # a set called complete by a killed run must verify
            listed = site.run("list-backups", "--all", "--json").json()["backups"]
            for item in listed:
                if item["status"] == "complete" and item["set"] not in made:
                    site.run("verify-backup", "--backup", item["set"])
                    made.add(item["set"])
        if name == "download-backup" and export.exists():
            with zipfile.ZipFile(export) as archive:  # a whole archive, or nothing
                assert sorted(archive.namelist()) == expected_zip
                assert archive.testzip() is None

        again[name]()  # the next run succeeds
        if name == "download-backup":
            assert sorted(zipfile.ZipFile(export).namelist()) == expected_zip
        if name == "restore-backup":
            assert (site.root / "restored-stream.bin").read_bytes() == expected_stream
    print(dict(sorted(tally.items())))
    assert len(made) >= RUNS // 3 + 1


def test_a_shell_pipeline_whose_first_stage_fails_fails_the_set(
    make_site: Callable[..., Site],
) -> None:
    """pipefail: `dump | cat` exits with the dump's failure, not cat's success."""
    site = make_site()
    site.profile.write_text(site.profile.read_text() + """
[[services.web.hooks]]
type = "command"
name = "cut.bin"
shell = true
dump = "(head -c 200000 /dev/urandom; echo 'dump broke' >&2; exit 3) | cat"
""")
    failed = site.run("create-backup", "--type", "full", check=False)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert "exit code 3" in failed.stderr and "dump broke" in failed.stderr, failed.stderr
    listed = site.run("list-backups", "--all", "--json").json()["backups"]
    assert [item["status"] for item in listed] == ["incomplete"]
    assert site.run("list-backups", "--json").json()["backups"] == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_the_mcp_server_ends_a_tools_children(make_site: Callable[..., Site],
                                              signum: int) -> None:
    """A tool call runs in a worker thread of `strongroom mcp`: its dump, restic and their
    pipeline stages end with the server, and the set shows as incomplete."""
    import json

    site = make_site()
    site.profile.write_text(site.profile.read_text() + """
[[services.web.hooks]]
type = "command"
name = "slow.bin"
shell = true
dump = "head -c 1000 /dev/urandom; sleep 60 | cat"
""")
    mark = uuid.uuid4().hex
    server = subprocess.Popen(
        [*STRONGROOM, "mcp", "-p", str(site.profile)], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=site.root,
        env={**os.environ, "STRONGROOM_STATE_DIR": str(site.state), "FAULT_MARK": mark})
    assert server.stdin is not None and server.stdout is not None
    try:
        for message in (
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "faults", "version": "1"}}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "create-backup", "arguments": {"type": "full"}}},
        ):
            server.stdin.write((json.dumps(message) + "\n").encode())
            server.stdin.flush()
        assert b'"id":1' in server.stdout.readline()
        deadline = time.monotonic() + 30
        while not any(name.endswith(" sleep") for name in marked(mark)):
            assert time.monotonic() < deadline, "the dump never started"
            time.sleep(0.1)
        server.send_signal(signum)
        server.wait(timeout=15)
        exited = time.monotonic()
        while marked(mark) and time.monotonic() - exited < SURVIVAL:
            time.sleep(0.05)
        assert not marked(mark)
    finally:
        server.kill()
        server.wait()
    assert server.stderr is not None
    stderr = server.stderr.read().decode()
    if signum == signal.SIGTERM:
        assert server.returncode == 143, stderr
        assert stderr.strip().endswith("strongroom: error: terminated by SIGTERM"), stderr
    listed = site.run("list-backups", "--all", "--json").json()["backups"]
    assert [item["status"] for item in listed] == ["incomplete"]
