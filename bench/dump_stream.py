#!/usr/bin/env python3
"""Streaming a PostgreSQL dump into restic: strongroom backup-database against the raw pipe.

    .venv/bin/python bench/dump_stream.py [--size-gib N] [--rounds N] [--database NAME]
                                          [--also-default] [--keep]

It creates a pgbench database of about --size-gib GiB whose filler column holds random
text (pgbench's blank filler would make the dump compress ~36x), then compares

    strongroom backup-database -p PROFILE --service db --no-verify --json

(one [[services.db.hooks]] of type postgresql; orchestrator/sets/dumps.py run_streams ->
engines/restic.py backup_stream -> run.py pipeline with a tap: a Python thread copies
the dump between two pipes, counting bytes and hashing with xxh3-128) with the raw pipe

    pg_dump -h HOST -U USER --no-password -Fc -Z0 -d DB |
        restic backup --stdin --stdin-filename services/db/DB.dump --json

(two processes joined by one OS pipe, both exit codes checked). Both back up into
repositories of their own (`restic init --repository-version 2`, not timed); the first
round is a first backup, later rounds find every chunk in the repository already.

It also measures strongroom's own peak RSS (the Python process only, sampled with psutil
every 20 ms; its children pg_dump and restic are not counted) on the large database and
on a scale-1 one, and how much the repository grows when a contiguous 1% of the rows
changes: with -Z0 (what strongroom stores) and with pg_dump's default compressed custom
format into a third repository.

It is a benchmark, not a test: it exits 0 whether or not the goals are met, and
non-zero only when a command fails.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
STRONGROOM = ROOT / ".venv" / "bin" / "strongroom"
KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

GOAL_SPEED_RATIO = 1.10
GOAL_RSS_MIB = 100.0
GOAL_DEDUP_PERCENT = 5.0

# pg_database_size of a pgbench database, measured on PostgreSQL 15: an empty database
# is ~7.5 MB and every scale step adds ~15.7 MB (100,000 pgbench_accounts rows: 13.4 MB
# of heap plus 2.2 MB of primary key); the 84-character filler is the same size blank or
# random. The size printed is measured, this only picks the scale.
EMPTY_DB_BYTES = 7_500_000
BYTES_PER_SCALE = 15_700_000
ROWS_PER_SCALE = 100_000
SMALL_SCALE = 1
SAMPLE_INTERVAL = 0.020  # seconds between RSS samples of the strongroom process
UPDATE_FRACTION = 0.01

RESTIC_VARS = (
    "RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND",
    "RESTIC_REPOSITORY", "RESTIC_REPOSITORY_FILE", "RESTIC_KEY_HINT", "RESTIC_CACHE_DIR",
)
STRONGROOM_VARS = ("STRONGROOM_PROFILE", "STRONGROOM_STATE_DIR")
PROFILE_NAME = "bench"
SERVICE = "db"

# 84 characters of hex per row: three md5 of fresh random numbers (32 + 32 + 20).
RANDOM_FILLER = ("md5(random()::text) || md5(random()::text) || "
                 "left(md5(random()::text), 20)")


class BenchError(Exception):
    """A command failed or the setup is unusable: the benchmark cannot go on."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def human(count: float) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


# --------------------------------------------------------------------------- processes


@dataclass
class Usage:
    """What one timed command cost: wall time, CPU of its whole process tree (every
    process it started and waited for, from getrusage), and how busy the host was."""

    seconds: float = 0.0
    tree_cpu: float = 0.0
    host_busy: float = 0.0  # CPUs busy on average over the run (all processes on the host)


class Meter:
    """Start/stop around a command; the children must be reaped before stop()."""

    def __init__(self) -> None:
        self._wall = time.perf_counter()
        self._rusage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._host = _host_busy_seconds()

    def stop(self) -> Usage:
        seconds = time.perf_counter() - self._wall
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - self._rusage.ru_utime) + (after.ru_stime - self._rusage.ru_stime)
        busy = _host_busy_seconds() - self._host
        return Usage(seconds, cpu, busy / seconds if seconds > 0 else 0.0)


def _host_busy_seconds() -> float:
    """CPU seconds the whole host has spent busy (guest time is inside user time)."""
    times = psutil.cpu_times()
    return sum(float(getattr(times, name, 0.0))
               for name in ("user", "nice", "system", "irq", "softirq"))


@dataclass
class Ran:
    usage: Usage
    stdout: str
    stderr: str


def _fail(label: str, argv: Sequence[str], code: int, stderr: str, stdout: str = "") -> BenchError:
    return BenchError(
        f"{label} failed with exit code {code}\n  command: {' '.join(argv)}\n"
        f"  stderr:\n{tail(stderr) or '(empty)'}\n  stdout:\n{tail(stdout) or '(empty)'}"
    )


