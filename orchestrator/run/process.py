"""Starting one process: argv lists only, typed errors, redacted logging, whole-tree stops.

Every child runs in its own process group so that Ctrl-C, a timeout or a failing
pipeline partner ends the whole tree below it, not just the direct child; and every
child dies with strongroom, even a SIGKILLed one (guard.py).
"""

from __future__ import annotations

import collections
import logging
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from orchestrator.errors import StrongroomError
from orchestrator.run import guard
from orchestrator.run.redact import format_argv

if TYPE_CHECKING:
    import psutil

log = logging.getLogger("strongroom.run")

STDERR_TAIL_LINES = 20
# Seconds to finish reading a child's output pipes after it has exited: a grandchild
# that inherited them may hold them open for as long as it runs.
STDERR_WAIT = 10.0

INSTALL_HINTS: dict[str, str] = {
    "restic": "apt-get install restic",
    "borg": "apt-get install borgbackup",
    "pg_dump": "apt-get install postgresql-client",
    "pg_dumpall": "apt-get install postgresql-client",
    "pg_restore": "apt-get install postgresql-client",
    "psql": "apt-get install postgresql-client",
    "mysqldump": "apt-get install mariadb-client",
    "mariadb-dump": "apt-get install mariadb-client",
    "mysql": "apt-get install mariadb-client",
    "mariadb": "apt-get install mariadb-client",
    "sqlite3": "apt-get install sqlite3",
    "qemu-img": "apt-get install qemu-utils",
    "qemu-nbd": "apt-get install qemu-utils",
    "nbdcopy": "apt-get install libnbd-bin",
    "podman": "apt-get install podman",
    "rclone": "apt-get install rclone",
    "ssh": "apt-get install openssh-client",
}


