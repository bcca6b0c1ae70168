"""Continuous archiving under load: WAL produced against stored, the spool backlog over
time, the RPO achieved, and a point-in-time restore against a base-backup-only one.

    .venv/bin/python bench/wal.py                       # pgbench 2 minutes, ~5 minutes
    .venv/bin/python bench/wal.py --seconds 30 --scale 2

Runs as root: a throw-away cluster (initdb, pg_ctl as `postgres`, a free port, its socket
in the temp dir), a restic repository, `strongroom pitr setup` with archive_timeout
(default 10s), a base backup, then `pgbench -T SECONDS` while `strongroom pitr ship
--every SHIP` runs beside it. Every SAMPLE seconds it prints the segments the server has
archived (wal-push into the spool), the spool backlog, the last stored segment and the
RPO achieved: now (pgbench commits continuously, so now is the newest commit) minus the
archive time of the newest stored WAL. Then it restores the cluster to the middle of the
run and to just after the base backup (both with --start), and times `restic dump` of the
base piped into `tar -x`, the raw pipeline the layout stands for.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ROOT = Path(__file__).resolve().parent.parent
USER = "postgres"
PROFILE = """\
[repositories.local]
url = "{root}/repo"
password_file = "{root}/password"

[services.db]

[[services.db.hooks]]
type = "postgresql"
databases = ["postgres"]
host = "{root}"
port = {port}
username = "postgres"
pg_dump = "{bin}/pg_dump"
continuous = true
data_directory = "{root}/data"
spool = "{root}/spool"
archive_timeout = "{timeout}s"
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Bench:
    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.profile = root / "bench.toml"
        self.env = ["env", f"PYTHONPATH={ROOT}:{sysconfig.get_paths()['purelib']}",
                    f"STRONGROOM_STATE_DIR={root / 'state'}", f"HOME={root / 'home'}"]

    def as_postgres(self, argv: list[str]) -> str:
        proc = subprocess.run(["runuser", "-u", USER, "--", *self.env, *argv],
                              capture_output=True, text=True, cwd=self.root, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr}")
        return proc.stdout

    def strongroom_argv(self, *args: str) -> list[str]:
        return ["/usr/bin/python3", "-m", "orchestrator", *args, "-p", str(self.profile)]

    def strongroom(self, *args: str) -> str:
        return self.as_postgres(self.strongroom_argv(*args))

    def sql(self, statement: str, port: int | None = None) -> str:
        return subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-h", str(self.root), "-p",
             str(port or self.port), "-U", "postgres", "-d", "postgres", "-c", statement],
            capture_output=True, text=True, check=True).stdout.strip()

    def pg_ctl(self, data: Path, action: str) -> None:
        self.as_postgres([str(PG_BIN / "pg_ctl"), action, "-D", str(data), "-w", "-m", "fast",
                          "-l", str(self.root / f"{data.name}.log")])


def restore(bench: Bench, name: str, moment: datetime) -> float:
    target = bench.root / name
    target.mkdir()
    shutil.chown(target, USER, USER)
    port = free_port()
    clock = time.monotonic()
    bench.strongroom("restore-backup", "--backup", "continuous", "--service", "db",
                     "--timestamp", moment.isoformat(), "--pgdata", str(target), "--start",
                     "--pg-port", str(port))
    took = time.monotonic() - clock
    bench.pg_ctl(target, "stop")
    return took


def raw_layout(bench: Bench) -> float:
    """restic dump of the base backup's tar into tar -x: the pipeline the layout is."""
    snaps = json.loads(subprocess.run(
        ["restic", "-r", str(bench.root / "repo"), "--password-file",
         str(bench.root / "password"), "snapshots", "--json", "--tag", "kind=base"],
        capture_output=True, text=True, check=True).stdout)
    snap = snaps[-1]
    target = bench.root / "raw"
    target.mkdir()
    clock = time.monotonic()
    dump = subprocess.Popen(["restic", "-r", str(bench.root / "repo"), "--password-file",
                             str(bench.root / "password"), "dump", snap["id"],
                             snap["paths"][0]], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(target)], stdin=dump.stdout, check=True)
    dump.wait()
    return time.monotonic() - clock


