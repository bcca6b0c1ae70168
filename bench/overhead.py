#!/usr/bin/env python3
"""How much wall time strongroom adds on top of the restic command it runs.

    .venv/bin/python bench/overhead.py [--rounds N] [--size-mib N] [--small-files N]
                                       [--large-files N] [--keep]

It generates a tree (default about 1 GiB: 20,000 small files of 1-8 KiB in nested
directories plus 50 large files), then compares

    strongroom create-backup --no-verify -p PROFILE --type config --name bench

with the raw restic command strongroom runs for it (orchestrator/sets/create.py
_make_set, orchestrator/engines/restic_args.py backup_args/base_env):

    restic backup --json --host H --time T --compression auto --tag … -- TREE STAGING

with RESTIC_REPOSITORY, RESTIC_PASSWORD_FILE, RESTIC_CACHE_DIR, RESTIC_PROGRESS_FPS=2
and TZ=UTC, where STAGING mirrors strongroom's staged manifest folder
(metadata.json and logs/backup.log, rewritten before every run).

Each tool gets its own fresh repository (`restic init --repository-version 2`, not
timed). The first-backup case re-creates both repositories every round; the
unchanged re-run case then backs the same tree up again into the repositories of the
last round (restic picks the parent snapshot itself: same host, same paths). Runs
alternate between the tools and the order alternates between rounds. `os.sync()` runs
before every timed command (not timed) so one run's writeback is not billed to the
next. Set names are NAME-YYYYMMDD-HHMMSS, so before each strongroom run the script
waits (untimed) until the clock is past the second in which the previous strongroom
run ended.

It is a benchmark, not a test: it exits 0 whether or not the goals are met, and
non-zero only when a command fails.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STRONGROOM = ROOT / ".venv" / "bin" / "strongroom"
PYTHON = ROOT / ".venv" / "bin" / "python"
KIB = 1024
MIB = 1024 * KIB
BLOCK = 1 * MIB  # large files are written in blocks of half random, half text

GOAL_FIRST_RATIO = 1.05
GOAL_RERUN_RATIO = 1.10
GOAL_RERUN_DELTA = 0.40
GOAL_HELP_SECONDS = 0.20

# Mirrors orchestrator.engines.restic_args.INHERITED_RESTIC_VARS: never let the
# caller's restic settings leak into either side.
RESTIC_VARS = (
    "RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND",
    "RESTIC_REPOSITORY", "RESTIC_REPOSITORY_FILE", "RESTIC_KEY_HINT", "RESTIC_CACHE_DIR",
)
STRONGROOM_VARS = ("STRONGROOM_PROFILE", "STRONGROOM_STATE_DIR")

PROFILE_NAME = "bench"  # the profile file's stem is the profile name strongroom tags with
SET_BASE = "bench"  # --name for every strongroom run, so the staging path never changes
TEXT = (
    "strongroom overhead benchmark: the quick brown fox jumps over the lazy dog; "
    "pack my box with five dozen liquor jugs. "
)


class BenchError(Exception):
    """A command failed or the setup is unusable: the benchmark cannot go on."""


# --------------------------------------------------------------------------- processes


@dataclass
class Ran:
    seconds: float
    stdout: str
    stderr: str


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_timed(argv: Sequence[str], env: dict[str, str], label: str) -> Ran:
    """Run argv (no shell), stdout and stderr read fully; wall time of the whole run."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            list(argv), env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False,
        )
    except OSError as exc:
        raise BenchError(f"{label}: cannot start {argv[0]}: {exc}") from None
    seconds = time.perf_counter() - start
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        shown = " ".join(argv)
        raise BenchError(
            f"{label} failed with exit code {proc.returncode}\n  command: {shown}\n"
            f"  stderr:\n{tail(stderr) or '(empty)'}\n  stdout:\n{tail(stdout) or '(empty)'}"
        )
    return Ran(seconds, stdout, stderr)