def run_timed(argv: Sequence[str], env: dict[str, str], label: str,
              discard_stdout: bool = False) -> Ran:
    """Run argv (no shell) to completion; stdout read fully unless discarded."""
    meter = Meter()
    try:
        proc = subprocess.run(
            list(argv), env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if discard_stdout else subprocess.PIPE,
            stderr=subprocess.PIPE, check=False,
        )
    except OSError as exc:
        raise BenchError(f"{label}: cannot start {argv[0]}: {exc}") from None
    usage = meter.stop()
    stdout = (proc.stdout or b"").decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise _fail(label, argv, proc.returncode, stderr, stdout)
    return Ran(usage, stdout, stderr)


def _read(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode("utf-8", "replace")


def pipe_timed(producer: Sequence[str], consumer: Sequence[str], producer_env: dict[str, str],
               consumer_env: dict[str, str], label: str) -> Ran:
    """producer | consumer through one OS pipe; both exit codes checked; consumer's stdout."""
    with tempfile.TemporaryFile() as prod_err, tempfile.TemporaryFile() as cons_out, \
            tempfile.TemporaryFile() as cons_err:
        meter = Meter()
        read_end, write_end = os.pipe()
        try:
            try:
                prod = subprocess.Popen(list(producer), env=producer_env,
                                        stdin=subprocess.DEVNULL, stdout=write_end,
                                        stderr=prod_err)
            except OSError as exc:
                raise BenchError(f"{label}: cannot start {producer[0]}: {exc}") from None
            try:
                cons = subprocess.Popen(list(consumer), env=consumer_env, stdin=read_end,
                                        stdout=cons_out, stderr=cons_err)
            except OSError as exc:
                prod.kill()
                prod.wait()
                raise BenchError(f"{label}: cannot start {consumer[0]}: {exc}") from None
        finally:
            # Only the children hold the pipe now: EOF and SIGPIPE reach them.
            os.close(read_end)
            os.close(write_end)
        cons_code = cons.wait()
        prod_code = prod.wait()
        usage = meter.stop()
        stdout = _read(cons_out)
        if prod_code != 0:
            raise _fail(f"{label} (producer)", producer, prod_code, _read(prod_err))
        if cons_code != 0:
            raise _fail(f"{label} (consumer)", consumer, cons_code, _read(cons_err), stdout)
    return Ran(usage, stdout, "")


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in RESTIC_VARS + STRONGROOM_VARS}


def restic_binary() -> str:
    found = shutil.which("restic")
    if not found:
        raise BenchError("restic is not on PATH")
    return found


def restic_summary(stdout: str, label: str) -> dict[str, Any]:
    summary: dict[str, Any] | None = None
    for line in stdout.splitlines():
        if line.startswith("{") and '"summary"' in line:
            summary = json.loads(line)
    if not summary or not summary.get("snapshot_id"):
        raise BenchError(f"{label}: restic reported no snapshot:\n{tail(stdout)}")
    return summary


# --------------------------------------------------------------------------- PostgreSQL


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class Database:
    name: str
    created: bool  # made by this run (dropped at the end unless --keep)
    scale: int = 0
    rows: int = 0
    size: int = 0  # pg_database_size after generation
    seconds: float = 0.0  # generation time
    steps: list[tuple[str, float]] = field(default_factory=list)


