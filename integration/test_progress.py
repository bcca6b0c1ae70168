"""Progress as people see it: through a pseudo-terminal (rich), through a pipe (a line
per interval) and under --json (JSON lines on stderr), during a real restic run."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

from integration.conftest import STRONGROOM, Site

SIZE = 200 * 1024 * 1024
SMALL = 8 * 1024 * 1024  # where the format is under test, not the figures
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|[\x0e\x0f]")
AMOUNT = r"(\d+(?:\.\d)?) (B|KiB|MiB|GiB)"


def amount(number: str, unit: str) -> float:
    return float(number) * UNITS[unit]


def run_in_pty(site: Site, *args: str, env: dict[str, str] | None = None) -> str:
    """The command's whole output as a 200-column terminal shows it, escapes removed."""
    main, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    full_env = {**os.environ, "STRONGROOM_STATE_DIR": str(site.state), "TERM": "xterm",
                "COLUMNS": "200", **(env or {})}
    for name in ("STRONGROOM_PROFILE_DIR", "NO_COLOR", "CI", "TERM_PROGRAM"):
        full_env.pop(name, None)
    proc = subprocess.Popen([*STRONGROOM, *args, "-p", str(site.profile)], stdin=secondary,
                            stdout=secondary, stderr=secondary, env=full_env, cwd=site.root,
                            close_fds=True)
    os.close(secondary)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(main, 65536)
            except OSError:  # EIO: the terminal's last writer is gone
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(main)
        proc.wait(timeout=60)
    text = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    return ANSI.sub("", text).replace("\r", "\n")


def values_in_order(text: str, part: str) -> list[float]:
    """The bytes done shown for a part, line by line: its bar's figures and its done line."""
    shown = re.compile(rf"^(?:done )?{re.escape(part)}:?\s+(?:\S+\s+)?{AMOUNT}[ ,]")
    return [amount(*match.groups()) for line in text.splitlines()
            if (match := shown.match(line.strip()))]


def assert_tells_the_truth(values: list[float], total: float) -> None:
    assert len(set(values)) >= 3, values
    assert values == sorted(values), values
    assert values[-1] == total, (values[-1], total)


# A producer that writes `size` zero bytes in ten steps over about two seconds: the interval
# lines are about time, and an unpaced stream of zeros can finish within one interval.
PACED = ("import sys, time\n"
         "size = int(sys.argv[1])\n"
         "for step in range(10):\n"
         "    sys.stdout.buffer.write(bytes(size // 10 + (size % 10 if step == 9 else 0)))\n"
         "    sys.stdout.buffer.flush()\n"
         "    time.sleep(0.2)\n")


def add_stream(site: Site, restore_to: Path | None = None, size: int = SIZE,
               paced: bool = False) -> None:
    """A command hook streaming `size` zero bytes (`head -c`, or PACED), restored by a copy
    to a file."""
    copy = ["cp", "/dev/stdin", str(restore_to)] if restore_to else ["true"]
    dump = [sys.executable, "-c", PACED, str(size)] if paced else [
        "head", "-c", str(size), "/dev/zero"]
    site.profile.write_text(site.profile.read_text() + f"""
[[services.web.hooks]]
type = "command"
name = "big.bin"
dump = {json.dumps(dump)}
restore = {json.dumps(copy)}
""")


def test_files_part_on_a_terminal(make_site: Callable[..., Site]) -> None:
    site = make_site(large_bytes=SIZE)
    text = run_in_pty(site, "create-backup", "--type", "service", "--services", "web",
                      "--include-data")
    total = re.search(r"created \S+ \(id \w+\) in local: \d+ files, " + AMOUNT, text)
    assert total, text[-2000:]
    assert_tells_the_truth(values_in_order(text, "files"), amount(*total.groups()))
    assert re.search(r"files \S+ [\d.]+ MiB / [\d.]+ MiB \(\d+%\), \d+/\d+ files, "
                     r"[\d.]+ MiB/s, ETA \d:\d\d:\d\d", text), text[-2000:]
    assert "storing files" in text


def test_stream_on_a_terminal(site: Site) -> None:
    add_stream(site)
    text = run_in_pty(site, "backup-database", "--service", "web")
    part = "services/web/big.bin"
    assert_tells_the_truth(values_in_order(text, part), SIZE)
    assert "%" not in "".join(line for line in text.splitlines() if part in line), \
        "a stream's total is unknown: no percentage"


def test_lines_at_the_interval_through_a_pipe(site: Site) -> None:
    add_stream(site, paced=True)
    result = site.run("backup-database", "--service", "web",
                      env={"STRONGROOM_PROGRESS_INTERVAL": "0.3"})
    part = "services/web/big.bin"
    lines = result.stderr.splitlines()
    assert lines[0] == f"streaming {part}", lines
    running = [line for line in lines if line.startswith(f"{part}: ")]
    assert len(running) >= 2, lines
    assert values_in_order(result.stderr, part)[-1] == SIZE
    assert values_in_order(result.stderr, part) == sorted(values_in_order(result.stderr, part))
    assert result.stdout.startswith("created ")


def json_lines(stderr: str) -> list[dict[str, object]]:
    events = [json.loads(line) for line in stderr.splitlines()]
    assert all(isinstance(event, dict) for event in events), stderr
    return events


def test_json_progress_on_stderr(site: Site, tmp_path: Path) -> None:
    """create, download and restore: stderr is JSON lines, stdout the one result."""
    restored = tmp_path / "restored.bin"
    add_stream(site, restored, SMALL)
    fast = {"STRONGROOM_PROGRESS_INTERVAL": "0.2"}
    made = site.run("create-backup", "--type", "full", "--json", env=fast)
    result = json.loads(made.stdout)
    events = json_lines(made.stderr)
    phases = [(e["part"], e["progress"]) for e in events if e["progress"] != "running"]
    assert phases == [("services/web/big.bin", "started"), ("services/web/big.bin", "finished"),
                      ("files", "started"), ("files", "finished")], phases
    stream_done = [e for e in events if e["part"] == "services/web/big.bin"][-1]
    assert stream_done["bytes_done"] == SMALL and stream_done["total_bytes"] == SMALL
    files_done = events[-1]
    assert files_done["bytes_done"] == result["parts"][-1]["bytes"]
    assert files_done["files_done"] == result["parts"][-1]["files"]

    exported = site.run("download-backup", "--backup", result["set"], "--format", "tar.gz",
                        "-o", str(tmp_path / "set.tar.gz"), "--json", env=fast)
    export = json_lines(exported.stderr)
    assert (export[0]["progress"], export[-1]["progress"]) == ("started", "finished")
    assert export[-1]["bytes_done"] == json.loads(exported.stdout)["bytes"]
    assert export[-1]["entries_done"] == json.loads(exported.stdout)["entries"]

    back = site.run("restore-backup", "--backup", result["set"], "--target",
                    str(tmp_path / "target"), "--json", env=fast)
    restore = json_lines(back.stderr)
    assert {e["part"] for e in restore} == {"files", "services/web/big.bin"}
    assert [e["bytes_done"] for e in restore if e["progress"] == "finished"][-1] == SMALL
    assert json.loads(back.stdout)["restored"] is True
    assert restored.stat().st_size == SMALL
