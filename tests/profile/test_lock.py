"""The profile lock against a real second process holding it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestrator.errors import BusyError
from orchestrator.profile.lock import profile_lock

HOLD = """
import sys, time
from pathlib import Path
from orchestrator.profile.lock import profile_lock
with profile_lock(Path(sys.argv[1]), "site", 0):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def holder(state: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(state), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


def test_a_held_lock_is_refused_naming_the_holder(tmp_path: Path) -> None:
    proc = holder(tmp_path, 30)
    try:
        started = time.monotonic()
        with pytest.raises(BusyError, match=rf"in progress \(PID {proc.pid}\); giving up "
                                            r"after waiting 0.5 s") as caught:
            with profile_lock(tmp_path, "site", 0.5):
                pass
        assert caught.value.exit_code == 75
        assert 0.5 <= time.monotonic() - started < 5
    finally:
        proc.kill()
        proc.wait()


def test_a_waiting_run_gets_the_lock_when_the_holder_ends(tmp_path: Path) -> None:
    proc = holder(tmp_path, 1)
    started = time.monotonic()
    with profile_lock(tmp_path, "site", 30):
        assert time.monotonic() - started > 0.5  # it waited for the holder
        assert proc.wait(timeout=10) == 0
    with profile_lock(tmp_path, "site", 0), profile_lock(tmp_path, "other", 0):
        pass  # free again, and other profiles never wait


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    proc = holder(tmp_path, 60)
    proc.kill()
    proc.wait()
    with profile_lock(tmp_path, "site", 0):
        pass