def run(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="strongroom-walbench-", dir=args.tmpdir))
    root.chmod(0o755)
    shutil.chown(root, USER, USER)
    bench = Bench(root, free_port())
    data = root / "data"
    background: list[subprocess.Popen[str]] = []
    try:
        for folder in ("state", "home"):
            (root / folder).mkdir()
            shutil.chown(root / folder, USER, USER)
        (root / "password").write_text("bench\n")
        bench.profile.write_text(PROFILE.format(root=root, port=bench.port, bin=PG_BIN,
                                                timeout=args.archive_timeout))
        for path in (root / "password", bench.profile):
            shutil.chown(path, USER, USER)
        bench.as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U",
                           "postgres"])
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {bench.port}\nlisten_addresses = ''\n"
                       f"unix_socket_directories = '{root}'\n")
        bench.pg_ctl(data, "start")
        bench.strongroom("init")
        bench.strongroom("pitr", "setup", "--service", "db", "--install", "none")
        bench.pg_ctl(data, "restart")
        subprocess.run([shutil.which("pgbench") or "pgbench", "-i", "-q", "-s",
                        str(args.scale), "-h", str(root), "-p", str(bench.port), "-U",
                        "postgres", "postgres"], check=True, capture_output=True)
        bench.strongroom("backup-database", "--service", "db", "--base")
        after_base = datetime.now(UTC) + timedelta(seconds=1)
        first_archived = int(bench.sql("SELECT archived_count FROM pg_stat_archiver"))
        shipper = subprocess.Popen(
            ["runuser", "-u", USER, "--", *bench.env,
             *bench.strongroom_argv("pitr", "ship", "--service", "db", "--every",
                                    str(args.ship_every))],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, cwd=root)
        background.append(shipper)
        started = datetime.now(UTC)
        load = subprocess.Popen(
            ["pgbench", "-T", str(args.seconds), "-c", "2", "-h", str(root), "-p",
             str(bench.port), "-U", "postgres", "postgres"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        background.append(load)
        rpos: list[float] = []
        print(f"{'t (s)':>6} {'archived':>9} {'spooled':>8} {'stored up to':>26} {'RPO (s)':>8}")
        while load.poll() is None:
            time.sleep(args.sample)
            status = json.loads(bench.strongroom("pitr", "status", "--service", "db", "--json"))
            archived = (status["archived_count"] or 0) - first_archived
            rpo = status["rpo_seconds"]
            if load.poll() is None and rpo is not None:
                rpos.append(rpo)
            print(f"{(datetime.now(UTC) - started).total_seconds():6.0f} {archived:9d} "
                  f"{status['spool_files']:8d} {status['last_stored_wal'] or '-':>26} "
                  f"{rpo if rpo is None else round(rpo, 1)!s:>8}")
        middle = started + (datetime.now(UTC) - started) / 2
        tps = [line for line in (load.stdout.read() if load.stdout else "").splitlines()
               if line.startswith("tps")]
        shipper.terminate()
        shipper.wait()
        bench.strongroom("pitr", "ship", "--service", "db")
        status = json.loads(bench.strongroom("pitr", "status", "--service", "db", "--json"))
        produced = int(bench.sql("SELECT archived_count FROM pg_stat_archiver")) - first_archived
        chain = bench.strongroom("pitr", "verify", "--service", "db")
        print(f"\nsegments archived by the server during the run: {produced}; spool after the "
              f"final ship: {status['spool_files']}; {chain.strip().splitlines()[-1]}")
        print(f"load: {tps[0] if tps else '?'}")
        if rpos:
            print(f"RPO achieved under load: median {statistics.median(rpos):.1f} s, max "
                  f"{max(rpos):.1f} s (goal: <= {2 * args.archive_timeout} s = "
                  f"2 x archive_timeout)")
        bench.pg_ctl(data, "stop")
        to_middle = restore(bench, "to-middle", middle)
        base_only = restore(bench, "base-only", after_base)
        raw = raw_layout(bench)
        print(f"restore to the middle of the run: {to_middle:.1f} s; to just after the base "
              f"backup: {base_only:.1f} s (ratio {to_middle / base_only:.2f}); raw restic dump "
              f"| tar -x of the base: {raw:.1f} s")
    finally:
        for proc in background:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()
        for pgdata in (data, root / "to-middle", root / "base-only"):
            if (pgdata / "postmaster.pid").exists():
                subprocess.run(["runuser", "-u", USER, "--", str(PG_BIN / "pg_ctl"), "stop",
                                "-D", str(pgdata), "-m", "immediate", "-w"],
                               capture_output=True, check=False)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=120, help="pgbench's duration")
    parser.add_argument("--scale", type=int, default=5, help="pgbench -i -s")
    parser.add_argument("--archive-timeout", type=int, default=10)
    parser.add_argument("--ship-every", type=float, default=5.0)
    parser.add_argument("--sample", type=float, default=10.0)
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--keep", action="store_true")
    if os.geteuid() != 0:
        sys.exit("bench/wal.py runs a cluster as the postgres user: run it as root")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
