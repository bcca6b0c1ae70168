"""`report --format html` in a real headless Chromium: the page loads with no console
error, plotly draws its five charts, and the screenshot is not blank."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from integration.conftest import STRONGROOM, require_binary
from orchestrator.observe.records import HistoryEntry, ObserveState, append_history
from orchestrator.sets.state import StateDir

PROFILE = """name = "site"
host = "box"

[repositories.local]
url = "{root}/repo"
password_file = "{root}/repo.pass"

[schedules.nightly]
schedule = "0 3 * * *"
rpo = "26h"
retention = "30d"
"""


def png_pixels(path: Path) -> bytes:
    """The decompressed image data of a PNG (filter bytes included)."""
    data, chunks, at = path.read_bytes(), [], 8
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        if kind == b"IDAT":
            chunks.append(data[at + 8:at + 8 + length])
        at += 12 + length
    return zlib.decompress(b"".join(chunks))


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("chromium")
    return subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu",
                           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000",
                           *args], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")})


def test_the_html_report_renders_its_charts(tmp_path: Path) -> None:
    pytest.importorskip("plotly", reason="plotly is the report extra (a dev dependency)")
    profile = tmp_path / "site.toml"
    profile.write_text(PROFILE.format(root=tmp_path))
    state = tmp_path / "state"
    observed = ObserveState(state, "site")
    now = datetime.now(UTC)
    for day in range(20, 0, -1):
        started = now - timedelta(days=day)
        append_history(observed, HistoryEntry(
            kind="run", job="nightly", started=started.isoformat(), ok=day != 7,
            duration=50.0 + day * 3, set=f"nightly-{started:%Y%m%d-%H%M%S}",
            bytes=10_000_000 + day * 1000, bytes_added=100_000 * (day % 4 + 1)))
        if day % 5 == 0:  # a restore drill of that set, as drill keeps it
            StateDir(state).save_drill(f"nightly-{started:%Y%m%d-%H%M%S}", f"{tmp_path}/repo",
                                       json.dumps({"set": f"nightly-{started:%Y%m%d-%H%M%S}",
                                                   "ok": day != 10, "started":
                                                   started.isoformat(), "rto": 600.0 * day})
                                       .encode())
    page = tmp_path / "report.html"
    made = subprocess.run([*STRONGROOM, "report", "--format", "html", "--no-probe", "-o",
                           str(page), "-p", str(profile)], capture_output=True, text=True,
                          env={**os.environ, "STRONGROOM_STATE_DIR": str(state)}, timeout=120,
                          check=False)
    assert made.returncode == 0, made.stderr

    dom = chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console
    for chart in ("duration", "size", "rpo", "growth", "rto"):
        start = dom.stdout.index(f'id="{chart}"')
        assert "main-svg" in dom.stdout[start:start + 3000], f"{chart} was not drawn"
    assert dom.stdout.count('class="main-svg"') >= 10  # two layers per chart
    assert "drill success rate</td><td>75.0 %" in dom.stdout

    shot, plain = tmp_path / "report.png", tmp_path / "no-script.png"
    taken = chromium("--window-size=1100,3000", f"--screenshot={shot}", page.as_uri())
    assert taken.returncode == 0 and shot.is_file(), taken.stderr
    # The same page with its charts never drawn shows the tables alone: the charts add
    # much more (about twice as much with the summary, jobs and repository tables).
    undrawn = tmp_path / "undrawn.html"
    undrawn.write_text(page.read_text().replace("Plotly.newPlot(id,", "void (id,"))
    chromium("--window-size=1100,3000", f"--screenshot={plain}", undrawn.as_uri())
    drawn, tables = png_pixels(shot), png_pixels(plain)
    assert len(drawn) == len(tables)  # the same size of image
    assert len(zlib.compress(drawn)) > 1.5 * len(zlib.compress(tables))
    assert len(set(drawn)) > 100
