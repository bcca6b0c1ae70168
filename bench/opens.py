#!/usr/bin/env python3
"""How many restic processes each strongroom command starts, against the raw restic
command that does the same job, and what that costs in wall time.

    python bench/opens.py [--files N] [--size-mib N] [--size large] [--rounds N] [--keep]

Every restic process opens the repository and pays its key derivation (~0.5 s), so
strongroom's fixed cost is the number of processes it starts. A wrapper named `restic`
on PATH logs each subcommand, then execs the real restic; both sides run through it.

Commands, strongroom's (with -p PROFILE --json) against raw restic's:

    create-backup --type config --name opens [--no-verify]   restic backup --json TREE STAGING
        (unchanged re-runs, with and without the default verification)
    list-backups                                             restic snapshots --json
    restore-backup --backup latest --target T (empty)        restic restore ID --target T
    download-backup --backup latest -o OUT.zip --force       restic dump --archive tar ID /
    verify-backup --backup latest                            restic check

strongroom runs as `python -m orchestrator` from this checkout (PYTHONPATH), so the code
measured is the code beside this script. The raw side uses its own repository for
backups (backed up once untimed, so both re-runs are unchanged) and strongroom's
repository for the reads. Runs alternate between the sides and the order alternates
between rounds; `os.sync()` runs untimed before each; restore targets are removed
untimed. Figures are medians. It is a benchmark, not a test: it exits 0 whether or
not the goals are met, non-zero only when a command fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from overhead import (
    BenchError,
    base_env,
    compile_bytecode,
    generate_tree,
    restic_binary,
    run_timed,
    verdict,
)

ROOT = Path(__file__).resolve().parent.parent
GOALS: dict[str, tuple[float | None, float | None]] = {  # (ratio, or seconds over raw)
    "restore": (1.15, 0.40),
    "create-backup --verify": (None, 0.50),
    "list-backups": (1.10, None),
}
LARGE_GOALS: dict[str, tuple[float | None, float | None]] = {  # at 100,000 files
    "restore": (1.05, None),
}


@dataclass
class Case:
    name: str
    ours: list[str]
    raw: list[str]
    before: Callable[[], None] = lambda: None  # untimed, before each run of either side
    ours_times: list[float] = field(default_factory=list)
    raw_times: list[float] = field(default_factory=list)
    ours_opens: list[str] = field(default_factory=list)
    raw_opens: list[str] = field(default_factory=list)


class Bench:
    def __init__(self, work: Path, files: int, size_mib: int) -> None:
        self.work = work
        self.log = work / "opens.log"
        self.tree = work / "tree"
        real = restic_binary()
        wrapper = work / "bin" / "restic"
        wrapper.parent.mkdir(parents=True)
        wrapper.write_text(f'#!/bin/sh\necho "$1" >> {shlex.quote(str(self.log))}\n'
                           f'exec {shlex.quote(real)} "$@"\n')
        wrapper.chmod(0o755)
        password = work / "password"
        password.write_text("opens bench password\n")
        password.chmod(0o600)
        self.env = base_env()
        self.env["PATH"] = f"{wrapper.parent}{os.pathsep}{self.env['PATH']}"
        self.env["PYTHONPATH"] = str(ROOT)
        self.env["STRONGROOM_STATE_DIR"] = str(work / "state")
        self.env["TZ"] = "UTC"
        self.raw_env = {**self.env, "RESTIC_PASSWORD_FILE": str(password),
                        "RESTIC_CACHE_DIR": str(work / "raw-cache"), "RESTIC_PROGRESS_FPS": "2"}
        self.repo = work / "repository"
        self.raw_repo = work / "raw-repository"
        self.profile = work / "opens.toml"
        self.profile.write_text(f'[repositories.local]\nurl = "{self.repo}"\n'
                                f'password_file = "{password}"\n\n'
                                f'[config]\nbench = {{ paths = ["{self.tree}"] }}\n')
        self.staging = work / "raw-staging"
        log(f"generating {files} files, ~{size_mib} MiB")
        stats = generate_tree(self.tree, size_mib, files, 4 if size_mib > 16 else 0, seed=23)
        log(f"  {stats.files} files, {stats.bytes / 2**20:.0f} MiB")

    def strongroom(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "orchestrator", *args, "-p", str(self.profile)]

    def raw(self, repo: Path, *args: str) -> list[str]:
        return ["restic", "-r", str(repo), *args]

    def run(self, argv: Sequence[str], env: dict[str, str], label: str) -> tuple[float, list[str]]:
        self.log.unlink(missing_ok=True)
        os.sync()
        seconds = run_timed(argv, env, label).seconds
        return seconds, self.log.read_text().split() if self.log.exists() else []

    def prepare(self) -> str:
        """Both repositories with one set of the tree; the set's final snapshot id."""
        run_timed(self.strongroom("init"), self.env, "strongroom init")
        run_timed(self.strongroom("create-backup", "--type", "config", "--name", "opens",
                                  "--no-verify"), self.env, "first strongroom backup")
        run_timed(self.raw(self.raw_repo, "init"), self.raw_env, "raw init")
        self.stage()
        run_timed(self.raw(self.raw_repo, "backup", "--json", "--host", "bench",
                           str(self.tree), str(self.staging)), self.raw_env, "first raw backup")
        listed = run_timed(self.raw(self.repo, "snapshots", "--json", "--latest", "1"),
                           self.raw_env, "snapshot id").stdout
        return str(json.loads(listed)[-1]["id"])

    def stage(self) -> None:
        """The raw side's staging folder, its manifest rewritten as strongroom's is."""
        self.staging.mkdir(exist_ok=True)
        (self.staging / "metadata.json").write_text(f'{{"run": {time.time()}}}\n')


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cases(bench: Bench, final: str) -> list[Case]:
    target, raw_target = bench.work / "target", bench.work / "raw-target"

    def clear_targets() -> None:
        shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(raw_target, ignore_errors=True)

    def new_second() -> None:  # set names carry the second: never two in one
        bench.stage()
        time.sleep(1.02 - time.time() % 1)

    backup = bench.raw(bench.raw_repo, "backup", "--json", "--host", "bench", str(bench.tree),
                       str(bench.staging))
    out = bench.work / "out"
    return [
        Case("create-backup --no-verify",
             bench.strongroom("create-backup", "--type", "config", "--name", "opens",
                              "--no-verify", "--json"), backup, new_second),
        Case("create-backup --verify",
             bench.strongroom("create-backup", "--type", "config", "--name", "opens",
                              "--json"), backup, new_second),
        Case("list-backups", bench.strongroom("list-backups", "--json"),
             bench.raw(bench.repo, "snapshots", "--json")),
        Case("restore", bench.strongroom("restore-backup", "--backup", "latest", "--target",
                                         str(target), "--json"),
             bench.raw(bench.repo, "restore", final, "--target", str(raw_target)),
             clear_targets),
        Case("download-backup", bench.strongroom("download-backup", "--backup", "latest", "-o",
                                                 f"{out}.zip", "--force", "--json"),
             ["sh", "-c", f'restic -r "$1" dump --archive tar {final} / > "$2"', "sh",
              str(bench.repo), f"{out}.tar"]),
        Case("verify-backup", bench.strongroom("verify-backup", "--backup", "latest", "--json"),
             bench.raw(bench.repo, "check")),
    ]


