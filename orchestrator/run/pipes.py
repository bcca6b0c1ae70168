"""Data between processes: producer | consumer (optionally through a tap that counts and
hashes), a child's stdout to read, its stdin to write, and a child fed later."""

from __future__ import annotations

import fcntl
import os
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Protocol

from orchestrator.errors import EndedEarly
from orchestrator.run.process import (
    STDERR_WAIT,
    CommandError,
    Completed,
    Env,
    _spawn,
    _start,
    _StderrTail,
    _supervised,
    terminate_tree,
)


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
            thread.join(STDERR_WAIT)
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


def read_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """A stream's data in chunks of up to 1 MiB."""
    while True:
        chunk = stream.read(COPY_CHUNK)
        if not chunk:
            return
        yield chunk


def _copy_through(source: IO[bytes], sink: IO[bytes], tap: Tap) -> None:
    """Copy a pipe into another in 1 MiB chunks, showing each chunk to the tap."""
    src, dst = source.fileno(), sink.fileno()
    for fd in (src, dst):
        _widen_pipe(fd)
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
def reading(
    argv: Sequence[str], *, env: Env | None = None, pass_fds: Sequence[int] = ()
) -> Iterator[IO[bytes]]:
    """A child's stdout to read from. Leaving the block waits for the child and raises
    CommandError for a non-zero exit; leaving it early (or on error) terminates it."""
    proc, tail, reader = _start(argv, env, pass_fds, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE)
    assert proc.stdout is not None
    _widen_pipe(proc.stdout.fileno())
    with _supervised(proc, argv, None):
        try:
            yield proc.stdout
        except BaseException as exc:
            # An error in the body may only be the echo of a child that failed (its
            # output stopped): then the child's own error is the one to report. An
            # interrupt stays an interrupt.
            if isinstance(exc, EndedEarly):
                _settle(proc)
            if isinstance(exc, Exception) and proc.poll() not in (None, 0):
                reader.join(STDERR_WAIT)
                raise CommandError(argv, proc.returncode or 0, tail.text()) from exc
            terminate_tree(proc, grace=2.0)
            raise
        finally:
            proc.stdout.close()
        proc.wait()
        reader.join(STDERR_WAIT)
    if proc.returncode != 0:
        raise CommandError(argv, proc.returncode, tail.text())


def _settle(proc: subprocess.Popen[bytes], seconds: float = 5.0) -> None:
    """A child whose output ended early is usually exiting: give it time to say how."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def _widen_pipe(fd: int) -> None:
    """A 1 MiB pipe instead of 64 KiB: the writer keeps going while the reader is busy
    with what it has, and each read or write moves more (F_SETPIPE_SZ)."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, COPY_CHUNK)
    except OSError:
        pass  # capped lower by /proc/sys/fs/pipe-max-size: the default size still works


@contextmanager
def feeding(
    argv: Sequence[str], *, env: Env | None = None, pass_fds: Sequence[int] = ()
) -> Iterator[IO[bytes]]:
    """A child's stdin to write to. Leaving the block closes it, waits for the child and
    raises CommandError for a non-zero exit; an error inside terminates the child."""
    proc, tail, reader = _start(argv, env, pass_fds, stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL)
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
        reader.join(STDERR_WAIT)
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
                thread.join(STDERR_WAIT)
        if self.proc.returncode not in ok_codes:
            raise CommandError(self.argv, self.proc.returncode, self.tail.text())
        return self.lines

    def cancel(self) -> None:
        if self.proc.poll() is None:
            terminate_tree(self.proc, grace=5.0)
        for thread in self.threads:
            thread.join(timeout=5)
