#!/usr/bin/env python3
"""strongroom's own peak memory while it plans a restore of a large tree (issue 23).

    python bench/plan_memory.py [--entries N] [--per-folder N] [--keep]

A restore plan lists the stored tree (`restic ls --json`, streamed through the
engine's walk) for `restore-backup --dry-run`, or when the target already holds
something; only the clashes with what is there may be kept. This script generates a
tree of N files of a few bytes (default 1,000,000, in folders of --per-folder files),
backs it up once with

    strongroom create-backup --type config --name plan --no-verify -p PROFILE

into a fresh local restic repository (STRONGROOM_STATE_DIR in the work folder), then
runs, with -p PROFILE --json, each case once:

    restore-backup --backup latest --dry-run --target T        T empty: nothing clashes
    restore-backup --backup latest --dry-run --target T        T holds a copy: all clash
    restore-backup --backup latest --target T                  T holds a copy: refused
    restore-backup --backup latest --target T --force          T holds a copy: restored

The copy at T is the same tree generated again at T/TREE. strongroom runs as a
`python -c` wrapper around orchestrator.cli.main (PYTHONPATH: this checkout) that
writes getrusage's ru_maxrss at exit: RUSAGE_SELF is strongroom's own peak RSS,
RUSAGE_CHILDREN the largest restic it waited for (for context). The JSON each case
prints goes to a file; the script checks that it lists every clash. All of it then
runs again at N/10 (--small), and the growth ratio of the peaks is printed: flat
means the large run's peak is within 1.25x of the small one's (goal: ≤ 100 MB at N).

It is a benchmark, not a test: it exits 0 whether or not the goals are met, non-zero
only when a command fails (or a refusal does not come, or a JSON answer is short).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from overhead import BenchError, base_env, compile_bytecode, restic_binary, run_timed, verdict

ROOT = Path(__file__).resolve().parent.parent
GOAL_MB = 100.0  # strongroom's own peak RSS, MB (10^6 bytes)
FLAT_RATIO = 1.25  # peak at N over peak at N/10
CONFLICT_EXIT = 3  # orchestrator.errors.ConflictError
WRAPPER = (
    "import resource, sys\n"
    "out = sys.argv.pop(1)\n"
    "from orchestrator.cli import main\n"
    "try:\n"
    "    main()\n"
    "finally:\n"
    "    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "    with open(out, 'w') as f:\n"
    "        f.write(f'{own} {child}\\n')\n"
)


@dataclass
class Row:
    entries: int
    case: str
    own_kib: int
    restic_kib: int
    seconds: float
    conflicts: int | None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def generate(root: Path, files: int, per_folder: int) -> None:
    """files of a few bytes in folders of per_folder (os.open/write: fast at 1M)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    for index in range(files):
        if index % per_folder == 0:
            folder = root / f"d{index // per_folder:05d}"
            folder.mkdir(parents=True, exist_ok=True)
            prefix = f"{folder}/f"
        fd = os.open(f"{prefix}{index:07d}", flags, 0o644)
        try:
            os.write(fd, b"%d\n" % index)
        finally:
            os.close(fd)


def count_conflicts(answer: Path) -> int:
    """The length of the answer's conflicts list, parsed in a child process. Parsed here,
    a million paths would raise this process's peak RSS, and Linux hands an exec'd
    child the peak of the process it was forked from as its own starting ru_maxrss: the
    next case's strongroom would seem to hold this script's memory."""
    counted = subprocess.run(
        [sys.executable, "-c", "import json, sys\n"
         "print(len(json.load(open(sys.argv[1]))['conflicts']))", str(answer)],
        capture_output=True, text=True, check=True)
    return int(counted.stdout)