# An installed strongroom runs from byte-compiled modules (pip compiles them at install
# time). A checkout run with PYTHONDONTWRITEBYTECODE set (as on CI machines) would compile
# every module from source on every start, ~0.12 s that no user pays, so the benches
# keep the bytecode in the venv and compile it once, untimed (compile_bytecode).
PYCACHE = ROOT / ".venv" / "pycache"


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in RESTIC_VARS + STRONGROOM_VARS + ("PYTHONDONTWRITEBYTECODE",)}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def compile_bytecode() -> None:
    """strongroom's modules byte-compiled where base_env's Python looks for them."""
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", "-j", "0",
                    str(ROOT / "orchestrator"), str(ROOT / "hooks")],
                   env=base_env(), check=True, stdout=subprocess.DEVNULL)


def restic_env(repo: Path, password_file: Path, cache_dir: Path) -> dict[str, str]:
    """What strongroom's base_env gives restic."""
    env = base_env()
    env.update(
        RESTIC_REPOSITORY=str(repo),
        RESTIC_PASSWORD_FILE=str(password_file),
        RESTIC_CACHE_DIR=str(cache_dir),
        RESTIC_PROGRESS_FPS="2",
        TZ="UTC",
    )
    return env


def restic_binary() -> str:
    # strongroom looks restic up on PATH; the raw side runs the very same binary.
    found = shutil.which("restic")
    if not found:
        raise BenchError("restic is not on PATH")
    return found


# --------------------------------------------------------------------------- the tree


@dataclass
class TreeStats:
    files: int = 0
    bytes: int = 0
    dirs: int = 0
    seconds: float = 0.0


