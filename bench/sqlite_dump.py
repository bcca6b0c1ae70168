"""Why the sqlite hook streams the sqlite3 shell's `.dump` and not Python's iterdump().

Generates a database of random text, then times both ways of producing the same SQL
dump into /dev/null, several rounds, alternating, and prints the median of each.

    .venv/bin/python bench/sqlite_dump.py [--rows N] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def make_database(path: Path, rows: int) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, body TEXT, n REAL)")
        batch = []
        for index in range(rows):
            batch.append((f"item {index}", os.urandom(300).hex(), index * 0.5))
            if len(batch) == 10_000:
                conn.executemany("INSERT INTO items (name, body, n) VALUES (?, ?, ?)", batch)
                batch.clear()
        conn.executemany("INSERT INTO items (name, body, n) VALUES (?, ?, ?)", batch)
    conn.close()


def shell_dump(path: Path) -> float:
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        subprocess.run(["sqlite3", "-readonly", "-batch", str(path), ".dump"], stdout=sink,
                       check=True)
    return time.perf_counter() - start


def python_dump(path: Path) -> float:
    start = time.perf_counter()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with open(os.devnull, "w") as sink:
        for line in conn.iterdump():
            sink.write(line + "\n")
    conn.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strongroom-sqlite-") as folder:
        path = Path(folder) / "bench.db"
        make_database(path, options.rows)
        size = path.stat().st_size / (1 << 20)
        shell: list[float] = []
        python: list[float] = []
        for round_index in range(options.rounds):
            order = [(shell, shell_dump), (python, python_dump)]
            for times, dump in order if round_index % 2 == 0 else reversed(order):
                times.append(dump(path))
        shell_s, python_s = statistics.median(shell), statistics.median(python)
        print(f"sqlite dump of a {size:.0f} MiB database ({options.rows} rows), "
              f"median of {options.rounds}:")
        print(f"  sqlite3 .dump      {shell_s:7.3f} s")
        print(f"  python iterdump()  {python_s:7.3f} s  ({python_s / shell_s:.2f}x the shell)")


if __name__ == "__main__":
    main()
