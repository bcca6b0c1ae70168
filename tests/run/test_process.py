"""run.py with tiny real child processes (the Python interpreter running this test)."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from orchestrator.errors import StrongroomError
from orchestrator.run import (
    STDERR_TAIL_LINES,
    CommandError,
    CommandTimeout,
    MissingBinaryError,
    child_env,
    format_argv,
    pipeline,
    redact_argv,
    run,
    secret_fd,
    which,
)

PY = sys.executable


def py(code: str) -> list[str]:
    """argv running a small Python program (dedented) in a fresh interpreter."""
    return [PY, "-c", textwrap.dedent(code)]


def gone(pid: int) -> bool:
    """True when the process no longer runs (a zombie nobody reaped counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(predicate, seconds: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


# --- run() -----------------------------------------------------------------------------


def test_run_returns_stdout_text_and_bytes() -> None:
    done = run(py("import sys; sys.stdout.write('hello\\nworld\\n')"))
    assert done.returncode == 0
    assert done.stdout == "hello\nworld\n"
    assert done.stdout_bytes == b"hello\nworld\n"
    assert done.argv[0] == PY


def test_run_keeps_binary_stdout_exact() -> None:
    payload = bytes(range(256))
    done = run(py("import sys; sys.stdout.buffer.write(bytes(range(256)))"))
    assert done.stdout_bytes == payload
    # The text view replaces undecodable bytes instead of failing.
    assert "\ufffd" in done.stdout


def test_run_collects_stderr_on_success() -> None:
    done = run(py("import sys; print('out'); print('note 1', file=sys.stderr); "
                  "print('note 2', file=sys.stderr)"))
    assert done.stdout == "out\n"
    assert done.stderr.splitlines() == ["note 1", "note 2"]


def test_run_accepts_exit_codes_in_ok_codes() -> None:
    done = run(py("import sys; print('partial'); sys.exit(3)"), ok_codes=(0, 3))
    assert done.returncode == 3
    assert done.stdout == "partial\n"


def test_run_raises_command_error_outside_ok_codes() -> None:
    with pytest.raises(CommandError) as info:
        run(py("import sys; sys.exit(3)"), ok_codes=(0, 1))
    assert info.value.returncode == 3
    assert info.value.argv[0] == PY


def test_command_error_carries_returncode_and_last_stderr_lines() -> None:
    code = """
        import sys
        for i in range(50):
            print(f"line {i}", file=sys.stderr)
        sys.exit(2)
    """
    with pytest.raises(CommandError) as info:
        run(py(code))
    err = info.value
    assert isinstance(err, StrongroomError)
    assert err.returncode == 2
    tail = err.stderr_tail.splitlines()
    assert tail == [f"line {i}" for i in range(50 - STDERR_TAIL_LINES, 50)]
    assert "line 0" not in tail
    assert "exit code 2" in str(err)
    assert "line 49" in str(err)
    assert os.path.basename(PY) in str(err)


def test_command_error_without_stderr_has_plain_message() -> None:
    with pytest.raises(CommandError) as info:
        run(py("import sys; sys.exit(5)"))
    assert str(info.value) == f"{os.path.basename(PY)} failed with exit code 5"


def test_missing_program_by_bare_name_is_named() -> None:
    bogus = "strongroom-no-such-program-4711"
    with pytest.raises(MissingBinaryError) as info:
        which(bogus)
    assert info.value.program == bogus
    assert bogus in str(info.value)
    assert info.value.hint is None


def test_missing_program_run_raises_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(MissingBinaryError) as info:
        run(["strongroom-no-such-program-4711", "--help"])
    assert "strongroom-no-such-program-4711" in info.value.render()


def test_missing_known_program_gives_install_hint(tmp_path: Path) -> None:
    program = str(tmp_path / "not-here" / "restic")
    with pytest.raises(MissingBinaryError) as info:
        run([program, "version"])
    err = info.value
    assert err.program == program
    assert program in str(err)
    assert err.hint == "install it with: apt-get install restic"
    assert "apt-get install restic" in err.render()


def test_missing_known_program_hint_differs_per_program(tmp_path: Path) -> None:
    with pytest.raises(MissingBinaryError) as info:
        which(str(tmp_path / "pg_dump"))
    assert info.value.hint == "install it with: apt-get install postgresql-client"


def test_non_executable_file_counts_as_missing(tmp_path: Path) -> None:
    program = tmp_path / "borg"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o644)
    with pytest.raises(MissingBinaryError) as info:
        which(str(program))
    assert info.value.hint == "install it with: apt-get install borgbackup"


def test_which_finds_a_real_program() -> None:
    assert which(PY) == PY
    found = which("cat")
    assert os.path.isabs(found)
    assert os.path.basename(found) == "cat"


def test_on_line_receives_lines_as_they_come(tmp_path: Path) -> None:
    """The child prints a second line only once the parent has seen the first one."""
    ack = tmp_path / "ack"
    code = f"""
        import os, sys, time
        print("first", flush=True)
        deadline = time.monotonic() + 10
        while not os.path.exists({str(ack)!r}) and time.monotonic() < deadline:
            time.sleep(0.02)
        print("second-after-ack" if os.path.exists({str(ack)!r}) else "second-too-late")
    """
    seen: list[str] = []

    def on_line(line: str) -> None:
        seen.append(line)
        ack.touch()

    done = run(py(code), on_line=on_line)
    assert seen == ["first", "second-after-ack"]
    assert done.returncode == 0


def test_input_bytes_reach_the_child() -> None:
    data = os.urandom(1 << 20)  # bigger than a pipe buffer: must not deadlock
    code = """
        import hashlib, sys
        data = sys.stdin.buffer.read()
        print(len(data), hashlib.sha256(data).hexdigest())
    """
    import hashlib

    done = run(py(code), input_bytes=data, timeout=60)
    assert done.stdout.split() == [str(len(data)), hashlib.sha256(data).hexdigest()]


def test_without_input_stdin_is_empty() -> None:
    done = run(py("import sys; print(repr(sys.stdin.read()))"), timeout=30)
    assert done.stdout.strip() == "''"


def test_env_none_removes_a_variable_and_strings_set_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SR_TEST_INHERITED", "inherited")
    monkeypatch.setenv("SR_TEST_KEPT", "kept")
    code = """
        import os
        for name in ("SR_TEST_INHERITED", "SR_TEST_KEPT", "SR_TEST_NEW"):
            print(name, os.environ.get(name, "<unset>"))
    """
    done = run(py(code), env={"SR_TEST_INHERITED": None, "SR_TEST_NEW": "new"})
    assert done.stdout.splitlines() == [
        "SR_TEST_INHERITED <unset>",
        "SR_TEST_KEPT kept",
        "SR_TEST_NEW new",
    ]


def test_child_env_applies_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SR_TEST_A", "a")
    env = child_env({"SR_TEST_A": None, "SR_TEST_B": "b", "SR_TEST_ABSENT": None})
    assert "SR_TEST_A" not in env
    assert env["SR_TEST_B"] == "b"
    assert "SR_TEST_ABSENT" not in env
    assert env["PATH"] == os.environ["PATH"]
    assert os.environ["SR_TEST_A"] == "a"  # the parent's environment is untouched
    assert child_env(None) == dict(os.environ)


def test_cwd_is_honoured(tmp_path: Path) -> None:
    done = run(py("import os; print(os.getcwd())"), cwd=str(tmp_path))
    assert os.path.realpath(done.stdout.strip()) == os.path.realpath(tmp_path)


def test_timeout_raises_and_ends_child_and_grandchild(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    code = f"""
        import os, subprocess, sys, time
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        with open({str(pids)!r} + ".tmp", "w") as out:
            out.write(f"{{os.getpid()}} {{grandchild.pid}}")
        os.rename({str(pids)!r} + ".tmp", {str(pids)!r})
        time.sleep(120)
    """
    start = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        run(py(code), timeout=1.5)
    elapsed = time.monotonic() - start
    assert elapsed < 30
    assert "within 1.5 s" in str(info.value)
    assert info.value.argv[0] == PY
    child, grandchild = (int(part) for part in pids.read_text().split())
    assert wait_until(lambda: gone(child)), "the child survived the timeout"
    assert wait_until(lambda: gone(grandchild)), "the grandchild survived the timeout"


def test_fast_command_with_timeout_is_not_a_timeout() -> None:
    done = run(py("print('quick')"), timeout=30)
    assert done.stdout == "quick\n"


# --- pipeline() ------------------------------------------------------------------------


def test_pipeline_moves_data_from_producer_to_consumer() -> None:
    producer = py("import sys\nfor i in range(20000): sys.stdout.write(f'row {i}\\n')")
    consumer = py("""
        import hashlib, sys
        data = sys.stdin.buffer.read()
        print(len(data.splitlines()), data.splitlines()[-1].decode())
    """)
    result = pipeline(producer, consumer, timeout=60)
    assert result.producer.returncode == 0
    assert result.consumer.returncode == 0
    assert result.consumer.stdout == "20000 row 19999\n"


def test_pipeline_on_line_receives_consumer_lines() -> None:
    seen: list[str] = []
    pipeline(py("print('a'); print('b')"),
             py("import sys\nfor line in sys.stdin: print(line.strip().upper(), flush=True)"),
             on_line=seen.append, timeout=60)
    assert seen == ["A", "B"]


def test_pipeline_producer_failure_raises_even_if_consumer_succeeds() -> None:
    producer = py("import sys; print('partial', flush=True); "
                  "print('dump failed: disk on fire', file=sys.stderr); sys.exit(4)")
    consumer = ["cat"]
    with pytest.raises(CommandError) as info:
        pipeline(producer, consumer, timeout=60)
    err = info.value
    assert err.argv == producer
    assert err.returncode == 4
    assert "dump failed: disk on fire" in err.stderr_tail
    assert str(err).startswith(os.path.basename(PY))
    assert not str(err).startswith("cat")


def test_pipeline_producer_failure_wins_over_consumer_failure() -> None:
    producer = py("import sys; sys.exit(4)")
    consumer = py("import sys; sys.stdin.read(); sys.exit(6)")
    with pytest.raises(CommandError) as info:
        pipeline(producer, consumer, timeout=60)
    assert info.value.argv == producer


def test_pipeline_consumer_failure_raises() -> None:
    consumer = py("import sys; sys.stdin.read(); print('repo gone', file=sys.stderr); "
                  "sys.exit(7)")
    with pytest.raises(CommandError) as info:
        pipeline(py("print('data')"), consumer, timeout=60)
    assert info.value.argv == consumer
    assert info.value.returncode == 7
    assert "repo gone" in info.value.stderr_tail


def test_pipeline_consumer_ok_codes() -> None:
    consumer = py("import sys; sys.stdin.read(); sys.exit(3)")
    result = pipeline(py("print('data')"), consumer, consumer_ok_codes=(0, 3), timeout=60)
    assert result.consumer.returncode == 3


def test_pipeline_check_false_returns_both_codes() -> None:
    producer = py("import sys; print('x'); sys.exit(4)")
    consumer = py("import sys; sys.stdin.read(); print('saved'); sys.exit(5)")
    result = pipeline(producer, consumer, check=False, timeout=60)
    assert result.producer.returncode == 4
    assert result.consumer.returncode == 5
    assert result.consumer.stdout == "saved\n"


def test_pipeline_consumer_exiting_early_does_not_hang() -> None:
    """A consumer that stops reading leaves an endless producer with a broken pipe."""
    producer = py("""
        import sys
        while True:
            sys.stdout.buffer.write(b"x" * 65536)
    """)
    consumer = py("import sys; sys.stdin.buffer.read(10); print('enough')")
    start = time.monotonic()
    result = pipeline(producer, consumer, check=False, timeout=60)
    assert time.monotonic() - start < 30
    assert result.consumer.returncode == 0
    assert result.consumer.stdout == "enough\n"
    assert result.producer.returncode != 0  # it could not write everything


def _stalled_producer(pidfile: Path) -> list[str]:
    """A producer that neither writes nor exits on its own."""
    return py(f"""
        import os, time
        open({str(pidfile)!r} + ".tmp", "w").write(str(os.getpid()))
        os.rename({str(pidfile)!r} + ".tmp", {str(pidfile)!r})
        time.sleep(120)
    """)


def test_pipeline_failing_consumer_ends_a_stalled_producer(tmp_path: Path) -> None:
    pidfile = tmp_path / "producer.pid"
    consumer = py("import sys; sys.exit(9)")
    start = time.monotonic()
    result = pipeline(_stalled_producer(pidfile), consumer, check=False, timeout=60)
    assert time.monotonic() - start < 30
    assert result.consumer.returncode == 9
    if pidfile.exists():
        assert wait_until(lambda: gone(int(pidfile.read_text())))


def test_pipeline_check_false_reports_a_killed_producer_as_failed(tmp_path: Path) -> None:
    consumer = py("import sys; sys.exit(9)")
    result = pipeline(_stalled_producer(tmp_path / "p.pid"), consumer, check=False, timeout=60)
    assert result.consumer.returncode == 9
    assert result.producer.returncode != 0


def test_pipeline_killed_producer_is_not_success_when_consumer_code_is_allowed(
    tmp_path: Path,
) -> None:
    """restic exit 3 is allowed, but the producer was cut off: the stream is incomplete."""
    consumer = py("import sys; sys.exit(3)")
    with pytest.raises(CommandError) as info:
        pipeline(_stalled_producer(tmp_path / "p.pid"), consumer,
                 consumer_ok_codes=(0, 3), timeout=60)
    assert info.value.argv[0] == PY


def test_pipeline_missing_consumer_raises_and_ends_producer(tmp_path: Path) -> None:
    pidfile = tmp_path / "producer.pid"
    with pytest.raises(MissingBinaryError):
        pipeline(_stalled_producer(pidfile), [str(tmp_path / "restic")], timeout=60)
    if pidfile.exists():
        assert wait_until(lambda: gone(int(pidfile.read_text())))


def test_pipeline_timeout_raises() -> None:
    producer = py("import time; time.sleep(120)")
    start = time.monotonic()
    with pytest.raises(CommandTimeout):
        pipeline(producer, ["cat"], timeout=1.0)
    assert time.monotonic() - start < 30


# --- secret_fd() -----------------------------------------------------------------------


def test_secret_fd_is_readable_by_a_child_and_not_in_its_argv() -> None:
    secret = b"correct horse battery staple"
    code = """
        import os, sys
        fd = int(sys.argv[1])
        with open(f"/dev/fd/{fd}", "rb") as handle:
            data = handle.read()
        cmdline = open("/proc/self/cmdline", "rb").read()
        environ = open("/proc/self/environ", "rb").read()
        print(data.decode())
        print(data in cmdline, data in environ)
    """
    with secret_fd(secret) as fd:
        argv = [*py(code), str(fd)]
        done = run(argv, pass_fds=[fd], timeout=30)
    assert done.stdout.splitlines() == [secret.decode(), "False False"]
    assert all(secret.decode() not in part for part in argv)


def test_secret_fd_is_closed_after_use() -> None:
    with secret_fd(b"pw") as fd:
        os.fstat(fd)
    with pytest.raises(OSError):
        os.fstat(fd)


def test_secret_fd_refuses_oversized_secrets() -> None:
    with pytest.raises(StrongroomError), secret_fd(b"x" * 70_000):
        pass


def test_fd_not_passed_is_not_visible_to_the_child() -> None:
    with secret_fd(b"pw") as fd:
        done = run(py(f"import os; print(os.path.exists('/dev/fd/{fd}'))"), timeout=30)
    assert done.stdout.strip() == "False"


# --- redact_argv() / format_argv() ----------------------------------------------------


def test_redact_value_after_secret_flag() -> None:
    assert redact_argv(["tool", "--password", "hunter2", "--host", "h"]) == [
        "tool", "--password", "***", "--host", "h",
    ]


def test_redact_flag_with_equals() -> None:
    assert redact_argv(["tool", "--password=hunter2"]) == ["tool", "--password=***"]


@pytest.mark.parametrize(
    ("item", "shown"),
    [
        ("password=hunter2", "password=***"),
        ("PGPASSWORD=hunter2", "PGPASSWORD=***"),
        ("token=abc123", "token=***"),
        ("MYSQL_PWD_passphrase=abc", "MYSQL_PWD_passphrase=***"),
        ("AWS_SECRET=abc", "AWS_SECRET=***"),
    ],
)
def test_redact_secret_key_value(item: str, shown: str) -> None:
    assert redact_argv(["env", item, "cmd"]) == ["env", shown, "cmd"]


@pytest.mark.parametrize(
    ("item", "shown"),
    [
        ("https://user:pw@host/path", "https://user:***@host/path"),
        ("rest:https://backup:s3cr3t@host:8000/repo", "rest:https://backup:***@host:8000/repo"),
        ("s3:https://key:secretkey@minio:9000/bucket", "s3:https://key:***@minio:9000/bucket"),
    ],
)
def test_redact_url_credentials(item: str, shown: str) -> None:
    assert redact_argv(["restic", "-r", item]) == ["restic", "-r", shown]


def test_redact_leaves_normal_arguments_untouched() -> None:
    argv = [
        "restic", "backup", "--json", "--host", "web1", "--tag", "set=weekly-20241220-143022",
        "--exclude", "/srv/**/*.tmp", "--password-file=/etc/strongroom/local.pass",
        "https://example.com/path", "sftp:user@host:/srv/repo", "--", "/etc", "name=value",
    ]
    assert redact_argv(argv) == argv
    assert redact_argv(argv) is not argv


def test_format_argv_quotes_and_redacts() -> None:
    text = format_argv(["pg_dump", "--password", "hunter2", "my db", "PGPASSWORD=x1y2"])
    assert "hunter2" not in text
    assert "x1y2" not in text
    assert text == "pg_dump --password '***' 'my db' 'PGPASSWORD=***'"


def test_pipeline_tap_sees_every_byte_and_the_consumer_gets_them(tmp_path: Path) -> None:
    from orchestrator.sets.digest import StreamDigest, digest_of

    payload = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "in.bin"
    source.write_bytes(payload)
    out = tmp_path / "out.bin"
    producer = py(f"import sys; sys.stdout.buffer.write(open({str(source)!r}, 'rb').read())")
    consumer = py(f"import sys; open({str(out)!r}, 'wb').write(sys.stdin.buffer.read())")
    tap = StreamDigest()
    pipeline(producer, consumer, tap=tap)
    assert out.read_bytes() == payload
    assert tap.bytes == len(payload)
    assert tap.label == digest_of(payload)


def test_pipeline_tap_producer_failure_is_reported(tmp_path: Path) -> None:
    from orchestrator.sets.digest import StreamDigest

    producer = py("import sys; sys.stdout.write('x' * 100000); sys.stdout.flush(); "
                  "sys.stderr.write('dump died halfway\\n'); sys.exit(4)")
    consumer = py("import sys; sys.stdin.read()")
    with pytest.raises(CommandError) as caught:
        pipeline(producer, consumer, tap=StreamDigest())
    assert caught.value.returncode == 4
    assert "dump died halfway" in caught.value.stderr_tail


def test_pipeline_tap_consumer_failure_stops_the_producer(tmp_path: Path) -> None:
    from orchestrator.sets.digest import StreamDigest

    producer = py("import sys\nwhile True: sys.stdout.buffer.write(b'y' * 65536)")
    consumer = py("import sys; sys.stdin.buffer.read(10); sys.exit(7)")
    start = time.monotonic()
    result = pipeline(producer, consumer, tap=StreamDigest(), check=False, timeout=60)
    assert time.monotonic() - start < 30
    assert result.consumer.returncode == 7
    assert result.producer.returncode != 0


def test_run_returns_although_a_grandchild_holds_stderr(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    import orchestrator.run.process as process

    monkeypatch.setattr(process, "STDERR_WAIT", 0.5)
    started = time.monotonic()
    result = run(py("""
        import subprocess, sys
        held = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(20)'],
                                stdout=subprocess.DEVNULL)
        print(held.pid, flush=True)
    """))
    grandchild = psutil.Process(int(result.stdout))
    try:
        assert time.monotonic() - started < 5
        assert grandchild.is_running()  # it still holds stderr: the wait was cut short
    finally:
        grandchild.kill()
        grandchild.wait(5)