class CommandError(StrongroomError):
    """A process exited with a code the caller did not allow."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr_tail: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        program = os.path.basename(argv[0]) if argv else "?"
        detail = f": {stderr_tail.strip()}" if stderr_tail.strip() else ""
        super().__init__(f"{program} failed with exit code {returncode}{detail}")


class MissingBinaryError(StrongroomError):
    def __init__(self, program: str) -> None:
        self.program = program
        hint = INSTALL_HINTS.get(os.path.basename(program))
        super().__init__(
            f"{program} is not installed or not on PATH",
            hint=f"install it with: {hint}" if hint else None,
        )


class CommandTimeout(StrongroomError):
    def __init__(self, argv: Sequence[str], seconds: float) -> None:
        self.argv = list(argv)
        super().__init__(f"{os.path.basename(argv[0])} did not finish within {seconds:g} s")


@dataclass
class Completed:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    stdout_bytes: bytes = b""


def which(program: str) -> str:
    """The absolute path of a program, or MissingBinaryError naming it."""
    found = program if os.sep in program and os.access(program, os.X_OK) else shutil.which(program)
    if not found:
        raise MissingBinaryError(program)
    return found


Env = Mapping[str, str | None]


def child_env(extra: Env | None) -> dict[str, str]:
    """The parent's environment with `extra` applied; a None value removes the variable."""
    env = dict(os.environ)
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def terminate_tree(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Terminate a child and every process below it; kill what is left after `grace`.

    Below it means its descendants and its process group (which also holds the
    grandchildren whose parent has exited already). The child itself is reaped through
    Popen so that its returncode stays truthful (a killed child must not look like one
    that exited 0).
    """
    import psutil

    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    descendants += [member for member in _group(proc.pid) if member not in descendants]
    if proc.poll() is None:
        proc.terminate()
    for member in descendants:
        try:
            member.terminate()
        except psutil.NoSuchProcess:
            pass
    _gone, alive = psutil.wait_procs(descendants, timeout=grace)
    for member in alive:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def end_children(grace: float = 3.0) -> None:
    """Terminate the process group of every child still running, from any thread; kill
    what is left after `grace`. For an interrupt: the threads that own the children see
    them fail and unwind (a ThreadPoolExecutor is joined at exit)."""
    import time

    children = guard.running()
    for proc in children:
        _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while children and time.monotonic() < deadline:
        time.sleep(0.05)
        children = [proc for proc in children if proc.poll() is None]
    for proc in children:
        _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except OSError:
        pass


def _group(pgid: int) -> list[psutil.Process]:
    """The live processes of a process group other than its leader."""
    import psutil

    found: list[psutil.Process] = []
    for member in psutil.process_iter():
        try:
            if member.pid != pgid and os.getpgid(member.pid) == pgid:
                found.append(member)
        except (OSError, psutil.Error):
            continue
    return found


@dataclass
class _StderrTail:
    lines: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=STDERR_TAIL_LINES)
    )
    everything: list[str] = field(default_factory=list)
    on_line: Callable[[str], None] | None = None

    def drain(self, stream: object) -> None:
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            text = raw.decode("utf-8", "replace").rstrip("\n")
            if self.on_line is not None:
                self.on_line(text)
            self.lines.append(text)
            if len(self.everything) < 10_000:
                self.everything.append(text)

    def text(self) -> str:
        return "\n".join(self.lines)


def _spawn(
    argv: Sequence[str],
    *,
    env: Env | None,
    stdin: int | None,
    stdout: int | None,
    pass_fds: Sequence[int],
    cwd: str | None,
) -> subprocess.Popen[bytes]:
    argv = [which(argv[0]), *argv[1:]]
    log.info("run: %s", format_argv(argv))
    try:
        return guard.popen(
            argv,
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=guard.guard_env(child_env(env)),
            pass_fds=tuple(pass_fds),
            cwd=cwd,
        )
    except FileNotFoundError as exc:
        raise MissingBinaryError(argv[0]) from exc


def run(
    argv: Sequence[str],
    *,
    env: Env | None = None,
    input_bytes: bytes | None = None,
    ok_codes: Sequence[int] = (0,),
    timeout: float | None = None,
    pass_fds: Sequence[int] = (),
    on_line: Callable[[str], None] | None = None,
    cwd: str | None = None,
    on_stderr_line: Callable[[str], None] | None = None,
) -> Completed:
    """Run argv to completion. With `on_line`, stdout lines are handed over as they come;
    with `on_stderr_line`, stderr lines (borg's progress and warnings) too.

    Raises CommandError for an exit code outside `ok_codes`, CommandTimeout, or
    MissingBinaryError; on KeyboardInterrupt the child tree is terminated first.
    """
    proc = _spawn(
        argv,
        env=env,
        stdin=subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        pass_fds=pass_fds,
        cwd=cwd,
    )
    with _supervised(proc, argv, timeout):
        tail = _StderrTail(on_line=on_stderr_line)
        reader = threading.Thread(target=tail.drain, args=(proc.stderr,), daemon=True)
        reader.start()
        if input_bytes is not None:
            assert proc.stdin is not None
            writer = threading.Thread(target=_feed, args=(proc.stdin, input_bytes), daemon=True)
            writer.start()
        chunks: list[bytes] = []
        assert proc.stdout is not None
        if on_line is not None:
            for raw in iter(proc.stdout.readline, b""):
                on_line(raw.decode("utf-8", "replace").rstrip("\n"))
        else:
            chunks.append(proc.stdout.read())
        proc.wait()
        reader.join(STDERR_WAIT)
    data = b"".join(chunks)
    completed = Completed(
        list(argv), proc.returncode, data.decode("utf-8", "replace"),
        "\n".join(tail.everything), data,
    )
    if proc.returncode not in ok_codes:
        raise CommandError(argv, proc.returncode, tail.text())
    return completed


def _feed(pipe: object, data: bytes) -> None:
    try:
        pipe.write(data)  # type: ignore[attr-defined]
        pipe.close()  # type: ignore[attr-defined]
    except BrokenPipeError:
        pass


@contextmanager
def _supervised(
    proc: subprocess.Popen[bytes], argv: Sequence[str], timeout: float | None
) -> Iterator[None]:
    """Terminate the child tree on Ctrl-C, on any error, and when `timeout` runs out."""
    timer: threading.Timer | None = None
    timed_out = threading.Event()
    if timeout is not None:

        def expire() -> None:
            timed_out.set()
            terminate_tree(proc, grace=2.0)

        timer = threading.Timer(timeout, expire)
        timer.daemon = True
        timer.start()
    try:
        yield
    except BaseException:
        if proc.poll() is None:
            terminate_tree(proc)
        raise
    finally:
        if timer is not None:
            timer.cancel()
    if timed_out.is_set():
        raise CommandTimeout(argv, timeout or 0)


def _start(
    argv: Sequence[str], env: Env | None, pass_fds: Sequence[int], *, stdin: int, stdout: int
) -> tuple[subprocess.Popen[bytes], _StderrTail, threading.Thread]:
    """A child with a thread keeping the tail of its stderr."""
    proc = _spawn(argv, env=env, stdin=stdin, stdout=stdout, pass_fds=pass_fds, cwd=None)
    tail = _StderrTail()
    reader = threading.Thread(target=tail.drain, args=(proc.stderr,), daemon=True)
    reader.start()
    return proc, tail, reader