class Bench:
    def __init__(self, work: Path, files: int, per_folder: int) -> None:
        self.work, self.files, self.per_folder = work, files, per_folder
        self.tree = work / "tree"
        self.target = work / "target"
        self.rusage = work / "rusage"
        password = work / "password"
        password.write_text("plan memory bench password\n")
        password.chmod(0o600)
        self.env = base_env()
        self.env["PYTHONPATH"] = str(ROOT)
        self.env["STRONGROOM_STATE_DIR"] = str(work / "state")
        self.env["TZ"] = "UTC"
        self.profile = work / "plan.toml"
        self.profile.write_text(f'[repositories.local]\nurl = "{work / "repository"}"\n'
                                f'password_file = "{password}"\n\n'
                                f'[config]\nbench = {{ paths = ["{self.tree}"] }}\n')
        start = time.perf_counter()
        generate(self.tree, files, per_folder)
        log(f"{files} files generated in {time.perf_counter() - start:.1f} s")

    def strongroom(self, *args: str) -> list[str]:
        return [sys.executable, "-c", WRAPPER, str(self.rusage), *args, "-p", str(self.profile)]

    def prepare(self) -> None:
        restic_binary()
        run_timed(self.strongroom("init"), self.env, "strongroom init")
        ran = run_timed(self.strongroom("create-backup", "--type", "config", "--name", "plan",
                                        "--no-verify"), self.env, "backup")
        log(f"backed up in {ran.seconds:.1f} s")

    def fill_target(self) -> None:
        shutil.rmtree(self.target, ignore_errors=True)
        generate(self.target / str(self.tree).lstrip("/"), self.files, self.per_folder)

    def case(self, label: str, args: Sequence[str], expect: int = 0) -> Row:
        out = self.work / "answer.json"
        self.rusage.unlink(missing_ok=True)
        os.sync()
        start = time.perf_counter()
        with out.open("wb") as stdout:
            proc = subprocess.run(self.strongroom("restore-backup", "--backup", "latest",
                                                  "--target", str(self.target), "--json",
                                                  *args),
                                  env=self.env, stdin=subprocess.DEVNULL, stdout=stdout,
                                  stderr=subprocess.PIPE, check=False)
        seconds = time.perf_counter() - start
        if proc.returncode != expect:
            raise BenchError(f"{label}: exit code {proc.returncode}, expected {expect}\n"
                             f"{proc.stderr.decode(errors='replace')[-2000:]}")
        own, child = (int(part) for part in self.rusage.read_text().split())
        conflicts = None
        if proc.returncode == 0:  # counted in a child: see count_conflicts
            conflicts = count_conflicts(out)
        log(f"  {label}: {own / 1024:.1f} MiB, {seconds:.1f} s")
        return Row(self.files, label, own, child, seconds, conflicts)

    def run(self) -> list[Row]:
        self.prepare()
        shutil.rmtree(self.target, ignore_errors=True)
        rows = [self.case("dry-run, empty target", ["--dry-run"])]
        self.fill_target()
        rows.append(self.case("dry-run, target holds a copy", ["--dry-run"]))
        rows.append(self.case("refused, target holds a copy", [], expect=CONFLICT_EXIT))
        rows.append(self.case("--force, target holds a copy", ["--force"]))
        for row in rows[1:]:
            if row.conflicts is not None and row.conflicts < self.files:
                raise BenchError(f"{row.case}: {row.conflicts} conflicts listed, "
                                 f"{self.files} expected")
        return rows


def report(small: list[Row], large: list[Row]) -> str:
    lines = ["| case | entries | strongroom peak MiB | restic peak MiB | s | conflicts listed "
             "| growth (x N/10) | goal |", "|---|---|---|---|---|---|---|---|"]
    for before, row in zip(small, large, strict=True):
        growth = row.own_kib / before.own_kib
        met = row.own_kib * 1024 <= GOAL_MB * 1e6 and growth <= FLAT_RATIO
        for shown, goal in ((before, ""), (row, f"≤ {GOAL_MB:.0f} MB, ≤ {FLAT_RATIO}x: "
                                                f"{verdict(met)}")):
            listed = "—" if shown.conflicts is None else f"{shown.conflicts:,}"
            lines.append(f"| {shown.case} | {shown.entries:,} | {shown.own_kib / 1024:.1f} "
                         f"| {shown.restic_kib / 1024:.1f} | {shown.seconds:.1f} | {listed} "
                         f"| {growth if shown is row else 1:.2f} | {goal} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="files in the tree")
    parser.add_argument("--small", type=int, help="the smaller run (default: entries / 10)")
    parser.add_argument("--per-folder", type=int, default=1000)
    parser.add_argument("--tmpdir", help="where the work folder goes")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    opts = parser.parse_args(argv)
    compile_bytecode()
    runs: list[list[Row]] = []
    try:
        for files in (opts.small or max(1, opts.entries // 10), opts.entries):
            work = Path(tempfile.mkdtemp(prefix="strongroom-plan-", dir=opts.tmpdir))
            try:
                log(f"{files} files in {work}")
                runs.append(Bench(work, files, opts.per_folder).run())
            finally:
                if opts.keep:
                    log(f"kept {work}")
                else:
                    shutil.rmtree(work, ignore_errors=True)
    except BenchError as exc:
        log(str(exc))
        return 1
    print(report(*runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
