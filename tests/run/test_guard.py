"""guard.py, watchdog.py and signals.py with tiny real processes: children in their own
group, dying with a SIGKILLed parent (and their grandchildren with them), SIGTERM and
SIGHUP as interrupts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from orchestrator.run import guard, run, terminate_tree
from orchestrator.run.process import _spawn
from orchestrator.run.signals import Terminated, interrupted
from orchestrator.run.watchdog import ENV_NAME
from tests.run.test_process import gone, py, wait_until

ROOT = str(Path(__file__).resolve().parents[1])


def parent_process(code: str) -> subprocess.Popen[str]:
    """A Python process using orchestrator.run; it prints pids, one line each."""
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": ROOT})


def pids_from(proc: subprocess.Popen[str], count: int) -> list[int]:
    assert proc.stdout is not None
    return [int(proc.stdout.readline()) for _ in range(count)]


def grandchild_of(pid: int) -> int:
    assert wait_until(lambda: bool(psutil.Process(pid).children()))
    return psutil.Process(pid).children()[0].pid


def test_a_child_runs_in_its_own_process_group_and_carries_the_token() -> None:
    proc = _spawn(py("import time; time.sleep(30)"), env=None, stdin=subprocess.DEVNULL,
                  stdout=subprocess.DEVNULL, pass_fds=(), cwd=None)
    try:
        assert os.getpgid(proc.pid) == proc.pid != os.getpgid(0)
        assert psutil.Process(proc.pid).environ()[ENV_NAME] == guard.TOKEN
    finally:
        terminate_tree(proc)
    done = run(py("import os; print(os.getpgid(0) == os.getpid(), os.getsid(0) == os.getpid())"))
    assert done.stdout.split() == ["True", "True"]


def test_a_sigkilled_parent_takes_its_child_and_grandchild_within_two_seconds() -> None:
    parent = parent_process("""
        import os, sys, threading
        from orchestrator.run import reading
        def work():
            with reading(["bash", "-c", "sleep 300 & sleep 301; wait"]) as stream:
                stream.read()
        threading.Thread(target=work, daemon=True).start()
        threading.Event().wait()
    """)
    try:
        assert wait_until(lambda: any(c.name() == "bash"
                                      for c in psutil.Process(parent.pid).children()))
        bash = next(c for c in psutil.Process(parent.pid).children() if c.name() == "bash")
        assert wait_until(lambda: len(bash.children()) == 2)
        family = [bash.pid, *(c.pid for c in bash.children())]
        parent.kill()
        started = time.monotonic()
        assert wait_until(lambda: all(gone(pid) for pid in family), seconds=2.0), family
        print(f"child and grandchildren gone {time.monotonic() - started:.2f} s after SIGKILL")
    finally:
        parent.kill()
        parent.wait()


def test_a_child_started_from_a_short_lived_thread_outlives_the_thread() -> None:
    """PDEATHSIG fires when the forking thread ends: children are forked elsewhere."""
    parent = parent_process("""
        import threading, time
        from orchestrator.run import Background
        started = []
        def work():
            started.append(Background(["sleep", "300"]))
        thread = threading.Thread(target=work)
        thread.start(); thread.join()
        print(started[0].proc.pid, flush=True)
        threading.Event().wait()
    """)
    try:
        (child,) = pids_from(parent, 1)
        time.sleep(1.0)
        assert not gone(child), "the child died with the thread that asked for it"
        parent.kill()
        assert wait_until(lambda: gone(child), seconds=2.0)
    finally:
        parent.kill()
        parent.wait()


def test_the_watchdog_ends_only_groups_carrying_its_token() -> None:
    ours = subprocess.Popen(["bash", "-c", "sleep 300 & wait"], start_new_session=True,
                            env={**os.environ, ENV_NAME: "tok"})
    theirs = subprocess.Popen(["sleep", "300"], start_new_session=True,
                              env={**os.environ, ENV_NAME: "other"})
    read_end, write_end = os.pipe()
    watchdog = subprocess.Popen(
        [sys.executable, "-I", "-S", str(Path(guard.__file__).with_name("watchdog.py")), "tok"],
        stdin=read_end)
    os.close(read_end)
    try:
        grandchild = grandchild_of(ours.pid)
        os.write(write_end, f"{ours.pid}\n{theirs.pid}\n".encode())
        time.sleep(0.3)
        assert not gone(grandchild), "the watchdog acts only once its pipe closes"
        os.close(write_end)
        assert watchdog.wait(timeout=5) == 0
        assert wait_until(lambda: ours.poll() is not None and gone(grandchild), seconds=2.0)
        assert theirs.poll() is None, "a group without the token is not ours to end"
    finally:
        for proc in (ours, theirs):
            proc.kill()
            proc.wait()


def test_terminate_tree_ends_a_grandchild_its_parent_left_behind() -> None:
    proc = _spawn(["bash", "-c", "(sleep 300 &); sleep 300"], env=None,
                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, pass_fds=(), cwd=None)
    try:
        assert wait_until(lambda: any(
            p.info["cmdline"] == ["sleep", "300"] and p.ppid() != proc.pid
            for p in psutil.process_iter(["cmdline"]) if _in_group(p.pid, proc.pid)))
        orphans = [p.pid for p in psutil.process_iter() if _in_group(p.pid, proc.pid)]
    finally:
        terminate_tree(proc, grace=2.0)
    assert all(gone(pid) for pid in orphans)


def _in_group(pid: int, group: int) -> bool:
    try:
        return os.getpgid(pid) == group
    except OSError:
        return False


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_sigterm_and_sighup_interrupt_like_ctrl_c(signum: int, code: int) -> None:
    parent = parent_process("""
        import sys, time
        from orchestrator.run.signals import install, interrupted, raising
        install()
        try:
            with raising():
                print(0, flush=True)
                time.sleep(60)
        except KeyboardInterrupt as exc:
            try:
                time.sleep(0.5)  # a second signal must not cut the cleanup short
            finally:
                message, code = interrupted(exc)
                print(message, flush=True)
                sys.exit(code)
    """)
    try:
        pids_from(parent, 1)
        parent.send_signal(signum)
        time.sleep(0.1)
        parent.send_signal(signum)
        out, _ = parent.communicate(timeout=10)
    finally:
        parent.kill()
    assert parent.returncode == code
    assert out.strip() == f"terminated by {signal.Signals(signum).name}"
    assert interrupted(KeyboardInterrupt()) == ("interrupted", 130)


def test_outside_the_guard_a_signal_says_so_and_exits() -> None:
    parent = parent_process("""
        import time
        from orchestrator.run.signals import install
        install()
        print(0, flush=True)
        time.sleep(60)
    """)
    try:
        pids_from(parent, 1)
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=10)
    finally:
        parent.kill()
    assert parent.returncode == 143
    assert interrupted(Terminated(signal.SIGTERM)) == ("terminated by SIGTERM", 143)


def test_a_dead_watchdog_is_replaced_and_never_breaks_a_child() -> None:
    run(["true"])
    assert guard._watchdog is not None
    first = guard._watchdog[2]
    first.kill()
    first.wait()
    assert run(py("print('still starts')")).stdout == "still starts\n"
    assert guard._watchdog[2].pid != first.pid and guard._watchdog[2].poll() is None