def measure(bench: Bench, items: list[Case], rounds: int) -> None:
    for index in range(rounds):
        log(f"round {index + 1}/{rounds}")
        for case in items:
            sides = [("ours", case.ours, bench.env), ("raw", case.raw, bench.raw_env)]
            for side, argv, env in sides if index % 2 == 0 else sides[::-1]:
                case.before()
                seconds, opened = bench.run(argv, env, f"{case.name} ({side})")
                if side == "ours":
                    case.ours_times.append(seconds)
                    case.ours_opens = opened
                else:
                    case.raw_times.append(seconds)
                    case.raw_opens = opened


def report(items: list[Case], large: bool = False) -> str:
    goals = {**GOALS, **(LARGE_GOALS if large else {})}
    lines = ["| command | restic processes (strongroom) | raw | strongroom s | raw s | ratio "
             "| +s | goal |", "|---|---|---|---|---|---|---|---|"]
    for case in items:
        ours, raw = statistics.median(case.ours_times), statistics.median(case.raw_times)
        ratio_goal, delta_goal = goals.get(case.name, (None, None))
        goal = ""
        if ratio_goal is not None or delta_goal is not None:
            met = (ratio_goal is not None and ours / raw <= ratio_goal) or \
                (delta_goal is not None and ours - raw <= delta_goal)
            wanted = " or ".join(part for part in (
                f"≤{ratio_goal:.2f}x" if ratio_goal else "",
                f"≤+{delta_goal:.2f} s" if delta_goal else "") if part)
            goal = f"{wanted}: {verdict(met)}"
        lines.append(f"| {case.name} | {len(case.ours_opens)} ({', '.join(case.ours_opens)}) "
                     f"| {len(case.raw_opens)} | {ours:.2f} | {raw:.2f} | {ours / raw:.3f}x "
                     f"| {ours - raw:+.2f} | {goal} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=4000)
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--size", choices=("4k", "large"), default="4k",
                        help="large: 100,000 small files (overrides --files)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    opts = parser.parse_args(argv)
    files = 100_000 if opts.size == "large" else opts.files
    compile_bytecode()
    work = Path(tempfile.mkdtemp(prefix="strongroom-opens-"))
    try:
        bench = Bench(work, files, max(opts.size_mib, files * 5 // 1024 + 1))
        items = cases(bench, bench.prepare())
        measure(bench, items, opts.rounds)
        print(report(items, large=files >= 100_000))
    except BenchError as exc:
        log(str(exc))
        return 1
    finally:
        if opts.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
