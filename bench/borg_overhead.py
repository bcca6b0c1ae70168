#!/usr/bin/env python3
"""strongroom on a borg repository against raw `borg create` and against borgmatic.

    .venv/bin/python bench/borg_overhead.py [--rounds N] [--size-mib N] [--small-files N]
                                            [--large-files N] [--borgmatic-venv DIR]

It generates the tree of bench/overhead.py (default about 1 GiB: 20,000 small files and
50 large ones), then times, alternating the order between rounds:

    strongroom create-backup --no-verify -p PROFILE --type config --name bench
    borg create … (the argv strongroom builds: orchestrator/engines/borg_args.create_args,
                   with the same comment, timestamp, compression, patterns and staging)
    borgmatic create --config CONFIG   (the same tree, lz4, its own repository)

each into its own repository (`borg init --encryption repokey-blake2`, not timed): the
first backup (fresh repositories every round), then an unchanged re-run into the
repositories of the last round. borgmatic is installed from PyPI into a throwaway
virtualenv (--borgmatic-venv, default a temporary folder) and skipped, with a note,
when that fails. `os.sync()` runs (untimed) before every timed command.

Every side finds `borg` on PATH as a small shell wrapper that notes when the real borg
started and ended, so the report also splits strongroom's time into its start (before
borg), borg itself and its end (after borg), beside raw borg's own time.

A benchmark, not a test: it exits 0 whether or not the goals are met.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from overhead import (  # noqa: E402  (bench scripts are run as files, not as a package)
    STRONGROOM,
    BenchError,
    _wait_for_new_second,
    base_env,
    compile_bytecode,
    generate_tree,
    run_timed,
)

from orchestrator.engines import borg_args  # noqa: E402

GOAL_RATIO = 1.10
GOAL_DELTA = 0.30
PASSPHRASE = "bench passphrase"
BORG_VARS = borg_args.INHERITED_BORG_VARS + ("BORG_CACHE_DIR", "BORG_SECURITY_DIR",
                                             "BORG_CONFIG_DIR")


class BorgClock:
    """A `borg` first on PATH that notes the real borg's start and end (wall clock)."""

    def __init__(self, folder: Path, real_borg: str) -> None:
        self.log = folder / "borg-times"
        self.wrapper = folder / "bin" / "borg"
        self.wrapper.parent.mkdir(parents=True)
        log = shlex.quote(str(self.log))
        self.wrapper.write_text(
            f'#!/bin/sh\necho "start $(date +%s.%N)" >> {log}\n{shlex.quote(real_borg)} "$@"\n'
            f'code=$?\necho "end $(date +%s.%N)" >> {log}\nexit $code\n')
        self.wrapper.chmod(0o755)

    def env(self) -> dict[str, str]:
        """base_env() with the wrapper first on PATH: every side runs through it."""
        env = base_env()
        return {**env, "PATH": f"{self.wrapper.parent}{os.pathsep}{env.get('PATH', '')}"}

    def run(self, argv: list[str], env: dict[str, str],
            label: str) -> tuple[float, float, tuple[float, float] | None]:
        """run_timed: when it started (wall clock), its seconds, and (start, end) of the
        last borg it ran, or None."""
        self.log.unlink(missing_ok=True)
        started = time.time()
        seconds = run_timed(argv, env, label).seconds
        try:
            lines = [line.split() for line in self.log.read_text().splitlines()]
        except OSError:
            return started, seconds, None
        starts = [float(v) for k, v in lines if k == "start"]
        ends = [float(v) for k, v in lines if k == "end"]
        return started, seconds, (starts[-1], ends[-1]) if starts and ends else None


def borg_env(clock: BorgClock, repo: Path, base: Path) -> dict[str, str]:
    env = {k: v for k, v in clock.env().items() if k not in BORG_VARS}
    env.update(BORG_REPO=str(repo), BORG_PASSPHRASE=PASSPHRASE, BORG_BASE_DIR=str(base),
               TZ="UTC")
    return env


