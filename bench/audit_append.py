"""Time to append one audit line to logs of 10 to 100,000 lines: it should not grow.

    .venv/bin/python bench/audit_append.py [--appends N] [--sizes 10,1000,10000,100000]

Each log is written directly as valid chained lines (about 500 bytes each, like a real
create-backup line), then `audit.append` runs N times on each, the sizes taking turns;
the median and the mean per append are printed, with the time a full read of the log
takes (what every append cost before it read only the last line), and the ratio of the
largest log's median to the smallest one's. Each append fsyncs the log and the head,
so the figures are mostly the disk's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestrator.access import audit  # noqa: E402

ENTRY = {"role": None, "tool": "create-backup", "profile": "homelab", "origin": "cli",
         "arguments": {"type": "full", "services": ["nextcloud", "gitea"], "name": None,
                       "destination": "local", "include_data": True, "compress": True,
                       "verify": True, "encrypt": True, "password": None},
         "result": "ok", "set": "full-20260101-030000", "duration": 12.345}


def build(state: Path, count: int) -> None:
    """`count` chained lines written in one go, and the head."""
    prev = audit.GENESIS
    chunks = []
    line = b""
    for seq in range(1, count + 1):
        record = {"seq": seq, "time": "2026-01-01T03:00:00+00:00", "user": "root", "uid": 0,
                  **ENTRY, "prev": prev}
        line = json.dumps(record).encode()
        prev = hashlib.sha256(line).hexdigest()
        chunks.append(line + b"\n")
    (state / audit.AUDIT_FILE).write_bytes(b"".join(chunks))
    audit.write_head(state, count, prev)


def reread(state: Path) -> float:
    """What each append cost before: reading every line to find the last one."""
    start = time.perf_counter()
    with open(state / audit.AUDIT_FILE, "rb") as handle:
        last = b""
        for line in handle:
            if line.strip():
                last = line
    hashlib.sha256(last).hexdigest()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=200, help="appends per log size")
    parser.add_argument("--sizes", default="10,1000,10000,100000",
                        help="existing lines, comma-separated")
    options = parser.parse_args()
    sizes = [int(item) for item in options.sizes.split(",")]
    times: dict[int, list[float]] = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory(prefix="audit-bench-") as folder:
        states = {size: Path(folder) / str(size) for size in sizes}
        for size, state in states.items():
            state.mkdir()
            build(state, size)
        full_reads = {size: reread(state) for size, state in states.items()}
        # Rounds go over every size in turn, so the disk's noise (fsync) hits all alike.
        for _ in range(options.appends):
            for size, state in states.items():
                start = time.perf_counter()
                audit.append(state, ENTRY)
                times[size].append(time.perf_counter() - start)
        for size, state in states.items():
            report = audit.verify_chain(state)
            if report.problems or len(report.lines or []) != size + options.appends:
                raise SystemExit(f"the chain of the {size}-line log is broken: "
                                 f"{[p.render() for p in report.problems][:3]}")
    print(f"{'existing lines':>15}  {'median ms':>10}  {'mean ms':>8}  "
          f"{'full re-read ms (before)':>24}")
    medians = {size: statistics.median(values) for size, values in times.items()}
    for size in sizes:
        print(f"{size:>15,}  {medians[size] * 1000:>10.3f}  "
              f"{statistics.fmean(times[size]) * 1000:>8.3f}  {full_reads[size] * 1000:>24.3f}")
    smallest, largest = min(sizes), max(sizes)
    print(f"ratio {largest:,} / {smallest:,} lines (medians): "
          f"{medians[largest] / medians[smallest]:.2f}")


if __name__ == "__main__":
    main()