class Postgres:
    def __init__(self, host: str, port: int | None, user: str) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.env = base_env()
        self.env["PGCONNECT_TIMEOUT"] = "10"  # what strongroom's hook gives its children

    def conn(self) -> list[str]:
        args = ["-h", self.host]
        if self.port:
            args += ["-p", str(self.port)]
        return [*args, "-U", self.user]

    def psql(self, database: str, *sql: str) -> str:
        argv = ["psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", *self.conn(),
                "--no-password", "-d", database]
        for statement in sql:  # each -c runs on its own (VACUUM cannot share a transaction)
            argv += ["-c", statement]
        return run_timed(argv, self.env, f"psql on {database}").stdout.strip()

    def pgbench_init(self, database: str, steps: str, scale: int) -> None:
        run_timed(["pgbench", "-i", "-I", steps, "-s", str(scale), *self.conn(), database],
                  self.env, f"pgbench -i -I {steps}")

    def dump_argv(self, database: str, compressed: bool) -> list[str]:
        """hooks/postgresql.py dump_argv; compressed=True drops -Z0 (pg_dump's default)."""
        argv = ["pg_dump", *self.conn(), "--no-password", "-Fc"]
        if not compressed:
            argv.append("-Z0")
        return [*argv, "-d", database]

    def exists(self, database: str) -> bool:
        found = self.psql("postgres", "SELECT 1 FROM pg_database WHERE datname = "
                          + quote_literal(database))
        return found == "1"

    def create(self, name: str, scale: int) -> Database:
        """pgbench tables with random filler: tables by pgbench, rows by INSERT … SELECT."""
        db = Database(name, created=True, scale=scale)
        clock = time.perf_counter()

        def step(label: str, since: float) -> float:
            now = time.perf_counter()
            db.steps.append((label, now - since))
            return now

        mark = clock
        self.psql("postgres", f"CREATE DATABASE {quote_ident(name)}")
        self.pgbench_init(name, "dt", scale)  # drop and create the four tables
        mark = step("create tables", mark)
        rows = scale * ROWS_PER_SCALE
        self.psql(
            name,
            "INSERT INTO pgbench_branches (bid, bbalance) "
            f"SELECT bid, 0 FROM generate_series(1, {scale}) AS bid",
            "INSERT INTO pgbench_tellers (tid, bid, tbalance) "
            f"SELECT tid, (tid - 1) / 10 + 1, 0 FROM generate_series(1, {10 * scale}) AS tid",
            "INSERT INTO pgbench_accounts (aid, bid, abalance, filler) "
            f"SELECT aid, (aid - 1) / {ROWS_PER_SCALE} + 1, 0, {RANDOM_FILLER} "
            f"FROM generate_series(1, {rows}) AS aid",
        )
        mark = step(f"insert {rows:,} rows", mark)
        self.psql(name, "VACUUM (FREEZE, ANALYZE)")
        mark = step("vacuum freeze analyze", mark)
        self.pgbench_init(name, "p", scale)  # primary keys, as pgbench -i makes them
        mark = step("primary keys", mark)
        self.psql(name, "CHECKPOINT")  # its writes should not land in a timed run
        step("checkpoint", mark)
        db.seconds = time.perf_counter() - clock
        self.measure(db)
        return db

    def measure(self, db: Database) -> None:
        out = self.psql(db.name, "SELECT (SELECT count(*) FROM pgbench_branches), "
                        "(SELECT count(*) FROM pgbench_accounts), "
                        f"pg_database_size({quote_literal(db.name)})")
        scale, rows, size = out.split("|")
        db.scale, db.rows, db.size = int(scale), int(rows), int(size)

    def update_middle(self, db: Database) -> tuple[int, int, int]:
        """abalance + 1 on a contiguous 1% of the rows in the middle of the table."""
        low_high = self.psql(db.name, "SELECT min(aid), max(aid) FROM pgbench_accounts")
        low, high = (int(v) for v in low_high.split("|"))
        count = max(1, round((high - low + 1) * UPDATE_FRACTION))
        first = low + (high - low + 1) // 2 - count // 2
        last = first + count - 1
        updated = self.psql(
            db.name,
            "WITH changed AS (UPDATE pgbench_accounts SET abalance = abalance + 1 "
            f"WHERE aid BETWEEN {first} AND {last} RETURNING 1) SELECT count(*) FROM changed",
        )
        self.psql(db.name, "CHECKPOINT")
        return first, last, int(updated)

    def drop(self, name: str) -> None:
        self.psql("postgres", f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")


def scale_for(size_gib: float) -> int:
    return max(1, round((size_gib * GIB - EMPTY_DB_BYTES) / BYTES_PER_SCALE))


# --------------------------------------------------------------------------- repositories


@dataclass
class Repo:
    path: Path
    cache: Path
    password_file: Path

    def env(self) -> dict[str, str]:
        """What strongroom's restic_args.base_env gives restic."""
        env = base_env()
        env.update(RESTIC_REPOSITORY=str(self.path), RESTIC_PASSWORD_FILE=str(self.password_file),
                   RESTIC_CACHE_DIR=str(self.cache), RESTIC_PROGRESS_FPS="2", TZ="UTC")
        return env

    def init(self, restic: str) -> None:
        run_timed([restic, "init", "--repository-version", "2"], self.env(),
                  f"restic init of {self.path.name}")

    def disk_bytes(self) -> int:
        total = 0
        for folder, _dirs, files in os.walk(self.path):
            for name in files:
                total += os.lstat(os.path.join(folder, name)).st_size
        return total


@dataclass
class Profile:
    """A strongroom profile with one repository and [services.db] dumping one database."""

    folder: Path
    database: str
    pg: Postgres
    password_file: Path
    path: Path = field(init=False)
    state: Path = field(init=False)
    repo: Repo = field(init=False)

    def __post_init__(self) -> None:
        self.path = self.folder / f"{PROFILE_NAME}.toml"
        self.state = self.folder / "state"
        # strongroom keeps restic's cache in <state>/cache/restic; init with the same one.
        self.repo = Repo(self.folder / "repo", self.state / "cache" / "restic",
                         self.password_file)

    def create(self, restic: str) -> None:
        self.folder.mkdir(parents=True)
        q = json.dumps  # a JSON string is a valid TOML basic string
        port = f"port = {self.pg.port}\n" if self.pg.port else ""
        self.path.write_text(
            f"state_dir = {q(str(self.state))}\n\n"
            f"[repositories.local]\n"
            f"url = {q(str(self.repo.path))}\n"
            f"password_file = {q(str(self.password_file))}\n\n"
            f"[services.{SERVICE}]\n\n"
            f"[[services.{SERVICE}.hooks]]\n"
            f'type = "postgresql"\n'
            f"databases = [{q(self.database)}]\n"
            f"host = {q(self.pg.host)}\n{port}"
            f"username = {q(self.pg.user)}\n"
        )
        self.repo.init(restic)


# --------------------------------------------------------------------------- the two sides


@dataclass
class Backup:
    """One backup of the dump, by either side."""

    usage: Usage
    dump_bytes: int  # the stream's size
    added: int  # bytes the repository grew by according to restic (before compression)
    total_added: int = 0  # strongroom: every part (stream, plus the files part's manifest)
    set_name: str = ""
    footprint: Footprint | None = None

    @property
    def seconds(self) -> float:
        return self.usage.seconds


@dataclass
class Footprint:
    """The strongroom Python process alone, sampled with psutil while it ran."""

    samples: int = 0
    peak_rss: int = 0
    user: float = 0.0
    system: float = 0.0
    thread_cpu: dict[int, tuple[float, float]] = field(default_factory=dict)  # user, system
    main_tid: int = 0

    @property
    def cpu(self) -> float:
        return self.user + self.system

    @property
    def main_cpu(self) -> float:
        return sum(self.thread_cpu.get(self.main_tid, (0.0, 0.0)))

    @property
    def busiest_other(self) -> tuple[float, float]:
        """(user, system) of the busiest thread other than the main one: the copy loop."""
        others = [times for tid, times in self.thread_cpu.items() if tid != self.main_tid]
        return max(others, key=sum, default=(0.0, 0.0))


def _wait_for_new_second(after: float) -> None:
    """Sleep (untimed) until the wall clock is past the second `after` fell in."""
    target = math.floor(after) + 1.0 + 0.02
    delay = target - time.time()
    if delay > 0:
        time.sleep(delay)


def _sample(proc: subprocess.Popen[bytes]) -> Footprint:
    """Sample RSS, CPU times and per-thread CPU of proc (not its children) until it exits."""
    foot = Footprint(main_tid=proc.pid)
    try:
        target = psutil.Process(proc.pid)
    except psutil.NoSuchProcess:
        return foot
    while proc.poll() is None:
        try:
            with target.oneshot():
                rss = target.memory_info().rss
                times = target.cpu_times()
                threads = target.threads()
        except psutil.NoSuchProcess:  # exited (or a zombie) between poll() and here
            break
        foot.samples += 1
        foot.peak_rss = max(foot.peak_rss, rss)
        if times.user + times.system >= foot.cpu:  # a zombie reports its final times too
            foot.user, foot.system = times.user, times.system
        for thread in threads:
            foot.thread_cpu[thread.id] = (thread.user_time, thread.system_time)
        time.sleep(SAMPLE_INTERVAL)
    return foot


class Sides:
    def __init__(self, restic: str, pg: Postgres) -> None:
        self.restic = restic
        self.pg = pg
        self.last_strongroom_end = 0.0
        self.set_names: list[str] = []

    def strongroom(self, profile: Profile, verify: bool = False, sample: bool = False
                   ) -> Backup:
        _wait_for_new_second(self.last_strongroom_end)
        argv = [str(STRONGROOM), "backup-database", "-p", str(profile.path),
                "--service", SERVICE, "--verify" if verify else "--no-verify", "--json"]
        label = "strongroom backup-database"
        os.sync()
        footprint: Footprint | None = None
        if sample:
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                meter = Meter()
                try:
                    proc = subprocess.Popen(argv, env=base_env(), stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=err)
                except OSError as exc:
                    raise BenchError(f"{label}: cannot start {argv[0]}: {exc}") from None
                footprint = _sample(proc)
                code = proc.wait()
                usage = meter.stop()
                stdout, stderr = _read(out), _read(err)
            if code != 0:
                raise _fail(label, argv, code, stderr, stdout)
        else:
            ran = run_timed(argv, base_env(), label)
            usage, stdout = ran.usage, ran.stdout
        self.last_strongroom_end = time.time()
        try:
            result = json.loads(stdout)
        except ValueError:
            raise BenchError(f"{label} printed no JSON result:\n{tail(stdout)}") from None
        name = str(result["set"])
        if name in self.set_names:
            raise BenchError(f"set name {name} was used twice: the runs are not distinct sets")
        self.set_names.append(name)
        logical = f"services/{SERVICE}/{profile.database}.dump"
        parts = [p for p in result["parts"] if p["part"] == logical]
        if len(parts) != 1:
            raise BenchError(f"{label}: no part {logical} in the result:\n{tail(stdout)}")
        return Backup(usage, int(parts[0]["bytes"]), int(parts[0]["bytes_added"]),
                      int(result["bytes_added"]), name, footprint)

    def raw(self, database: str, repo: Repo, compressed: bool = False) -> Backup:
        producer = self.pg.dump_argv(database, compressed)
        consumer = [self.restic, "backup", "--stdin", "--stdin-filename",
                    f"services/{SERVICE}/{database}.dump", "--json"]
        label = f"raw pg_dump -Fc{'' if compressed else ' -Z0'} | restic backup --stdin"
        os.sync()
        ran = pipe_timed(producer, consumer, self.pg.env, repo.env(), label)
        summary = restic_summary(ran.stdout, label)
        return Backup(ran.usage, int(summary.get("total_bytes_processed", 0)),
                      int(summary.get("data_added", 0)))

    def dump_to_null(self, database: str, compressed: bool) -> Usage:
        argv = self.pg.dump_argv(database, compressed)
        os.sync()
        return run_timed(argv, self.pg.env, " ".join(argv[:1] + argv[-4:]),
                         discard_stdout=True).usage


# --------------------------------------------------------------------------- the phases


@dataclass
class Speed:
    sr: list[Backup] = field(default_factory=list)
    raw: list[Backup] = field(default_factory=list)
    sr_first_disk: int = 0  # strongroom repository growth on disk from its first backup
    verify_on: Backup | None = None

    def ratios(self) -> list[float]:
        return [a.seconds / b.seconds for a, b in zip(self.sr, self.raw, strict=True)]

    def deltas(self) -> list[float]:
        return [a.seconds - b.seconds for a, b in zip(self.sr, self.raw, strict=True)]


def speed(sides: Sides, profile: Profile, raw_repo: Repo, rounds: int, also_default: bool
          ) -> Speed:
    result = Speed()
    sr_repo = profile.repo

    def strongroom() -> Backup:
        before = sr_repo.disk_bytes() if not result.sr else 0
        backup = sides.strongroom(profile)
        if not result.sr:
            result.sr_first_disk = sr_repo.disk_bytes() - before
        result.sr.append(backup)
        return backup

    def raw() -> Backup:
        backup = sides.raw(profile.database, raw_repo)
        result.raw.append(backup)
        return backup

    for index in range(rounds):
        kind = "first backup" if index == 0 else "re-run"
        steps = [("strongroom --no-verify", strongroom), ("raw pg_dump | restic", raw)]
        if index % 2:
            steps.reverse()
        for label, step in steps:
            backup = step()
            log(f"  round {index + 1}/{rounds} ({kind}): {label:<22} {backup.seconds:8.3f} s"
                f"  {human(backup.dump_bytes)} at {rate(backup)}, "
                f"{human(backup.added)} added, process tree CPU "
                f"{backup.usage.tree_cpu:.1f} s, host busy {backup.usage.host_busy:.2f} CPUs")
    if also_default:
        backup = sides.strongroom(profile, verify=True)
        result.verify_on = backup
        log(f"  strongroom with the default --verify (re-run): {backup.seconds:.3f} s")
    return result


def rate(backup: Backup) -> str:
    return f"{backup.dump_bytes / MIB / backup.seconds:.0f} MiB/s" if backup.seconds else "-"


@dataclass
class Dedup:
    first: int  # first id updated
    last: int
    updated: int
    z0: Backup  # strongroom, after the update
    z0_disk: int  # strongroom repository growth on disk
    fc_first: Backup
    fc_first_disk: int
    fc: Backup  # pg_dump -Fc (compressed) after the update
    fc_disk: int


def dedup(sides: Sides, pg: Postgres, db: Database, profile: Profile, fc_repo: Repo) -> Dedup:
    start = fc_repo.disk_bytes()
    fc_first = sides.raw(db.name, fc_repo, compressed=True)
    fc_first_disk = fc_repo.disk_bytes() - start
    log(f"  pg_dump -Fc | restic, first backup: {fc_first.seconds:.3f} s, "
        f"{human(fc_first.dump_bytes)} dump, {human(fc_first.added)} added")
    first, last, updated = pg.update_middle(db)
    log(f"  updated {updated:,} rows (aid {first:,}..{last:,}): abalance + 1")
    before = profile.repo.disk_bytes()
    z0 = sides.strongroom(profile)
    z0_disk = profile.repo.disk_bytes() - before
    log(f"  strongroom (-Z0) after the update: {z0.seconds:.3f} s, "
        f"{human(z0.added)} added, repository +{human(z0_disk)} on disk")
    before = fc_repo.disk_bytes()
    fc = sides.raw(db.name, fc_repo, compressed=True)
    fc_disk = fc_repo.disk_bytes() - before
    log(f"  pg_dump -Fc | restic after the update: {fc.seconds:.3f} s, "
        f"{human(fc.added)} added, repository +{human(fc_disk)} on disk")
    return Dedup(first, last, updated, z0, z0_disk, fc_first, fc_first_disk, fc, fc_disk)


# --------------------------------------------------------------------------- output


def source_revision() -> str:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain",
                                "--untracked-files=no", "--", "orchestrator", "hooks"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "git revision unknown"
    return f"git {head}{' + uncommitted changes' if dirty else ''}"


def pct(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else float("nan")


def describe_db(label: str, db: Database) -> str:
    made = (f"generated in {db.seconds:.1f} s ("
            + ", ".join(f"{name} {secs:.1f} s" for name, secs in db.steps) + ")"
            if db.created else "existing database, not generated")
    return (f"  {label}: {db.name}, scale {db.scale}, {db.rows:,} pgbench_accounts rows, "
            f"pg_database_size {human(db.size)}; {made}")


def report(opts: argparse.Namespace, versions: str, db: Database, small: Database,
           spd: Speed, large_run: Backup, small_run: Backup, z0_null: Usage, fc_null: Usage,
           dd: Dedup) -> None:
    ratios, deltas = spd.ratios(), spd.deltas()
    ratio, delta = statistics.median(ratios), statistics.median(deltas)
    sr_med = statistics.median(b.seconds for b in spd.sr)
    raw_med = statistics.median(b.seconds for b in spd.raw)
    dump_bytes = spd.sr[0].dump_bytes
    big, little = large_run.footprint, small_run.footprint
    assert big is not None and little is not None
    z0_pct = pct(dd.z0.added, dd.z0.dump_bytes)
    fc_pct = pct(dd.fc.added, dd.fc.dump_bytes)

    print("strongroom dump-stream benchmark (backup-database vs pg_dump | restic --stdin)")
    print(f"  {versions}")
    print(f"  python {platform.python_version()}, {os.cpu_count()} CPU(s), "
          f"{platform.system()} {platform.release()}, "
          f"{human(psutil.virtual_memory().total)} RAM")
    print(describe_db("database", db))
    print(describe_db("small database", small))
    target = "--database" if opts.database else f"--size-gib {opts.size_gib:g}"
    print(f"  dump (pg_dump -Fc -Z0): {human(dump_bytes)} ({dump_bytes:,} bytes); "
          f"{target}, --rounds {opts.rounds}")
    print()
    print("speed (round 1 is a first backup into fresh repositories; later rounds find "
          "every chunk already stored)")
    print(f"  {'round':<6} {'strongroom s':>12} {'raw s':>9} {'ratio':>6} {'delta s':>8}  "
          f"{'sr tree CPU s':>13} {'raw tree CPU s':>14}  {'host busy CPUs sr/raw':>21}")
    for index, (a, b) in enumerate(zip(spd.sr, spd.raw, strict=True)):
        print(f"  {index + 1:<6} {a.seconds:12.3f} {b.seconds:9.3f} {ratios[index]:6.3f} "
              f"{deltas[index]:+8.3f}  {a.usage.tree_cpu:13.1f} {b.usage.tree_cpu:14.1f}  "
              f"{a.usage.host_busy:10.2f} /{b.usage.host_busy:5.2f}")
    print(f"  median {sr_med:12.3f} {raw_med:9.3f} {ratio:6.3f} {delta:+8.3f}   "
          f"(ratio and delta: medians of the per-round pairs)")
    print(f"  throughput, median: strongroom {dump_bytes / MIB / sr_med:.0f} MiB/s, "
          f"raw {dump_bytes / MIB / raw_med:.0f} MiB/s; pg_dump -Z0 alone to /dev/null "
          f"{z0_null.seconds:.3f} s ({dump_bytes / MIB / z0_null.seconds:.0f} MiB/s)")
    if spd.verify_on is not None:
        v = spd.verify_on
        print(f"  strongroom with the default --verify (one re-run, for reference): "
              f"{v.seconds:.3f} s, {v.seconds / raw_med:.3f} x the median raw run")
    print("  tree CPU: user+system of every process the command started (getrusage of reaped "
          "children); the PostgreSQL backend serving COPY is not included")
    print()
    print(f"memory (the strongroom Python process alone, psutil every "
          f"{SAMPLE_INTERVAL * 1000:.0f} ms; pg_dump and restic not counted)")
    for label, run_, foot in (("large", large_run, big), ("small", small_run, little)):
        print(f"  {label:<5} dump {human(run_.dump_bytes):>10}: peak RSS "
              f"{foot.peak_rss / MIB:6.1f} MiB over {foot.samples} samples, "
              f"wall {run_.seconds:.2f} s")
    print(f"  peak RSS difference large - small: "
          f"{(big.peak_rss - little.peak_rss) / MIB:+.1f} MiB")
    print()
    print("strongroom's data path (the sampled large run)")
    copy_user, copy_system = big.busiest_other
    copy_cpu = copy_user + copy_system
    print(f"  strongroom process CPU: user {big.user:.2f} s + system {big.system:.2f} s = "
          f"{big.cpu:.2f} s over {large_run.seconds:.2f} s wall "
          f"({pct(big.cpu, large_run.seconds):.0f}% of one CPU)")
    print(f"  by thread: main {big.main_cpu:.2f} s; busiest other thread (the tap's copy loop) "
          f"user {copy_user:.2f} s + system {copy_system:.2f} s = {copy_cpu:.2f} s, "
          f"{pct(copy_cpu, large_run.seconds):.0f}% of one CPU over the run; all threads "
          f"but main {big.cpu - big.main_cpu:.2f} s")
    if copy_cpu > 0:
        print(f"  copy loop cost: {copy_cpu / (large_run.dump_bytes / GIB):.2f} CPU s per GiB "
              f"(~{large_run.dump_bytes / MIB / copy_cpu:.0f} MiB/s on one CPU) against "
              f"{rate(large_run)} through the pipe")
    print(f"  whole tree: {large_run.usage.tree_cpu:.1f} CPU s (strongroom + pg_dump + restic "
          f"+ psql); host busy {large_run.usage.host_busy:.2f} of {os.cpu_count()} CPUs")
    print()
    print(f"deduplication: {dd.updated:,} rows (aid {dd.first:,}..{dd.last:,}, "
          f"{pct(dd.updated, db.rows):.1f}%) updated with abalance + 1, then backed up again")
    print(f"  {'format':<22} {'dump':>10} {'added':>10} {'% of dump':>9}  "
          f"{'disk growth':>11} {'first backup on disk':>20} {'% of first':>10}")
    z0_first_disk = spd.sr_first_disk
    for label, backup, disk, first_disk in (
        ("-Fc -Z0 (strongroom)", dd.z0, dd.z0_disk, z0_first_disk),
        ("-Fc (default zlib)", dd.fc, dd.fc_disk, dd.fc_first_disk),
    ):
        print(f"  {label:<22} {human(backup.dump_bytes):>10} {human(backup.added):>10} "
              f"{pct(backup.added, backup.dump_bytes):8.2f}%  {human(disk):>11} "
              f"{human(first_disk):>20} {pct(disk, first_disk):9.2f}%")
    print(f"  strongroom's whole set added {human(dd.z0.total_added)} (the stream part plus the "
          f"files part with the manifest)")
    print("  'added' is restic's data_added (new chunks, before restic's compression); disk "
          "growth is the repository folder after compression and encryption, so it is "
          "compared with the first backup's growth on disk")
    print(f"  producing the dump alone (pg_dump > /dev/null, once each): -Fc "
          f"{fc_null.seconds:.3f} s vs -Fc -Z0 {z0_null.seconds:.3f} s = "
          f"{fc_null.seconds / z0_null.seconds:.2f}x; sizes {human(dd.fc_first.dump_bytes)} vs "
          f"{human(dump_bytes)}")
    print("  note: this update touches one contiguous run of rows. Scattered OLTP updates "
          "(rows changed all over the table) touch every chunk of the dump and deduplicate "
          "with no dump format; -Z0 helps with changes that are local.")
    print()
    speed_ok = ratio <= GOAL_SPEED_RATIO
    rss_ok = big.peak_rss / MIB <= GOAL_RSS_MIB
    dedup_ok = z0_pct <= GOAL_DEDUP_PERCENT
    print("summary")
    rows = [
        ("speed (wall, strongroom/raw)",
         f"median ratio {ratio:.3f} (delta {delta:+.2f} s; digest on)",
         f"<= {GOAL_SPEED_RATIO:.2f}", speed_ok),
        ("peak RSS of strongroom",
         f"{big.peak_rss / MIB:.1f} MiB on {human(large_run.dump_bytes)}, "
         f"{little.peak_rss / MIB:.1f} MiB on {human(small_run.dump_bytes)}",
         f"<= {GOAL_RSS_MIB:.0f} MiB (large)", rss_ok),
        ("dedup after a 1% update",
         f"-Z0 {z0_pct:.2f}% of the dump vs default -Fc {fc_pct:.2f}%",
         f"<= {GOAL_DEDUP_PERCENT:.0f}% (-Z0)", dedup_ok),
    ]
    width = max(len(figure) for _, figure, _, _ in rows)
    for label, figure, goal, ok in rows:
        print(f"  {label:<30} {figure:<{width}}  goal {goal:<18} {verdict(ok)}")


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="strongroom backup-database against pg_dump | restic backup --stdin: "
        "wall time, strongroom's peak RSS, and deduplication after a 1%% update.")
    parser.add_argument("--size-gib", type=float, default=1.0, metavar="N",
                        help="size of the generated database in GiB (default 1.0)")
    parser.add_argument("--rounds", type=int, default=3, metavar="N",
                        help="alternating speed rounds (default 3)")
    parser.add_argument("--database", metavar="NAME",
                        help="use this existing pgbench database instead of generating one "
                        "(never dropped; the deduplication step updates 1%% of its "
                        "pgbench_accounts rows: abalance + 1)")
    parser.add_argument("--also-default", action="store_true",
                        help="also run strongroom once with the default --verify, for reference")
    parser.add_argument("--pg-host", default="127.0.0.1", help="server host (default 127.0.0.1)")
    parser.add_argument("--pg-port", type=int, help="server port (default: libpq's)")
    parser.add_argument("--pg-user", default="postgres", help="user name (default postgres)")
    parser.add_argument("--tmpdir", metavar="DIR", help="where the temp dir goes")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp dir and the generated databases")
    opts = parser.parse_args(argv)
    if opts.rounds < 1:
        parser.error("--rounds must be at least 1")
    if opts.size_gib <= 0:
        parser.error("--size-gib must be positive")
    if not STRONGROOM.exists():
        print(f"bench/dump_stream.py: error: {STRONGROOM} not found", file=sys.stderr)
        return 2

    pg = Postgres(opts.pg_host, opts.pg_port, opts.pg_user)
    stamp = time.strftime("%Y%m%d%H%M%S")
    made: list[str] = []  # databases this run created, dropped at the end unless --keep
    work = Path(tempfile.mkdtemp(prefix="strongroom-dump-bench-", dir=opts.tmpdir))
    try:
        return _bench(opts, pg, work, stamp, made)
    except BenchError as exc:
        print(f"bench/dump_stream.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench/dump_stream.py: interrupted", file=sys.stderr)
        return 130
    finally:
        if opts.keep:
            print(f"kept: {work}" + (f" and database(s) {', '.join(made)}" if made else ""),
                  file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
            for name in made:
                try:
                    pg.drop(name)
                except BenchError as exc:
                    print(f"bench/dump_stream.py: could not drop {name}: {exc}",
                          file=sys.stderr)


def _bench(opts: argparse.Namespace, pg: Postgres, work: Path, stamp: str,
           made: list[str]) -> int:
    restic = restic_binary()
    env = base_env()
    versions = "; ".join([
        run_timed([str(STRONGROOM), "--version"], env, "strongroom --version").stdout.strip()
        + f" ({source_revision()})",
        run_timed([restic, "version"], env, "restic version").stdout.strip(),
        run_timed(["pg_dump", "--version"], env, "pg_dump --version").stdout.strip(),
        "server " + pg.psql("postgres", "SHOW server_version"),
    ])
    base = f"strongroom_bench_{stamp}_{os.getpid()}"

    if opts.database:
        if not pg.exists(opts.database):
            raise BenchError(f"database {opts.database!r} does not exist")
        db = Database(opts.database, created=False)
        pg.measure(db)
        log(describe_db("database", db))
    else:
        scale = scale_for(opts.size_gib)
        log(f"generating {base} (pgbench scale {scale}, about {opts.size_gib:g} GiB) …")
        made.append(base)
        db = pg.create(base, scale)
        log(describe_db("database", db))
    small_name = f"{base}_small"
    log(f"generating {small_name} (pgbench scale {SMALL_SCALE}) …")
    made.append(small_name)
    small = pg.create(small_name, SMALL_SCALE)
    log(describe_db("small database", small))

    password_file = work / "password"
    password_file.write_text("strongroom-bench-password\n")
    password_file.chmod(0o600)
    profile = Profile(work / "strongroom", db.name, pg, password_file)
    small_profile = Profile(work / "strongroom-small", small.name, pg, password_file)
    raw_repo = Repo(work / "repo-raw", work / "cache-raw", password_file)
    fc_repo = Repo(work / "repo-compressed", work / "cache-compressed", password_file)
    profile.create(restic)
    small_profile.create(restic)
    raw_repo.init(restic)
    fc_repo.init(restic)

    sides = Sides(restic, pg)
    log(f"speed: {opts.rounds} alternating round(s)")
    spd = speed(sides, profile, raw_repo, opts.rounds, opts.also_default)

    log("memory: one sampled strongroom run on each database")
    large_run = sides.strongroom(profile, sample=True)
    small_run = sides.strongroom(small_profile, sample=True)
    for label, run_ in (("large", large_run), ("small", small_run)):
        assert run_.footprint is not None
        log(f"  {label}: peak RSS {run_.footprint.peak_rss / MIB:.1f} MiB, "
            f"{run_.seconds:.2f} s, CPU {run_.footprint.cpu:.2f} s")

    log("producing the dump alone: pg_dump -Fc -Z0 and pg_dump -Fc to /dev/null")
    z0_null = sides.dump_to_null(db.name, compressed=False)
    fc_null = sides.dump_to_null(db.name, compressed=True)
    log(f"  -Z0 {z0_null.seconds:.3f} s, default compression {fc_null.seconds:.3f} s")

    log("deduplication: a contiguous 1% update in the middle of pgbench_accounts")
    dd = dedup(sides, pg, db, profile, fc_repo)

    report(opts, versions, db, small, spd, large_run, small_run, z0_null, fc_null, dd)
    return 0


if __name__ == "__main__":
    sys.exit(main())
