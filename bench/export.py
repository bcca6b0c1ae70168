#!/usr/bin/env python3
"""download-backup against the shell pipelines it replaces: wall time, peak RSS, sizes.

    .venv/bin/python bench/export.py [--rounds N] [--size-mib N] [--small-files N]
                                     [--large-files N] [--xz-size-mib N] [--keep]

It generates a tree (default about 1 GiB: 20,000 small files of 1-8 KiB in nested
directories plus 50 large files; bench/overhead.py's generator), backs it up once with
`strongroom create-backup --type config --no-verify --name bench` (not timed) and then
compares, in alternating rounds,

    strongroom download-backup -p PROFILE --backup bench --format FMT -o OUT --force --json

(orchestrator/export/download.py: `restic snapshots`, then one `restic dump --archive
tar SNAP /` through a 1 MiB pipe, parsed by tar_reader.py, re-rooted to logical names
and written through compress.py's block-parallel gzip / xz or zipstream.py's pipelined
entries on a 2-thread pool; the manifest staged on this host is checked against the
stored one in the stream) with the pipelines

    restic dump --archive tar SNAP / | gzip -6 > OUT
    restic dump --archive tar SNAP / | pigz -6 -p 2 > OUT
    restic dump --archive tar SNAP / | xz -T2 -6 > OUT
    restic dump --archive tar SNAP / > /dev/null              (reference: restic alone)

(Popen chains joined by one OS pipe, every exit code checked, the same restic binary,
repository, cache and environment strongroom gives restic). strongroom fsyncs its output
before renaming it into place, so each pipeline's time includes an fsync of OUT too; the
time without it is printed beside it.

tar.gz and zip are compared on the main tree; xz is slow (minutes per GiB), so tar.xz is
compared on a separate, smaller tree (--xz-size-mib, default 128) with its own profile,
repository and set. Peak RSS is the strongroom Python process alone (psutil every 20 ms
from a sampler thread, with the kernel's VmHWM as a cross-check; restic not counted).
The per-thread CPU of the strongroom process and each process's CPU (wait4) are printed
so a miss can be traced to strongroom's main thread, its compress pool or restic.

It is a benchmark, not a test: it exits 0 whether or not the goals are met, and
non-zero only when a command fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil
from overhead import (
    BenchError,
    TreeStats,
    base_env,
    compile_bytecode,
    generate_tree,
    human,
    restic_binary,
    restic_env,
    run_timed,
    source_revision,
    tail,
    verdict,
)

ROOT = Path(__file__).resolve().parent.parent
STRONGROOM = ROOT / ".venv" / "bin" / "strongroom"
MIB = 1024 * 1024

GOAL_GZ_RATIO = 1.15
GOAL_ZIP_RATIO = 1.25
GOAL_XZ_RATIO = 1.15
GOAL_RSS_MIB = 150.0
SAMPLE_INTERVAL = 0.020  # seconds between samples of the strongroom process
QUIET_CPUS = 0.25  # the host counts as quiet below this many busy CPUs

PROFILE_NAME = "bench"
SET_NAME = "bench"
FORMATS = ("tar.gz", "zip", "tar.xz")


def source_fingerprint() -> str:
    """A hash of the product's Python sources as they are on disk (committed or not)."""
    digest = hashlib.sha256()
    for folder in ("orchestrator", "hooks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


@dataclass
class Footprint:
    """The strongroom Python process alone, sampled with psutil while it ran."""

    main_tid: int
    samples: int = 0
    peak_rss: int = 0
    hwm: int = 0  # VmHWM from /proc/PID/status: the kernel's own peak, a cross-check
    user: float = 0.0
    system: float = 0.0
    thread_cpu: dict[int, float] = field(default_factory=dict)  # tid -> user + system
    children: list[tuple[float, str]] = field(default_factory=list)  # (seconds in, argv)

    @property
    def cpu(self) -> float:
        return self.user + self.system

    @property
    def main_cpu(self) -> float:
        return self.thread_cpu.get(self.main_tid, 0.0)

    def others(self) -> list[float]:
        """CPU of every thread but the main one, busiest first."""
        return sorted((cpu for tid, cpu in self.thread_cpu.items() if tid != self.main_tid),
                      reverse=True)


def _vm_hwm(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class Sampler(threading.Thread):
    """Samples RSS, CPU, per-thread CPU and new children of one process until stopped."""

    def __init__(self, pid: int, started: float) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.started = started
        self.foot = Footprint(main_tid=pid)
        self.halt = threading.Event()
        self.seen: set[int] = set()

    def run(self) -> None:
        try:
            target = psutil.Process(self.pid)
            own_argv = target.cmdline()
        except psutil.Error:
            return
        while not self.halt.is_set():
            try:
                with target.oneshot():
                    rss = target.memory_info().rss
                    times = target.cpu_times()
                    threads = target.threads()
                    children = target.children()
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                return
            now = time.perf_counter() - self.started
            foot = self.foot
            foot.samples += 1
            foot.peak_rss = max(foot.peak_rss, rss)
            foot.hwm = max(foot.hwm, _vm_hwm(self.pid))
            if times.user + times.system >= foot.cpu:  # a zombie may report zeros
                foot.user, foot.system = times.user, times.system
            for thread in threads:
                foot.thread_cpu[thread.id] = thread.user_time + thread.system_time
            for child in children:
                if child.pid in self.seen:
                    continue
                try:
                    argv = child.cmdline()
                except psutil.Error:
                    continue  # gone, or not readable yet: look again next time
                if argv == own_argv:
                    continue  # forked but not yet exec'd: still a copy of strongroom
                self.seen.add(child.pid)
                foot.children.append((now, _short(argv)))
            self.halt.wait(SAMPLE_INTERVAL)

    def stop(self) -> Footprint:
        self.halt.set()
        self.join()
        return self.foot


def _short(argv: Sequence[str]) -> str:
    """An argv for display: the program's base name, long hex ids cut to 8 digits."""
    words = [Path(argv[0]).name if argv else "?"]
    for word in argv[1:]:
        hexa = len(word) > 12 and all(c in "0123456789abcdef" for c in word)
        words.append(word[:8] if hexa else word)
    return " ".join(words)


def _cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _reap(proc: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Wait for proc with wait4: its exit code and the CPU of it and its reaped children."""
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, _cpu(usage)


def _read(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


def _fail(label: str, argv: Sequence[str], code: int, stderr: str, stdout: str = "") -> BenchError:
    return BenchError(
        f"{label} failed with exit code {code}\n  command: {' '.join(argv)}\n"
        f"  stderr:\n{tail(stderr) or '(empty)'}\n  stdout:\n{tail(stdout) or '(empty)'}"
    )


def _host_busy_seconds() -> float:
    """CPU seconds the whole host has spent busy (guest time is inside user time)."""
    times = psutil.cpu_times()
    return sum(float(getattr(times, name, 0.0))
               for name in ("user", "nice", "system", "irq", "softirq"))


def _self_cpu() -> float:
    return _cpu(resource.getrusage(resource.RUSAGE_SELF))


class HostMeter:
    """How busy the host was during a run, and how much of that was someone else."""

    def __init__(self) -> None:
        self.host = _host_busy_seconds()
        self.own = _self_cpu()

    def stop(self, seconds: float, tree_cpu: float) -> tuple[float, float]:
        """(CPUs busy on average, CPUs busy with anything but the run and this script)."""
        busy = _host_busy_seconds() - self.host
        foreign = busy - tree_cpu - (_self_cpu() - self.own)
        return busy / seconds, max(0.0, foreign) / seconds


def wait_for_quiet(limit: float) -> float:
    """Wait (untimed) until other processes leave the CPUs alone: below QUIET_CPUS busy
    over half a second, for at most `limit` seconds. Returns the seconds waited."""
    start = time.perf_counter()
    while True:
        before = _host_busy_seconds()
        time.sleep(0.5)
        if (_host_busy_seconds() - before) / 0.5 < QUIET_CPUS:
            break
        if time.perf_counter() - start >= limit:
            break
    return time.perf_counter() - start


@dataclass
class Run:
    """One timed command."""

    seconds: float  # wall time, as compared (pipelines: including the fsync of OUT)
    cpu: dict[str, float]  # process (with its reaped children) -> user + system CPU s
    out_bytes: int = 0
    sync_seconds: float = 0.0  # pipelines: the fsync of OUT, inside `seconds`
    host_busy: float = 0.0  # CPUs busy on average over the run (the whole host)
    foreign: float = 0.0  # of which other processes (not the run, not this script)
    waited: float = 0.0  # seconds spent waiting for a quiet host before the run
    foot: Footprint | None = None
    reported: float = 0.0  # strongroom: its own "duration" (from set selection to the end)
    entries: int = 0

    @property
    def unsynced(self) -> float:
        return self.seconds - self.sync_seconds

    @property
    def tree_cpu(self) -> float:
        return sum(self.cpu.values())


def run_strongroom(argv: Sequence[str], label: str, out: Path) -> Run:
    """strongroom download-backup, sampled; wall time from spawn to reaping."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        os.sync()
        meter = HostMeter()
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(list(argv), env=base_env(), stdin=subprocess.DEVNULL,
                                    stdout=stdout, stderr=stderr)
        except OSError as exc:
            raise BenchError(f"{label}: cannot start {argv[0]}: {exc}") from None
        sampler = Sampler(proc.pid, start)
        sampler.start()
        code, cpu = _reap(proc)
        seconds = time.perf_counter() - start
        busy, foreign = meter.stop(seconds, cpu)
        foot = sampler.stop()
        text = _read(stdout)
        if code != 0:
            raise _fail(label, argv, code, _read(stderr), text)
    try:
        result = json.loads(text)
    except ValueError:
        raise BenchError(f"{label} printed no JSON result:\n{tail(text)}") from None
    if int(result["bytes"]) != out.stat().st_size:
        raise BenchError(f"{label}: reported {result['bytes']} bytes, {out} has "
                         f"{out.stat().st_size}")
    return Run(seconds, {"strongroom": foot.cpu, "restic": max(0.0, cpu - foot.cpu)},
               out.stat().st_size, host_busy=busy, foreign=foreign, foot=foot,
               reported=float(result["duration"]), entries=int(result["entries"]))


def run_pipeline(producer: Sequence[str], consumer: Sequence[str] | None, env: dict[str, str],
                 out: Path | None, label: str) -> Run:
    """producer [| consumer] > out (or /dev/null); both exit codes checked; out fsynced."""
    names = [Path(producer[0]).name] + ([Path(consumer[0]).name] if consumer else [])
    with tempfile.TemporaryFile() as prod_err, tempfile.TemporaryFile() as cons_err, \
            open(out if out else os.devnull, "wb") as sink:
        os.sync()
        meter = HostMeter()
        start = time.perf_counter()
        read_end, write_end = os.pipe()
        cons: subprocess.Popen[bytes] | None = None
        try:
            try:
                prod = subprocess.Popen(list(producer), env=env, stdin=subprocess.DEVNULL,
                                        stdout=write_end if consumer else sink, stderr=prod_err)
            except OSError as exc:
                raise BenchError(f"{label}: cannot start {producer[0]}: {exc}") from None
            if consumer:
                try:
                    cons = subprocess.Popen(list(consumer), env=env, stdin=read_end,
                                            stdout=sink, stderr=cons_err)
                except OSError as exc:
                    prod.kill()
                    prod.wait()
                    raise BenchError(f"{label}: cannot start {consumer[0]}: {exc}") from None
        finally:
            # Only the children hold the pipe now: EOF and SIGPIPE reach them.
            os.close(read_end)
            os.close(write_end)
        cpu: dict[str, float] = {}
        cons_code = 0
        if cons is not None:
            cons_code, cpu[names[1]] = _reap(cons)
        prod_code, cpu[names[0]] = _reap(prod)
        piped = time.perf_counter() - start
        if out:
            sink.flush()
            os.fsync(sink.fileno())
        seconds = time.perf_counter() - start
        busy, foreign = meter.stop(seconds, sum(cpu.values()))
        if prod_code != 0:
            raise _fail(f"{label} (producer)", producer, prod_code, _read(prod_err))
        if cons is not None and cons_code != 0:
            assert consumer is not None
            raise _fail(f"{label} (consumer)", consumer, cons_code, _read(cons_err))
    return Run(seconds, cpu, out.stat().st_size if out else 0,
               sync_seconds=seconds - piped if out else 0.0, host_busy=busy, foreign=foreign)


# --------------------------------------------------------------------------- one tree and its set


@dataclass
class Target:
    """A generated tree, a profile backing it up, its repository and its one set."""

    label: str
    folder: Path
    password_file: Path
    tree: Path = field(init=False)
    profile: Path = field(init=False)
    state: Path = field(init=False)
    repo: Path = field(init=False)
    outputs: Path = field(init=False)
    stats: TreeStats = field(default_factory=TreeStats)
    size_mib: int = 0
    small_files: int = 0
    large_files: int = 0
    set_name: str = ""
    snapshot: str = ""
    backup_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.tree = self.folder / "tree"
        self.profile = self.folder / f"{PROFILE_NAME}.toml"
        self.state = self.folder / "state"
        self.repo = self.folder / "repo"
        self.outputs = self.folder / "out"

    def env(self) -> dict[str, str]:
        # strongroom keeps restic's cache in <state>/cache/restic: the raw side shares it.
        return restic_env(self.repo, self.password_file, self.state / "cache" / "restic")

    def describe(self) -> str:
        return (f"{self.stats.files} files ({self.small_files} small of 1-8 KiB, "
                f"{self.large_files} large), {self.stats.dirs} folders, "
                f"{human(self.stats.bytes)}")

    def create(self, restic: str, size_mib: int, small_files: int, large_files: int,
               seed: int) -> None:
        self.size_mib, self.small_files, self.large_files = size_mib, small_files, large_files
        self.folder.mkdir(parents=True)
        self.outputs.mkdir()
        log(f"[{self.label}] generating the tree in {self.tree} …")
        self.stats = generate_tree(self.tree, size_mib, small_files, large_files, seed)
        log(f"  {self.describe()} in {self.stats.seconds:.1f} s")
        q = json.dumps  # a JSON string is a valid TOML basic string
        self.profile.write_text(
            f"state_dir = {q(str(self.state))}\n\n"
            f"[repositories.local]\n"
            f"url = {q(str(self.repo))}\n"
            f"password_file = {q(str(self.password_file))}\n\n"
            f"[config]\n"
            f"tree = [{q(str(self.tree))}]\n"
        )
        run_timed([restic, "init", "--repository-version", "2"], self.env(),
                  f"restic init ({self.label})")
        log(f"[{self.label}] strongroom create-backup (not timed) …")
        ran = run_timed([str(STRONGROOM), "create-backup", "--no-verify", "-p",
                         str(self.profile), "--type", "config", "--name", SET_NAME],
                        base_env(), f"strongroom create-backup ({self.label})")
        self.backup_seconds = ran.seconds
        listed = run_timed([str(STRONGROOM), "list-backups", "--json", "-p", str(self.profile)],
                           base_env(), f"strongroom list-backups ({self.label})").stdout
        try:
            backups = json.loads(listed)["backups"]
        except (ValueError, KeyError, TypeError):
            raise BenchError(f"strongroom list-backups printed no backups:\n{tail(listed)}"
                             ) from None
        if len(backups) != 1 or not backups[0].get("id"):
            raise BenchError(f"expected one set with an id, got:\n{tail(listed)}")
        self.set_name, self.snapshot = str(backups[0]["set"]), str(backups[0]["id"])
        log(f"  set {self.set_name}, final snapshot {self.snapshot}, "
            f"{self.backup_seconds:.1f} s")


# --------------------------------------------------------------------------- the sides


@dataclass
class Series:
    label: str
    runs: list[Run] = field(default_factory=list)

    @property
    def times(self) -> list[float]:
        return [r.seconds for r in self.runs]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    def med(self, value: Callable[[Run], float]) -> float:
        return statistics.median(value(r) for r in self.runs)


@dataclass
class Side:
    series: Series
    step: Callable[[int], Run]  # round number -> one timed run


def strongroom_side(target: Target, fmt: str) -> Side:
    series = Series(f"strongroom {fmt}")

    def step(index: int) -> Run:
        out = target.outputs / f"strongroom-r{index}.{fmt}"
        argv = [str(STRONGROOM), "download-backup", "-p", str(target.profile), "--backup",
                SET_NAME, "--format", fmt, "-o", str(out), "--force", "--json"]
        return run_strongroom(argv, f"strongroom download-backup --format {fmt}", out)

    return Side(series, step)


def pipeline_side(target: Target, restic: str, label: str, consumer: list[str] | None,
                  suffix: str) -> Side:
    series = Series(label)
    producer = [restic, "dump", "--archive", "tar", target.snapshot, "/"]

    def step(index: int) -> Run:
        out = target.outputs / f"{suffix}-r{index}" if consumer else None
        return run_pipeline(producer, consumer, target.env(), out, label)

    return Side(series, step)


def alternate(sides: list[Side], rounds: int, what: str, quiet_wait: float) -> None:
    """Every side once a round; the order rotates each round and flips every other one."""
    for index in range(rounds):
        shift = index % len(sides)
        order = sides[shift:] + sides[:shift]
        if index % 2:
            order.reverse()
        for side in order:
            waited = wait_for_quiet(quiet_wait) if quiet_wait > 0 else 0.0
            if waited > 1.0:
                log(f"  (waited {waited:.0f} s for other processes to leave the CPUs)")
            run = side.step(index + 1)
            run.waited = waited
            side.series.runs.append(run)
            extra = f", {human(run.out_bytes)}" if run.out_bytes else ""
            sync = f" (fsync {run.sync_seconds:.2f} s)" if run.sync_seconds else ""
            rss = f", peak RSS {run.foot.peak_rss / MIB:.1f} MiB" if run.foot else ""
            log(f"  {what} round {index + 1}/{rounds}: {side.series.label:<32} "
                f"{run.seconds:8.3f} s{sync}{extra}, CPU {run.tree_cpu:.1f} s{rss}, "
                f"others {run.foreign:.2f} CPUs")


def check_output(path: Path, fmt: str) -> str:
    """Untimed integrity test of one of strongroom's outputs."""
    if fmt == "zip":
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            count = len(archive.infolist())
        if bad is not None:
            raise BenchError(f"{path}: bad CRC in {bad}")
        return f"zipfile testzip ok, {count} entries"
    tool = ["gzip", "-t"] if fmt == "tar.gz" else ["xz", "-t"]
    run_timed([*tool, str(path)], base_env(), f"{' '.join(tool)} {path.name}")
    return f"{' '.join(tool)} ok"


# --------------------------------------------------------------------------- output


def ratios(ours: Series, theirs: Series, synced: bool = True) -> list[float]:
    return [a.seconds / (b.seconds if synced else b.unsynced)
            for a, b in zip(ours.runs, theirs.runs, strict=True)]


def table(rows: list[tuple[str, Series]]) -> str:
    header = ("tree", "command", "n", "median s", "min s", "max s", "no-fsync s", "CPU s",
              "others", "output")
    body = [
        (tree, s.label, str(len(s.runs)), f"{s.median:.3f}", f"{min(s.times):.3f}",
         f"{max(s.times):.3f}",
         f"{s.med(lambda r: r.unsynced):.3f}" if s.runs[0].sync_seconds else "-",
         f"{s.med(lambda r: r.tree_cpu):.1f}",
         f"{max(r.foreign for r in s.runs):.2f}",
         human(s.runs[-1].out_bytes) if s.runs[-1].out_bytes else "-")
        for tree, s in rows
    ]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i in (0, 1) else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
             for r in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("  " + line for line in lines)


def _process_cpu(series: Series, name: str) -> float:
    return series.med(lambda r: r.cpu[name])


def cpu_lines(sr: Series, pipes: list[Series], tree_bytes: int) -> list[str]:
    """Where the CPU went: strongroom's threads and restic against the pipeline's processes."""
    gib = tree_bytes / (1024 * MIB)
    lines = []
    main = sr.med(lambda r: r.foot.main_cpu if r.foot else 0.0)
    pool = sr.med(lambda r: sum(r.foot.others()[:2]) if r.foot else 0.0)
    rest = sr.med(lambda r: sum(r.foot.others()[2:]) if r.foot else 0.0)
    own = sr.med(lambda r: r.cpu["strongroom"])
    restic = sr.med(lambda r: r.cpu["restic"])
    lines.append(
        f"    {sr.label:<30} wall {sr.median:7.2f} s  strongroom process {own:6.1f} s "
        f"(main thread {main:.1f}, 2 busiest others = pool {pool:.1f}, rest {rest:.1f}) "
        f"+ restic {restic:.1f} s = {own + restic:.1f} CPU s ({(own + restic) / gib:.1f} s/GiB); "
        f"host busy {sr.med(lambda r: r.host_busy):.2f} CPUs")
    for pipe in pipes:
        parts = " + ".join(f"{name} {_process_cpu(pipe, name):.1f} s"
                           for name in pipe.runs[0].cpu)
        lines.append(
            f"    {pipe.label:<30} wall {pipe.median:7.2f} s  {parts} = "
            f"{pipe.med(lambda r: r.tree_cpu):.1f} CPU s "
            f"({pipe.med(lambda r: r.tree_cpu) / gib:.1f} s/GiB); "
            f"host busy {pipe.med(lambda r: r.host_busy):.2f} CPUs")
    return lines


def timeline(run: Run) -> str:
    assert run.foot is not None
    steps = ", ".join(f"`{argv}` at {at:.2f} s" for at, argv in run.foot.children)
    return (f"started {steps or 'no child seen'}; strongroom's own duration "
            f"{run.reported:.2f} s of {run.seconds:.2f} s wall")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="strongroom download-backup (tar.gz, zip, tar.xz) against restic dump "
        "--archive tar piped into gzip / pigz / xz: wall time, peak RSS, output size.")
    parser.add_argument("--rounds", type=int, default=3, metavar="N",
                        help="alternating rounds (default 3)")
    parser.add_argument("--size-mib", type=int, default=1024, metavar="N",
                        help="main tree size in MiB, for tar.gz and zip (default 1024)")
    parser.add_argument("--small-files", type=int, default=20_000, metavar="N",
                        help="small files of 1-8 KiB in the main tree (default 20000)")
    parser.add_argument("--large-files", type=int, default=50, metavar="N",
                        help="large files making up the rest of the size (default 50)")
    parser.add_argument("--xz-size-mib", type=int, default=128, metavar="N",
                        help="tree size for tar.xz in MiB (default 128); its file counts "
                        "scale with it unless given; 0 skips tar.xz")
    parser.add_argument("--xz-small-files", type=int, metavar="N",
                        help="small files in the xz tree (default: scaled from --small-files)")
    parser.add_argument("--xz-large-files", type=int, metavar="N",
                        help="large files in the xz tree (default: scaled, at least 1)")
    parser.add_argument("--quiet-wait", type=float, default=120, metavar="SECONDS",
                        help="before each timed run, wait up to this long (untimed) for "
                        f"the host to drop below {QUIET_CPUS} busy CPUs (default 120; 0: "
                        "do not wait)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the file sizes")
    parser.add_argument("--tmpdir", metavar="DIR", help="where the temp dir goes")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    opts = parser.parse_args(argv)
    compile_bytecode()
    if opts.rounds < 1:
        parser.error("--rounds must be at least 1")
    if opts.size_mib < 1 or opts.xz_size_mib < 0 or opts.small_files < 0 or \
            opts.large_files < 0:
        parser.error("--size-mib must be >= 1, --xz-size-mib >= 0, file counts >= 0")
    scale = opts.xz_size_mib / opts.size_mib
    if opts.xz_small_files is None:
        opts.xz_small_files = round(opts.small_files * scale)
    if opts.xz_large_files is None:
        opts.xz_large_files = max(1, round(opts.large_files * scale)) if opts.large_files else 0
    for tool in ("gzip", "pigz", "xz"):
        if shutil.which(tool) is None:
            print(f"bench/export.py: error: {tool} not found (apt-get install -y {tool})",
                  file=sys.stderr)
            return 2
    if not STRONGROOM.exists():
        print(f"bench/export.py: error: {STRONGROOM} not found", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="strongroom-export-bench-", dir=opts.tmpdir))
    try:
        return _bench(opts, work)
    except BenchError as exc:
        print(f"bench/export.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench/export.py: interrupted", file=sys.stderr)
        return 130
    finally:
        if opts.keep:
            print(f"kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _bench(opts: argparse.Namespace, work: Path) -> int:
    restic = restic_binary()
    env = base_env()

    def version(argv: list[str]) -> str:
        ran = run_timed(argv, env, " ".join(argv))
        return ((ran.stdout.strip() or ran.stderr.strip()).splitlines() or ["?"])[0]

    fingerprint = source_fingerprint()
    versions = "; ".join([
        version([str(STRONGROOM), "--version"])
        + f" ({source_revision()}; sources {fingerprint})",
        version([restic, "version"]), version(["pigz", "--version"]),
        version(["gzip", "--version"]), version(["xz", "--version"]),
    ])
    password_file = work / "password"
    password_file.write_text("strongroom-bench-password\n")
    password_file.chmod(0o600)

    main_t = Target("main", work / "main", password_file)
    main_t.create(restic, opts.size_mib, opts.small_files, opts.large_files, opts.seed)
    xz_t: Target | None = None
    if opts.xz_size_mib:
        xz_t = Target("xz", work / "xz", password_file)
        xz_t.create(restic, opts.xz_size_mib, opts.xz_small_files, opts.xz_large_files,
                    opts.seed)

    sr_gz, sr_zip = strongroom_side(main_t, "tar.gz"), strongroom_side(main_t, "zip")
    pigz = pipeline_side(main_t, restic, "restic dump | pigz -6 -p 2", ["pigz", "-6", "-p", "2"],
                         "pigz.tar.gz")
    gzip = pipeline_side(main_t, restic, "restic dump | gzip -6", ["gzip", "-6"], "gzip.tar.gz")
    null = pipeline_side(main_t, restic, "restic dump > /dev/null", None, "")
    log(f"tar.gz and zip: {opts.rounds} round(s) on the {human(main_t.stats.bytes)} tree")
    alternate([sr_gz, pigz, gzip, sr_zip, null], opts.rounds, "main", opts.quiet_wait)
    checks = {fmt: check_output(main_t.outputs / f"strongroom-r1.{fmt}", fmt)
              for fmt in ("tar.gz", "zip")}

    sr_xz = xz_pipe = xz_null = None
    if xz_t is not None:
        sr_xz = strongroom_side(xz_t, "tar.xz")
        xz_pipe = pipeline_side(xz_t, restic, "restic dump | xz -T2 -6", ["xz", "-T2", "-6"],
                                "xz.tar.xz")
        xz_null = pipeline_side(xz_t, restic, "restic dump > /dev/null", None, "")
        log(f"tar.xz: {opts.rounds} round(s) on the {human(xz_t.stats.bytes)} tree")
        alternate([sr_xz, xz_pipe, xz_null], opts.rounds, "xz", opts.quiet_wait)
        checks["tar.xz"] = check_output(xz_t.outputs / "strongroom-r1.tar.xz", "tar.xz")

    # ----------------------------------------------------------------- report
    rows = [("main", s.series) for s in (sr_gz, pigz, gzip, sr_zip, null)]
    if sr_xz and xz_pipe and xz_null:
        rows += [("xz", s.series) for s in (sr_xz, xz_pipe, xz_null)]
    print("strongroom export benchmark (download-backup vs restic dump --archive tar | "
          "compressor)")
    print(f"  {versions}")
    changed = source_fingerprint() != fingerprint
    if changed:
        print(f"  WARNING: strongroom's sources changed during the run (now "
              f"{source_revision()}; sources {source_fingerprint()}): runs measured "
              "different code")
    print(f"  python {platform.python_version()}, {os.cpu_count()} CPU(s), "
          f"{platform.system()} {platform.release()}, "
          f"{human(psutil.virtual_memory().total)} RAM")
    print(f"  main tree (tar.gz, zip): {main_t.describe()}; set {main_t.set_name}, "
          f"snapshot {main_t.snapshot}")
    if xz_t is not None:
        print(f"  xz tree (tar.xz): {xz_t.describe()}; set {xz_t.set_name}, snapshot "
              f"{xz_t.snapshot} -- a smaller tree than the main one, because xz is slow "
              f"(--xz-size-mib {opts.xz_size_mib})")
    else:
        print("  tar.xz skipped (--xz-size-mib 0)")
    print(f"  rounds: {opts.rounds}, alternating (order rotated every round, reversed every "
          f"other one); os.sync() before every timed command")
    print("  pipeline times include an fsync of OUT (strongroom fsyncs its output before the "
          "rename); 'no-fsync s' is the same run without it")
    print("  CPU s: user+system of the command's processes (wait4); others: the most CPUs "
          "any run of the row saw busy with other processes (host CPU time minus the run's "
          "and this script's)")
    everything = [r for _, series in rows for r in series.runs]
    waits = [r.waited for r in everything]
    print(f"  before each run the script waited for a quiet host (< {QUIET_CPUS} busy CPUs, "
          f"at most {opts.quiet_wait:.0f} s): waited {sum(waits):.0f} s in all, "
          f"{sum(w >= opts.quiet_wait for w in waits) if opts.quiet_wait > 0 else 0} run(s) "
          f"started without quiet")
    print()
    print(table(rows))
    print()
    print("output sizes (last round)")
    size_rows = [("tar.gz", sr_gz.series, pigz.series), ("tar.gz", sr_gz.series, gzip.series),
                 ("zip", sr_zip.series, pigz.series)]
    if sr_xz and xz_pipe:
        size_rows.append(("tar.xz", sr_xz.series, xz_pipe.series))
    size_ratios: dict[tuple[str, str], float] = {}
    for fmt, ours, theirs in size_rows:
        a, b = ours.runs[-1].out_bytes, theirs.runs[-1].out_bytes
        tree = (xz_t if fmt == "tar.xz" and xz_t else main_t).stats.bytes
        size_ratios[(fmt, theirs.label)] = a / b
        print(f"  {fmt:<6} strongroom {human(a):>10} ({a:,} B, {100 * a / tree:.1f}% of the tree)"
              f"  vs {theirs.label:<26} {human(b):>10} ({b:,} B)  = {a / b:.3f}x")
    print()
    print("CPU (medians; strongroom's threads from psutil, process totals from wait4)")
    main_gib = main_t.stats.bytes
    for line in cpu_lines(sr_gz.series, [pigz.series, gzip.series, null.series], main_gib):
        print(line)
    for line in cpu_lines(sr_zip.series, [], main_gib):
        print(line)
    if sr_xz and xz_pipe and xz_null and xz_t:
        for line in cpu_lines(sr_xz.series, [xz_pipe.series, xz_null.series],
                              xz_t.stats.bytes):
            print(line)
    print("  children of strongroom (last run of each format, seconds after spawn):")
    for side in (sr_gz, sr_zip, sr_xz):
        if side is not None:
            print(f"    {side.series.label:<18} {timeline(side.series.runs[-1])}")
    print()
    print(f"memory: peak RSS of the strongroom Python process (psutil every "
          f"{SAMPLE_INTERVAL * 1000:.0f} ms; VmHWM is the kernel's peak; restic not counted)")
    peaks: dict[str, float] = {}
    for side in (sr_gz, sr_zip, sr_xz):
        if side is None:
            continue
        feet = [r.foot for r in side.series.runs if r.foot]
        peaks[side.series.label] = max(f.peak_rss for f in feet) / MIB
        print(f"  {side.series.label:<18} peak RSS {peaks[side.series.label]:6.1f} MiB "
              f"(per round: {', '.join(f'{f.peak_rss / MIB:.1f}' for f in feet)}); "
              f"VmHWM max {max(f.hwm for f in feet) / MIB:.1f} MiB; "
              f"{min(f.samples for f in feet)}+ samples a run")
    print()
    print("integrity (round 1 outputs, not timed): "
          + "; ".join(f"{fmt} {what}" for fmt, what in checks.items()))
    print()

    print("summary (ratio: median of the per-round strongroom/pipeline wall-time ratios; "
          "no fsync: against the pipeline without its fsync)")
    summary: list[tuple[str, str, str, bool | None]] = []

    def speed(label: str, ours: Series, theirs: Series, goal: float | None) -> None:
        ratio = statistics.median(ratios(ours, theirs))
        bare = statistics.median(ratios(ours, theirs, synced=False))
        figure = (f"{ours.median:7.2f} s vs {theirs.median:7.2f} s  ratio {ratio:5.3f} "
                  f"(no fsync {bare:5.3f})")
        summary.append((label, figure, f"<= {goal:.2f}" if goal else "(reference)",
                        ratio <= goal if goal else None))

    speed("tar.gz vs pigz -p 2", sr_gz.series, pigz.series, GOAL_GZ_RATIO)
    speed("tar.gz vs gzip", sr_gz.series, gzip.series, None)
    speed("tar.gz vs restic dump alone", sr_gz.series, null.series, None)
    speed("zip vs pigz -p 2", sr_zip.series, pigz.series, GOAL_ZIP_RATIO)
    if sr_xz and xz_pipe and xz_t:
        speed(f"tar.xz vs xz -T2 ({human(xz_t.stats.bytes)})", sr_xz.series, xz_pipe.series,
              GOAL_XZ_RATIO)
    for label, peak in peaks.items():
        summary.append((f"peak RSS, {label}", f"{peak:.1f} MiB", f"<= {GOAL_RSS_MIB:.0f} MiB",
                        peak <= GOAL_RSS_MIB))
    for (fmt, other), value in size_ratios.items():
        summary.append((f"size, {fmt} vs {other.split('| ')[-1]}",
                        f"{value:.3f}x the pipeline's output", "(reference)", None))
    width = max(len(label) for label, *_ in summary)
    fig = max(len(figure) for _, figure, *_ in summary)
    for label, figure, goal, ok in summary:
        mark = "" if ok is None else verdict(ok)
        print(f"  {label:<{width}}  {figure:<{fig}}  goal {goal:<13} {mark}".rstrip())
    if changed:
        print("  WARNING: the sources changed during the run; these figures mix versions")
    noisy = max(r.foreign for r in everything)
    if noisy > 0.10:
        print(f"  note: other processes kept up to {noisy:.2f} of {os.cpu_count()} CPUs busy "
              "during a timed run (column 'others'): those rows are noisy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
