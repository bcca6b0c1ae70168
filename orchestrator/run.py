"""The one place that starts processes: argv lists only, typed errors, redacted logging.

Every child runs in its own process group so that Ctrl-C, a timeout or a failing
pipeline partner ends the whole tree below it, not just the direct child.
"""

from __future__ import annotations

import collections
import fcntl
import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from orchestrator.errors import StrongroomError

log = logging.getLogger("strongroom.run")

STDERR_TAIL_LINES = 20

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

# Flags whose next argv item is a secret, and KEY=VALUE keys that hold one.
SECRET_FLAGS = frozenset({"--password", "--passphrase", "--token", "--secret"})
SECRET_KEY = re.compile(r"(pass(word|phrase)?|secret|token|(^|_)key)$", re.IGNORECASE)
URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/@:\s]*):\S*@")


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


def redact_argv(argv: Sequence[str]) -> list[str]:
    """A copy of argv that is safe to log: secrets after flags, in KEY=VALUE and in URLs."""
    shown: list[str] = []
    hide_next = False
    for item in argv:
        if hide_next:
            shown.append("***")
            hide_next = False
            continue
        if item in SECRET_FLAGS:
            shown.append(item)
            hide_next = True
            continue
        key, sep, _value = item.partition("=")
        if sep and SECRET_KEY.search(key.lstrip("-").replace("-", "_")):
            shown.append(f"{key}=***")
            continue
        shown.append(URL_CREDENTIALS.sub(r"\g<scheme>\g<user>:***@", item))
    return shown


def format_argv(argv: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(part) for part in redact_argv(argv))


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

    The child itself is reaped through Popen so that its returncode stays truthful
    (a killed child must not look like one that exited 0).
    """
    import psutil

    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
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


@dataclass
class _StderrTail:
    lines: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=STDERR_TAIL_LINES)
    )
    everything: list[str] = field(default_factory=list)

    def drain(self, stream: object) -> None:
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            text = raw.decode("utf-8", "replace").rstrip("\n")
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
        return subprocess.Popen(
            argv,
            stdin=stdin,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=child_env(env),
            pass_fds=tuple(pass_fds),
            cwd=cwd,
            start_new_session=True,
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
) -> Completed:
    """Run argv to completion. With `on_line`, stdout lines are handed over as they come.

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
        tail = _StderrTail()
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
        reader.join()
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


@dataclass
class PipelineResult:
    producer: Completed
    consumer: Completed


def pipeline(
    producer: Sequence[str],
    consumer: Sequence[str],
    *,
    producer_env: Env | None = None,
    consumer_env: Env | None = None,
    consumer_pass_fds: Sequence[int] = (),
    producer_pass_fds: Sequence[int] = (),
    on_line: Callable[[str], None] | None = None,
    timeout: float | None = None,
    consumer_ok_codes: Sequence[int] = (0,),
    check: bool = True,
    tap: Tap | None = None,
) -> PipelineResult:
    """producer | consumer; both exit codes are checked.

    Without a tap the data flows through one OS pipe and never passes through
    Python. With a tap a thread copies it between two pipes in large chunks, handing
    every chunk to the tap (byte count and digest). If the producer fails, a
    CommandError for the producer is raised even when the consumer succeeded (restic
    saves a snapshot of whatever it read). With check=False nothing is raised for exit
    codes: the caller inspects both and can discard what the consumer saved.
    """
    if tap is None:
        read_end, write_end = os.pipe()
        prod_out, cons_in = write_end, read_end
    else:
        prod_out = cons_in = subprocess.PIPE
    try:
        prod = _spawn(
            producer, env=producer_env, stdin=subprocess.DEVNULL, stdout=prod_out,
            pass_fds=producer_pass_fds, cwd=None,
        )
        try:
            cons = _spawn(
                consumer, env=consumer_env, stdin=cons_in, stdout=subprocess.PIPE,
                pass_fds=consumer_pass_fds, cwd=None,
            )
        except BaseException:
            terminate_tree(prod)
            raise
    finally:
        if tap is None:
            os.close(read_end)
            os.close(write_end)
    prod_tail, cons_tail = _StderrTail(), _StderrTail()
    threads = [
        threading.Thread(target=prod_tail.drain, args=(prod.stderr,), daemon=True),
        threading.Thread(target=cons_tail.drain, args=(cons.stderr,), daemon=True),
    ]
    if tap is not None:
        assert prod.stdout is not None and cons.stdin is not None
        threads.append(threading.Thread(
            target=_copy_through, args=(prod.stdout, cons.stdin, tap), daemon=True))
    for thread in threads:
        thread.start()
    out_lines: list[str] = []
    with _supervised(prod, producer, timeout), _supervised(cons, consumer, timeout):
        assert cons.stdout is not None
        for raw in iter(cons.stdout.readline, b""):
            text = raw.decode("utf-8", "replace")
            if on_line is not None:
                on_line(text.rstrip("\n"))
            else:
                out_lines.append(text)
        cons.wait()
        if prod.poll() is None and cons.returncode != 0:
            # The consumer failed; a producer still writing would block forever.
            terminate_tree(prod, grace=2.0)
        prod.wait()
        for thread in threads:
            thread.join()
    result = PipelineResult(
        Completed(list(producer), prod.returncode, "", "\n".join(prod_tail.everything)),
        Completed(list(consumer), cons.returncode, "".join(out_lines),
                  "\n".join(cons_tail.everything)),
    )
    if not check:
        return result
    if prod.returncode != 0:
        raise CommandError(producer, prod.returncode, prod_tail.text())
    if cons.returncode not in consumer_ok_codes:
        raise CommandError(consumer, cons.returncode, cons_tail.text())
    return result


class Tap(Protocol):
    def update(self, data: memoryview) -> None: ...


