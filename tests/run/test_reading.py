"""run.reading: a child's stdout as a stream, and which error wins when it ends early."""

from __future__ import annotations

import fcntl
import time

import psutil
import pytest

from orchestrator.errors import EndedEarly
from orchestrator.run import COPY_CHUNK, CommandError, reading
from tests.run.test_process import gone, py, wait_until


def test_reading_hands_over_the_output_through_a_wide_pipe() -> None:
    with reading(py("import sys; sys.stdout.buffer.write(b'x' * 300000)")) as stream:
        assert fcntl.fcntl(stream.fileno(), fcntl.F_GETPIPE_SZ) == COPY_CHUNK
        assert stream.read() == b"x" * 300000


def test_reading_raises_the_childs_failure_after_a_clean_read() -> None:
    with pytest.raises(CommandError) as caught, \
            reading(py("import sys; print('no such snapshot', file=sys.stderr); sys.exit(3)")
                    ) as stream:
        assert stream.read() == b""
    assert caught.value.returncode == 3
    assert "no such snapshot" in caught.value.render()


def test_a_short_stream_from_a_failed_child_reports_the_child() -> None:
    """The reader notices the stream ended early; the child's own error is the cause."""
    child = py("""
        import os, sys, time
        os.write(1, b'half')
        print('wrong password', file=sys.stderr); sys.stderr.flush()
        os.close(1)  # the reader sees the end while this process is still running
        time.sleep(0.5); sys.exit(12)
    """)
    with pytest.raises(CommandError) as caught, reading(child) as stream:
        assert stream.read() == b"half"
        raise EndedEarly("the stream ended before its end marker")
    assert caught.value.returncode == 12
    assert "wrong password" in caught.value.render()


def test_a_short_stream_from_a_child_that_succeeded_stays_a_short_stream() -> None:
    with pytest.raises(EndedEarly), reading(py("print('half')")) as stream:
        stream.read()
        raise EndedEarly("the stream ended before its end marker")


def test_an_error_while_reading_stops_a_child_that_is_still_writing() -> None:
    endless = py("""
        import sys
        while True:
            sys.stdout.buffer.write(b'x' * 65536)
    """)
    before = {child.pid for child in psutil.Process().children()}
    with pytest.raises(ValueError), reading(endless) as stream:
        stream.read(10)
        started = [child.pid for child in psutil.Process().children()
                   if child.pid not in before  # the watchdog may start with this child
                   and not any(arg.endswith("watchdog.py") for arg in child.cmdline())]
        raise ValueError("the consumer gave up")
    assert len(started) == 1
    assert wait_until(lambda: gone(started[0]))


def test_an_interrupt_stays_an_interrupt_even_when_the_child_failed() -> None:
    child = py("import sys; print('boom', file=sys.stderr); sys.exit(4)")
    with pytest.raises(KeyboardInterrupt), reading(child) as stream:
        stream.read()
        time.sleep(0.3)  # the child has exited with 4 by now
        raise KeyboardInterrupt


def test_a_grandchild_holding_stderr_does_not_hang_the_reader(monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    import orchestrator.run.pipes as pipes

    monkeypatch.setattr(pipes, "STDERR_WAIT", 0.5)
    child = py("""
        import subprocess, sys
        held = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(20)'],
                                stdout=subprocess.DEVNULL)
        print(held.pid, flush=True)
    """)
    started = time.monotonic()
    with reading(child) as stream:
        grandchild = psutil.Process(int(stream.read()))
    try:
        assert time.monotonic() - started < 5
        assert grandchild.is_running()  # it still holds stderr: the wait was cut short
    finally:
        grandchild.kill()
        grandchild.wait(5)