def _text(length: int, serial: str) -> bytes:
    line = f"[{serial}] {TEXT}\n".encode()
    return (line * (length // len(line) + 1))[:length]


def _content(length: int, serial: str) -> bytes:
    """Half fresh random bytes (never dedupes or compresses), half text (compresses well)."""
    random_part = length // 2
    return os.urandom(random_part) + _text(length - random_part, serial)


def generate_tree(root: Path, size_mib: int, small_files: int, large_files: int,
                  seed: int) -> TreeStats:
    start = time.perf_counter()
    rng = random.Random(seed)
    stats = TreeStats()
    total = size_mib * MIB
    small_sizes = [rng.randint(1 * KIB, 8 * KIB) for _ in range(small_files)]
    small_total = sum(small_sizes)
    large_total = max(0, total - small_total)
    if large_files and large_total < large_files * KIB:
        raise BenchError(
            f"--size-mib {size_mib} leaves no room for {large_files} large file(s) after "
            f"{small_files} small ones ({small_total / MIB:.1f} MiB); raise --size-mib"
        )

    # Small files: ~50 a folder, folders two levels deep under small/ (dNN/eNN/fNN).
    per_leaf = 50
    leaves = max(1, math.ceil(small_files / per_leaf))
    fanout = max(1, math.ceil(leaves ** (1 / 3)))
    made: set[Path] = set()
    for index, size in enumerate(small_sizes):
        leaf = index // per_leaf
        folder = (root / "small" / f"d{leaf // (fanout * fanout):02d}"
                  / f"e{(leaf // fanout) % fanout:02d}" / f"f{leaf % fanout:02d}")
        if folder not in made:
            folder.mkdir(parents=True, exist_ok=True)
            made.add(folder)
        (folder / f"file{index:06d}.dat").write_bytes(_content(size, f"s{index}"))
        stats.files += 1
        stats.bytes += size

    # Large files: the rest of the size, written a block at a time.
    if large_files:
        folder = root / "large"
        folder.mkdir(parents=True, exist_ok=True)
        made.add(folder)
        each = large_total // large_files
        for index in range(large_files):
            size = each if index < large_files - 1 else large_total - each * (large_files - 1)
            with open(folder / f"large{index:03d}.bin", "wb") as handle:
                written, block = 0, 0
                while written < size:
                    chunk = min(BLOCK, size - written)
                    handle.write(_content(chunk, f"l{index}b{block}"))
                    written += chunk
                    block += 1
            stats.files += 1
            stats.bytes += size
    stats.dirs = len({p for folder in made for p in [folder, *folder.parents]
                      if str(p).startswith(str(root))})
    stats.seconds = time.perf_counter() - start
    return stats


# --------------------------------------------------------------------------- one round's repos


@dataclass
class Pair:
    """Two fresh repositories, one per side, with everything each side needs."""

    folder: Path
    tree: Path
    password_file: Path
    host: str
    sr_repo: Path = field(init=False)
    sr_state: Path = field(init=False)
    profile: Path = field(init=False)
    raw_repo: Path = field(init=False)
    raw_cache: Path = field(init=False)
    raw_staging: Path = field(init=False)

    def __post_init__(self) -> None:
        self.sr_repo = self.folder / "repo-strongroom"
        self.sr_state = self.folder / "state-strongroom"
        self.profile = self.folder / f"{PROFILE_NAME}.toml"
        self.raw_repo = self.folder / "repo-raw"
        self.raw_cache = self.folder / "cache-raw"
        # Same shape as strongroom's <state>/sets/<base> staging folder.
        self.raw_staging = self.folder / "state-raw" / "sets" / SET_BASE

    def create(self, restic: str) -> None:
        self.folder.mkdir(parents=True)
        q = json.dumps  # a JSON string is a valid TOML basic string
        self.profile.write_text(
            f"state_dir = {q(str(self.sr_state))}\n\n"
            f"[repositories.local]\n"
            f"url = {q(str(self.sr_repo))}\n"
            f"password_file = {q(str(self.password_file))}\n\n"
            f"[config]\n"
            f"tree = [{q(str(self.tree))}]\n"
        )
        # strongroom keeps restic's cache in <state>/cache/restic; init with the same one.
        sr_cache = self.sr_state / "cache" / "restic"
        for repo, cache, label in ((self.sr_repo, sr_cache, "strongroom"),
                                   (self.raw_repo, self.raw_cache, "raw")):
            run_timed([restic, "init", "--repository-version", "2"],
                      restic_env(repo, self.password_file, cache),
                      f"restic init of the {label} repository")


# --------------------------------------------------------------------------- the two sides


@dataclass
class Sample:
    seconds: float
    note: str = ""


def _wait_for_new_second(after: float) -> None:
    """Sleep (untimed) until the wall clock is past the second `after` fell in."""
    target = math.floor(after) + 1.0 + 0.02
    delay = target - time.time()
    if delay > 0:
        time.sleep(delay)


class Sides:
    def __init__(self, restic: str, tree: Path, password_file: Path, host: str) -> None:
        self.restic = restic
        self.tree = tree
        self.password_file = password_file
        self.host = host
        self.last_strongroom_end = 0.0
        self.set_names: list[str] = []

    def strongroom(self, pair: Pair, verify: bool) -> Sample:
        _wait_for_new_second(self.last_strongroom_end)
        argv = [str(STRONGROOM), "create-backup", "--verify" if verify else "--no-verify",
                "-p", str(pair.profile), "--type", "config", "--name", SET_BASE]
        env = base_env()
        os.sync()
        ran = run_timed(argv, env, "strongroom create-backup")
        self.last_strongroom_end = time.time()
        match = re.search(r"created (\S+) \(id (\w+)\).*?: (\d+) files, ([^,]+), ([^,]+) added",
                          ran.stdout)
        if not match:
            raise BenchError(f"strongroom create-backup printed no result line:\n{ran.stdout}")
        name = match.group(1)
        if name in self.set_names:
            raise BenchError(f"set name {name} was used twice: the runs are not distinct sets")
        self.set_names.append(name)
        return Sample(ran.seconds, f"{match.group(3)} files, {match.group(5)} added")

    def raw(self, pair: Pair) -> Sample:
        started = datetime.now(UTC).replace(microsecond=0)
        stamp = started.strftime("%Y%m%d-%H%M%S")
        set_name = f"{SET_BASE}-{stamp}"
        # What strongroom stages before it calls restic: a manifest and the run log.
        manifest = {
            "format": 1, "set": set_name, "name": SET_BASE, "type": "config",
            "profile": PROFILE_NAME, "host": self.host, "started": started.isoformat(),
            "services": [], "include_data": False, "compress": True,
            "paths": [{"source": str(self.tree), "logical": "config/tree", "kind": "config",
                       "owner": "tree", "excludes": []}],
            "streams": [], "tools": {"strongroom": "bench", "engine": "restic"},
        }
        (pair.raw_staging / "logs").mkdir(parents=True, exist_ok=True)
        (pair.raw_staging / "metadata.json").write_text(json.dumps(manifest, indent=2) + "\n")
        (pair.raw_staging / "logs" / "backup.log").write_text(
            f"{started.isoformat()} INFO set {set_name}: 1 path(s) into local\n"
        )
        tags = ["strongroom", f"set={set_name}", "part=files", "type=config",
                f"profile={PROFILE_NAME}", "streams=0"]
        argv = [self.restic, "backup", "--json", "--host", self.host,
                "--time", started.strftime("%Y-%m-%d %H:%M:%S"), "--compression", "auto"]
        for tag in tags:
            argv += ["--tag", tag]
        argv += ["--", str(self.tree), str(pair.raw_staging)]
        env = restic_env(pair.raw_repo, self.password_file, pair.raw_cache)
        os.sync()
        ran = run_timed(argv, env, "raw restic backup")
        summary = None
        for line in ran.stdout.splitlines():
            if line.startswith("{") and '"summary"' in line:
                summary = json.loads(line)
        if not summary or not summary.get("snapshot_id"):
            raise BenchError(f"raw restic backup reported no snapshot:\n{tail(ran.stdout)}")
        files = summary.get("total_files_processed", 0)
        added = summary.get("data_added", 0)
        return Sample(ran.seconds, f"{files} files, {human(added)} added")


def source_revision() -> str:
    """The project's git commit, marked dirty when tracked files differ (read-only git)."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain",
                                "--untracked-files=no", "--", "orchestrator"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "git revision unknown"
    return f"git {head}{' + uncommitted changes in orchestrator/' if dirty else ''}"


def human(count: float) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


# --------------------------------------------------------------------------- the cases


@dataclass
class Series:
    label: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def times(self) -> list[float]:
        return [s.seconds for s in self.samples]

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def paired(ours: Series, raw: Series) -> tuple[float, float]:
    """Median of the per-round ratios and of the per-round differences (seconds)."""
    ratios = [a / b for a, b in zip(ours.times, raw.times, strict=True)]
    deltas = [a - b for a, b in zip(ours.times, raw.times, strict=True)]
    return statistics.median(ratios), statistics.median(deltas)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def first_backup(sides: Sides, work: Path, rounds: int, restic: str
                 ) -> tuple[Series, Series, Pair]:
    sr, raw = Series("strongroom --no-verify"), Series("raw restic")
    pair: Pair | None = None
    for index in range(rounds):
        # Earlier rounds' repositories stay until the end: deleting ~2 GiB between timed
        # runs (ext4 with online discard here) adds I/O noise to the next runs.
        pair = Pair(work / f"round{index + 1}", sides.tree, sides.password_file, sides.host)
        pair.create(restic)
        steps: list[tuple[Series, Callable[[], Sample]]] = [
            (sr, functools.partial(sides.strongroom, pair, verify=False)),
            (raw, functools.partial(sides.raw, pair)),
        ]
        if index % 2:
            steps.reverse()
        for series, step in steps:
            sample = step()
            series.samples.append(sample)
            log(f"  first backup round {index + 1}/{rounds}: {series.label:<24} "
                f"{sample.seconds:8.3f} s  ({sample.note})")
    assert pair is not None
    return sr, raw, pair


def rerun(sides: Sides, pair: Pair, rounds: int) -> tuple[Series, Series, Series]:
    sr, raw, srv = Series("strongroom --no-verify"), Series("raw restic"), Series(
        "strongroom --verify")
    steps: list[tuple[Series, Callable[[], Sample]]] = [
        (sr, lambda: sides.strongroom(pair, verify=False)),
        (raw, lambda: sides.raw(pair)),
        (srv, lambda: sides.strongroom(pair, verify=True)),
    ]
    for index in range(rounds):
        # Rotate the order each round: every side goes first, second and last in turn.
        shift = index % len(steps)
        order = steps[shift:] + steps[:shift]
        if index % 2:
            order.reverse()
        for series, step in order:
            sample = step()
            series.samples.append(sample)
            log(f"  re-run round {index + 1}/{rounds}: {series.label:<24} "
                f"{sample.seconds:8.3f} s  ({sample.note})")
    return sr, raw, srv


def startup(runs: int) -> list[Series]:
    env = base_env()
    commands = [
        ("strongroom --help", [str(STRONGROOM), "--help"]),
        ("python -c pass", [str(PYTHON), "-c", "pass"]),
        ("python -c 'import click'", [str(PYTHON), "-c", "import click"]),
    ]
    result = []
    for label, argv in commands:
        run_timed(argv, env, label)  # warm-up, not counted
        series = Series(label)
        for _ in range(runs):
            series.samples.append(Sample(run_timed(argv, env, label).seconds))
        result.append(series)
    return result


# --------------------------------------------------------------------------- output


def table(rows: list[tuple[str, Series]]) -> str:
    header = ("case", "command", "n", "median s", "min s", "max s", "last run")
    body = [
        (case, s.label, str(len(s.samples)), f"{s.median:.3f}", f"{min(s.times):.3f}",
         f"{max(s.times):.3f}", s.samples[-1].note or "-")
        for case, s in rows
    ]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i in (0, 1, 6) else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
             for r in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Wall-time overhead of strongroom create-backup over the raw restic "
        "command it runs, and strongroom --help start-up time.")
    parser.add_argument("--rounds", type=int, metavar="N",
                        help="rounds for both cases (default: 3 first-backup, 5 re-run)")
    parser.add_argument("--first-rounds", type=int, metavar="N",
                        help="first-backup rounds (default 3, or --rounds)")
    parser.add_argument("--rerun-rounds", type=int, metavar="N",
                        help="unchanged re-run rounds (default 5, or --rounds)")
    parser.add_argument("--size-mib", type=int, default=1024, metavar="N",
                        help="total tree size in MiB (default 1024)")
    parser.add_argument("--small-files", type=int, default=20_000, metavar="N",
                        help="small files of 1-8 KiB (default 20000)")
    parser.add_argument("--large-files", type=int, default=50, metavar="N",
                        help="large files making up the rest of the size (default 50)")
    parser.add_argument("--help-runs", type=int, default=10, metavar="N",
                        help="runs of strongroom --help and python -c pass (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the file sizes")
    parser.add_argument("--tmpdir", metavar="DIR", help="where the temp dir goes")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    opts = parser.parse_args(argv)
    compile_bytecode()
    first_rounds = opts.first_rounds or opts.rounds or 3
    rerun_rounds = opts.rerun_rounds or opts.rounds or 5
    if min(first_rounds, rerun_rounds, opts.help_runs) < 1:
        parser.error("rounds and runs must be at least 1")
    if opts.size_mib < 1 or opts.small_files < 0 or opts.large_files < 0:
        parser.error("--size-mib must be >= 1, file counts >= 0")

    if not STRONGROOM.exists():
        print(f"bench/overhead.py: error: {STRONGROOM} not found", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="strongroom-bench-", dir=opts.tmpdir))
    try:
        return _bench(opts, work, first_rounds, rerun_rounds)
    except BenchError as exc:
        print(f"bench/overhead.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench/overhead.py: interrupted", file=sys.stderr)
        return 130
    finally:
        if opts.keep:
            print(f"kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _bench(opts: argparse.Namespace, work: Path, first_rounds: int, rerun_rounds: int) -> int:
    restic = restic_binary()
    version = run_timed([restic, "version"], base_env(), "restic version").stdout.strip()
    sr_version = run_timed([str(STRONGROOM), "--version"], base_env(),
                           "strongroom --version").stdout.strip()
    revision = source_revision()
    host = socket.gethostname()
    password_file = work / "password"
    password_file.write_text("strongroom-bench-password\n")
    password_file.chmod(0o600)
    tree = work / "tree"

    log(f"generating the tree in {tree} …")
    stats = generate_tree(tree, opts.size_mib, opts.small_files, opts.large_files, opts.seed)
    log(f"  {stats.files} files, {stats.dirs} folders, {human(stats.bytes)} "
        f"in {stats.seconds:.1f} s")

    sides = Sides(restic, tree, password_file, host)
    log(f"first backup: {first_rounds} round(s), fresh repositories each round")
    first_sr, first_raw, pair = first_backup(sides, work, first_rounds, restic)
    log(f"unchanged re-run: {rerun_rounds} round(s) into the last round's repositories")
    re_sr, re_raw, re_srv = rerun(sides, pair, rerun_rounds)
    log(f"start-up: {opts.help_runs} runs each")
    help_sr, py_pass, py_click = startup(opts.help_runs)

    first_ratio, first_delta = paired(first_sr, first_raw)
    re_ratio, re_delta = paired(re_sr, re_raw)
    rev_ratio, rev_delta = paired(re_srv, re_raw)
    first_ok = first_ratio <= GOAL_FIRST_RATIO
    re_ok = re_ratio <= GOAL_RERUN_RATIO or re_delta <= GOAL_RERUN_DELTA
    rev_ok = rev_ratio <= GOAL_RERUN_RATIO or rev_delta <= GOAL_RERUN_DELTA
    help_ok = help_sr.median <= GOAL_HELP_SECONDS

    print("strongroom overhead benchmark")
    print(f"  {sr_version} ({revision}); {version}")
    print(f"  python {platform.python_version()}, {os.cpu_count()} CPU(s), "
          f"{platform.system()} {platform.release()}")
    print(f"  tree: {stats.files} files ({opts.small_files} small of 1-8 KiB, "
          f"{opts.large_files} large), {stats.dirs} folders, {human(stats.bytes)}")
    print(f"  rounds: first backup {first_rounds}, re-run {rerun_rounds}; "
          f"start-up {opts.help_runs} runs")
    print()
    print(table([
        ("first backup", first_sr), ("first backup", first_raw),
        ("re-run", re_sr), ("re-run", re_raw), ("re-run", re_srv),
        ("start-up", help_sr), ("start-up", py_pass), ("start-up", py_click),
    ]))
    print()
    print("summary (ratio, delta: medians over rounds of strongroom/raw and strongroom-raw)")
    rows = [
        ("first backup", first_sr.median, first_raw.median, first_ratio, first_delta,
         f"ratio <= {GOAL_FIRST_RATIO:.2f}", first_ok),
        ("re-run", re_sr.median, re_raw.median, re_ratio, re_delta,
         f"ratio <= {GOAL_RERUN_RATIO:.2f} or delta <= {GOAL_RERUN_DELTA:.2f} s", re_ok),
        ("re-run --verify", re_srv.median, re_raw.median, rev_ratio, rev_delta,
         "(re-run goal, for reference)", rev_ok),
    ]
    for label, ours, theirs, ratio, delta, goal, ok in rows:
        print(f"  {label:<17} strongroom {ours:8.3f} s  raw {theirs:8.3f} s  ratio {ratio:5.3f}"
              f"  delta {delta:+7.3f} s  goal {goal:<33} {verdict(ok)}")
    print(f"  {'strongroom --help':<17} {help_sr.median:8.3f} s (python -c pass "
          f"{py_pass.median:.3f} s, import click {py_click.median:.3f} s)"
          f"{'':<16}goal {'<= ' + format(GOAL_HELP_SECONDS, '.2f') + ' s':<33} "
          f"{verdict(help_ok)}")
    print("  per-round strongroom-raw deltas, s (restic's own run-to-run spread is in the table):")
    for label, mine, raws in (("first backup", first_sr, first_raw), ("re-run", re_sr, re_raw),
                              ("re-run --verify", re_srv, re_raw)):
        deltas = " ".join(f"{a - b:+.2f}" for a, b in zip(mine.times, raws.times, strict=True))
        print(f"    {label:<17} {deltas}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