COPY_CHUNK = 1 << 20


def _copy_through(source: IO[bytes], sink: IO[bytes], tap: Tap) -> None:
    """Copy a pipe into another in 1 MiB chunks, showing each chunk to the tap."""
    src, dst = source.fileno(), sink.fileno()
    for fd in (src, dst):
        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, COPY_CHUNK)
        except OSError:
            pass  # a smaller pipe only costs more system calls
    buffer = bytearray(COPY_CHUNK)
    view = memoryview(buffer)
    try:
        while True:
            count = os.readv(src, [buffer])
            if count == 0:
                break
            chunk = view[:count]
            tap.update(chunk)
            while chunk:
                chunk = chunk[os.write(dst, chunk):]
    except BrokenPipeError:
        pass  # the consumer died; the caller sees its exit code
    finally:
        sink.close()
        source.close()


@contextmanager
def secret_fd(secret: bytes) -> Iterator[int]:
    """A pipe's read end holding `secret`, to hand to a child as /dev/fd/N.

    The secret never touches argv, the environment or the disk. It must fit the pipe
    buffer (64 KiB on Linux), which any password does.
    """
    if len(secret) > 60_000:
        raise StrongroomError("secret is too large to pass through a pipe")
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, secret)
    finally:
        os.close(write_end)
    try:
        yield read_end
    finally:
        os.close(read_end)


@contextmanager
def reading(
    argv: Sequence[str], *, env: Env | None = None, pass_fds: Sequence[int] = ()
) -> Iterator[IO[bytes]]:
    """A child's stdout to read from. Leaving the block waits for the child and raises
    CommandError for a non-zero exit; leaving it early (or on error) terminates it."""
    proc = _spawn(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                  pass_fds=pass_fds, cwd=None)
    tail = _StderrTail()
    reader = threading.Thread(target=tail.drain, args=(proc.stderr,), daemon=True)
    reader.start()
    assert proc.stdout is not None
    with _supervised(proc, argv, None):
        try:
            yield proc.stdout
        except BaseException:
            terminate_tree(proc, grace=2.0)
            raise
        finally:
            proc.stdout.close()
        proc.wait()
        reader.join()
    if proc.returncode != 0:
        raise CommandError(argv, proc.returncode, tail.text())


@contextmanager
def feeding(
    argv: Sequence[str], *, env: Env | None = None, pass_fds: Sequence[int] = ()
) -> Iterator[IO[bytes]]:
    """A child's stdin to write to. Leaving the block closes it, waits for the child and
    raises CommandError for a non-zero exit; an error inside terminates the child."""
    proc = _spawn(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                  pass_fds=pass_fds, cwd=None)
    tail = _StderrTail()
    reader = threading.Thread(target=tail.drain, args=(proc.stderr,), daemon=True)
    reader.start()
    assert proc.stdin is not None
    with _supervised(proc, argv, None):
        try:
            yield proc.stdin
            proc.stdin.close()
        except BrokenPipeError:
            pass  # the child stopped reading; its exit code tells why
        except BaseException:
            terminate_tree(proc, grace=2.0)
            raise
        proc.wait()
        reader.join()
    if proc.returncode != 0:
        raise CommandError(argv, proc.returncode, tail.text())


class Background:
    """A child started now and fed later: its stdin is written in one go by finish().

    Used to let restic open a repository (key derivation, index) while other work runs.
    A thread collects stdout lines so the child never blocks on a full pipe.
    """

    def __init__(self, argv: Sequence[str], *, env: Env | None = None,
                 pass_fds: Sequence[int] = ()) -> None:
        self.argv = list(argv)
        self.proc = _spawn(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           pass_fds=pass_fds, cwd=None)
        self.tail = _StderrTail()
        self.lines: list[str] = []
        self.threads = [
            threading.Thread(target=self.tail.drain, args=(self.proc.stderr,), daemon=True),
            threading.Thread(target=self._collect, daemon=True),
        ]
        for thread in self.threads:
            thread.start()

    def _collect(self) -> None:
        assert self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def finish(self, data: bytes, ok_codes: Sequence[int] = (0,)) -> list[str]:
        """Write `data`, close stdin, wait; the stdout lines, or CommandError."""
        assert self.proc.stdin is not None
        with _supervised(self.proc, self.argv, None):
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            self.proc.wait()
            for thread in self.threads:
                thread.join()
        if self.proc.returncode not in ok_codes:
            raise CommandError(self.argv, self.proc.returncode, self.tail.text())
        return self.lines

    def cancel(self) -> None:
        if self.proc.poll() is None:
            terminate_tree(self.proc, grace=5.0)
        for thread in self.threads:
            thread.join(timeout=5)


SECRET_FD = "{secret_fd}"


@dataclass(frozen=True)
class Command:
    """An argv with its environment. `secret`, when set, reaches the child through a pipe
    as /dev/fd/N, and every `{secret_fd}` in argv is replaced by N."""

    argv: tuple[str, ...]
    env: Mapping[str, str | None] = field(default_factory=dict)
    secret: bytes | None = None


@contextmanager
def prepared(command: Command) -> Iterator[tuple[list[str], Env, tuple[int, ...]]]:
    """argv, environment and inherited fds of a Command, its secret pipe open meanwhile."""
    if command.secret is None:
        yield list(command.argv), command.env, ()
        return
    with secret_fd(command.secret) as fd:
        argv = [item.replace(SECRET_FD, str(fd)) for item in command.argv]
        yield argv, command.env, (fd,)


def run_command(command: Command, **options: Any) -> Completed:
    """run() for a Command; options are run()'s keyword arguments."""
    with prepared(command) as (argv, env, fds):
        return run(argv, env=env, pass_fds=fds, **options)