def install_borgmatic(folder: Path) -> Path | None:
    python = folder / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    proc = subprocess.run([str(python), "-m", "pip", "install", "-q", "borgmatic"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(f"borgmatic could not be installed: {proc.stderr.strip()[-300:]}")
        return None
    return folder / "bin" / "borgmatic"


class Round:
    def __init__(self, folder: Path, tree: Path, password: Path, clock: BorgClock) -> None:
        self.folder, self.tree, self.password, self.clock = folder, tree, password, clock
        self.profile = folder / "bench.toml"
        self.state = folder / "state-strongroom"
        self.staging = folder / "state-raw" / "sets" / "bench"
        self.repos = {name: folder / f"repo-{name}" for name in
                      ("strongroom", "raw", "borgmatic")}
        self.bases = {name: folder / f"base-{name}" for name in self.repos}

    def create(self) -> None:
        self.folder.mkdir(parents=True)
        q = json.dumps
        self.profile.write_text(
            f"state_dir = {q(str(self.state))}\n\n[repositories.local]\nengine = \"borg\"\n"
            f"url = {q(str(self.repos['strongroom']))}\n"
            f"password_file = {q(str(self.password))}\n\n[config]\n"
            f"tree = [{q(str(self.tree))}]\n")
        run_timed([str(STRONGROOM), "init", "-p", str(self.profile)],
                  self.clock.env(), "strongroom init")
        for name in ("raw", "borgmatic"):
            run_timed(["borg", "init", "--encryption", "repokey-blake2", str(self.repos[name])],
                      borg_env(self.clock, self.repos[name], self.bases[name]),
                      f"borg init ({name})")
        (self.folder / "borgmatic.yaml").write_text(
            f"source_directories:\n  - {self.tree}\n"
            f"repositories:\n  - path: {self.repos['borgmatic']}\n    label: bench\n"
            f"encryption_passphrase: \"{PASSPHRASE}\"\ncompression: lz4\n"
            f"borg_base_directory: {self.bases['borgmatic']}\n")


class Sides:
    def __init__(self, borgmatic: Path | None, clock: BorgClock) -> None:
        self.borgmatic, self.clock = borgmatic, clock
        self.last_strongroom_end = 0.0
        # (before borg, borg, after borg) of each strongroom run; borg's time of each raw run
        self.splits: list[tuple[float, float, float]] = []
        self.raw_borg: list[float] = []

    def strongroom(self, rnd: Round) -> float:
        _wait_for_new_second(self.last_strongroom_end)
        argv = [str(STRONGROOM), "create-backup", "--no-verify", "-p", str(rnd.profile),
                "--type", "config", "--name", "bench"]
        os.sync()
        started, seconds, borg = self.clock.run(argv, self.clock.env(),
                                                "strongroom create-backup")
        self.last_strongroom_end = time.time()
        if borg is not None:
            before, inside = borg[0] - started, borg[1] - borg[0]
            self.splits.append((before, inside, seconds - before - inside))
        return seconds

    def raw(self, rnd: Round) -> float:
        started = datetime.now(UTC).replace(microsecond=0)
        name = f"bench-{started:%Y%m%d-%H%M%S}"
        (rnd.staging / "logs").mkdir(parents=True, exist_ok=True)
        (rnd.staging / "metadata.json").write_text(json.dumps({"set": name}))
        (rnd.staging / "logs" / "backup.log").write_text(f"{started.isoformat()} {name}\n")
        paths = [str(rnd.tree), str(rnd.staging)]
        tags = ["strongroom", f"set={name}", "part=files", "type=config", "profile=bench"]
        argv = borg_args.create_args(
            paths, name=borg_args.archive_name(tags, started),
            comment=borg_args.comment_of(tags, socket.gethostname(), paths), time=started)
        os.sync()
        _, seconds, borg = self.clock.run(
            argv, borg_env(self.clock, rnd.repos["raw"], rnd.bases["raw"]), "raw borg create")
        if borg is not None:
            self.raw_borg.append(borg[1] - borg[0])
        return seconds

    def borgmatic_run(self, rnd: Round) -> float | None:
        if self.borgmatic is None:
            return None
        os.sync()
        env = self.clock.env()
        return run_timed([str(self.borgmatic), "create", "--config",
                          str(rnd.folder / "borgmatic.yaml")],
                         {**env, "PATH": f"{self.borgmatic.parent}:{env['PATH']}"},
                         "borgmatic create").seconds


def one(sides: Sides, rnd: Round, order: int) -> dict[str, float | None]:
    runs = [("strongroom", sides.strongroom), ("raw", sides.raw),
            ("borgmatic", sides.borgmatic_run)]
    if order % 2:
        runs.reverse()
    return {name: fn(rnd) for name, fn in runs}


def report(label: str, samples: list[dict[str, float | None]]) -> None:
    med: dict[str, float] = {}
    for key in ("strongroom", "raw", "borgmatic"):
        values = [value for sample in samples if (value := sample[key]) is not None]
        med[key] = statistics.median(values) if values else 0.0
    raw = med["raw"] or 1e-9
    ratio, delta = med["strongroom"] / raw, med["strongroom"] - raw
    met = ratio <= GOAL_RATIO or delta <= GOAL_DELTA
    line = (f"{label}: strongroom {med['strongroom']:.2f}s, raw borg {raw:.2f}s "
            f"→ {ratio:.2f}× (+{delta:.2f}s; goal ≤ {GOAL_RATIO}× or +{GOAL_DELTA}s: "
            f"{'met' if met else 'NOT met'})")
    if med["borgmatic"]:
        line += (f"; borgmatic {med['borgmatic']:.2f}s → {med['borgmatic'] / raw:.2f}× raw, "
                 f"strongroom/borgmatic {med['strongroom'] / med['borgmatic']:.2f}")
    print(line)


def report_split(label: str, splits: list[tuple[float, float, float]],
                 raw: list[float]) -> None:
    """Where strongroom's time went (medians), beside raw borg's own time."""
    if not splits or not raw:
        return
    before, inside, after = (statistics.median(part) for part in zip(*splits, strict=True))
    print(f"  {label}, strongroom's run: start {before:.3f}s (interpreter, imports, profile, "
          f"set) + borg {inside:.3f}s + end {after:.3f}s; raw borg's own run "
          f"{statistics.median(raw):.3f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--small-files", type=int, default=20_000)
    parser.add_argument("--large-files", type=int, default=50)
    parser.add_argument("--borgmatic-venv", type=Path)
    args = parser.parse_args()
    real_borg = shutil.which("borg")
    if not real_borg:
        print("borg is not on PATH (apt-get install borgbackup)")
        return 1
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="strongroom-borg-bench-") as scratch:
        work = Path(scratch)
        clock = BorgClock(work, real_borg)
        tree = work / "tree"
        stats = generate_tree(tree, args.size_mib, args.small_files, args.large_files, 1)
        print(f"tree: {stats.files} files, {stats.bytes / 2**20:.0f} MiB")
        password = work / "pass"
        password.write_text(PASSPHRASE + "\n")
        borgmatic = install_borgmatic(args.borgmatic_venv or work / "borgmatic-venv")
        sides = Sides(borgmatic, clock)
        first: list[dict[str, float | None]] = []
        rnd = None
        try:
            for index in range(args.rounds):
                rnd = Round(work / f"round{index}", tree, password, clock)
                rnd.create()
                first.append(one(sides, rnd, index))
            assert rnd is not None
            marks = (len(sides.splits), len(sides.raw_borg))
            again = [one(sides, rnd, index) for index in range(args.rounds)]
        except BenchError as exc:
            print(f"error: {exc}")
            return 1
        report("first backup", first)
        report_split("first backup", sides.splits[:marks[0]], sides.raw_borg[:marks[1]])
        report("unchanged re-run", again)
        report_split("unchanged re-run", sides.splits[marks[0]:], sides.raw_borg[marks[1]:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
