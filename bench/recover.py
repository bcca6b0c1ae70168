#!/usr/bin/env python3
"""Rebuilding a host: `strongroom recover` against the raw steps a person would run.

    .venv/bin/python bench/recover.py [--size-mib N] [--db-gib N] [--rounds N] [--keep]

It generates a tree of --size-mib MiB (default 1024: 2,000 small files plus large ones,
half random, half text; bench/overhead.py's generator) and a pgbench database of about
--db-gib GiB (default 1; random filler; bench/dump_stream.py's generator), describes both
in a profile ([services.app] data = the tree, one postgresql hook) and makes one
disaster-recovery set (not timed). Each round then loses the tree, the profile and the
database, and rebuilds them twice, once per side, the order alternating between rounds:

    strongroom recover --repo REPO --password-file P --yes --skip schedules --json
        (fresh state folder: a cold restic cache, as on a new host)

against what a person runs from the runbook (fresh RESTIC_CACHE_DIR too):

    restic restore SNAP --target / --include TREE --include PROFILE
    psql -c 'CREATE DATABASE db'
    restic dump SNAP /services/app/DB.dump | pg_restore --clean --if-exists --no-owner
        --exit-on-error -d DB

Printed: both wall times per round, the median of the per-round ratios (goal <= 1.10)
and the RTO and RPO strongroom's report gives. It is a benchmark, not a test: it exits 0
whatever the figures, non-zero only if a command fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dump_stream import BenchError as DatabaseError  # noqa: E402
from dump_stream import Postgres, quote_ident, scale_for  # noqa: E402
from overhead import BenchError, generate_tree, human, restic_binary, run_timed  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GOAL_RATIO = 1.10
SERVICE = "app"
KEEP_VARS = ("RESTIC_", "STRONGROOM_", "PG")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def clean_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith(KEEP_VARS)}


@dataclass
class Site:
    work: Path
    tree: Path
    profile: Path
    repo: Path
    password: Path
    database: str
    pg: Postgres
    files_snapshot: str = ""
    dump_snapshot: str = ""
    dump_path: str = ""
    set_name: str = ""

    def strongroom(self, *args: str, state: Path, label: str) -> tuple[float, str]:
        env = clean_env()
        env.update(PYTHONPATH=str(ROOT), STRONGROOM_STATE_DIR=str(state),
                   HOME=str(self.work / "home"))
        ran = run_timed([sys.executable, "-m", "orchestrator", *args], env, label)
        return ran.seconds, ran.stdout

    def restic_env(self, cache: Path) -> dict[str, str]:
        env = clean_env()
        env.update(RESTIC_REPOSITORY=str(self.repo), RESTIC_PASSWORD_FILE=str(self.password),
                   RESTIC_CACHE_DIR=str(cache))
        return env

    def lose_everything(self) -> None:
        shutil.rmtree(self.tree, ignore_errors=True)
        self.profile.unlink(missing_ok=True)
        self.pg.drop(self.database)
        os.sync()


@dataclass
class Round:
    ours: float
    raw: float
    rto: float
    rpo: float
    steps: list[tuple[str, float]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.ours / self.raw


def prepare(work: Path, size_mib: int, db_gib: float, pg: Postgres) -> Site:
    tree = work / "host" / "srv" / "tree"
    log(f"generating a {size_mib} MiB tree …")
    generate_tree(tree, size_mib, min(2000, size_mib * 20), max(1, size_mib // 64), seed=7)
    database = f"sr_bench_recover_{os.getpid()}"
    scale = scale_for(db_gib)
    log(f"generating a pgbench database of scale {scale} (~{db_gib} GiB) …")
    pg.create(database, scale)
    password = work / "repo.pass"
    password.write_text("bench recover password\n")
    password.chmod(0o600)
    profile = work / "host" / "etc" / "strongroom" / "bench.toml"
    profile.parent.mkdir(parents=True)
    q = json.dumps
    port = f"port = {pg.port}\n" if pg.port else ""
    profile.write_text(
        f'name = "benchrec"\n\n[repositories.local]\nurl = {q(str(work / "repo"))}\n'
        f"password_file = {q(str(password))}\n\n[services.{SERVICE}]\n"
        f"data = [{q(str(tree))}]\n\n[[services.{SERVICE}.hooks]]\ntype = \"postgresql\"\n"
        f"databases = [{q(database)}]\nhost = {q(pg.host)}\n{port}"
        f"username = {q(pg.user)}\n")
    site = Site(work, tree, profile, work / "repo", password, database, pg)
    state = work / "state-backup"
    site.strongroom("init", "-p", str(profile), state=state, label="strongroom init")
    log("making the disaster-recovery set …")
    _, out = site.strongroom("create-backup", "--type", "disaster-recovery", "--no-verify",
                             "--json", "-p", str(profile), state=state, label="create-backup")
    made = json.loads(out)
    site.set_name = made["set"]
    (part,) = [p for p in made["parts"] if p["part"] != "files"]
    site.dump_snapshot, site.dump_path = part["snapshot_id"], "/" + part["part"]
    listed = run_timed([restic_binary(), "snapshots", "--json", "--tag",
                        f"set={site.set_name},part=files"], site.restic_env(work / "cache0"),
                       "restic snapshots")
    site.files_snapshot = json.loads(listed.stdout)[0]["id"]
    return site


def ours(site: Site, index: int) -> tuple[float, dict[str, Any]]:
    state = site.work / f"state-{index}"
    seconds, out = site.strongroom(
        "recover", "--repo", str(site.repo), "--password-file", str(site.password), "--yes",
        "--skip", "schedules", "--json", state=state, label="strongroom recover")
    shutil.rmtree(state, ignore_errors=True)
    return seconds, json.loads(out)


def raw(site: Site, index: int) -> float:
    cache = site.work / f"cache-{index}"
    env = site.restic_env(cache)
    restic = restic_binary()
    start = time.perf_counter()
    run_timed([restic, "restore", site.files_snapshot, "--target", "/", "--include",
               str(site.tree), "--include", str(site.profile)], env, "restic restore")
    site.pg.psql("postgres", f"CREATE DATABASE {quote_ident(site.database)}")
    dump = subprocess.Popen([restic, "dump", site.dump_snapshot, site.dump_path], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert dump.stdout is not None
    loaded = subprocess.run(["pg_restore", *site.pg.conn(), "--no-password", "--clean",
                             "--if-exists", "--no-owner", "--exit-on-error", "-d",
                             site.database], stdin=dump.stdout, env=site.pg.env,
                            capture_output=True, check=False)
    dump.stdout.close()
    dump_err = dump.communicate()[1]
    seconds = time.perf_counter() - start
    if dump.returncode != 0 or loaded.returncode != 0:
        raise BenchError(f"restic dump | pg_restore failed ({dump.returncode}, "
                         f"{loaded.returncode}): {dump_err.decode()[-500:]}"
                         f"{loaded.stderr.decode()[-500:]}")
    shutil.rmtree(cache, ignore_errors=True)
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="tree size (1024)")
    parser.add_argument("--db-gib", type=float, default=1.0, help="database size (1.0)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=None)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    opts = parser.parse_args(argv)
    pg = Postgres(opts.pg_host, opts.pg_port, opts.pg_user)
    work = Path(tempfile.mkdtemp(prefix="strongroom-bench-recover-", dir=opts.tmpdir))
    site: Site | None = None
    try:
        site = prepare(work, opts.size_mib, opts.db_gib, pg)
        rounds = []
        for index in range(opts.rounds):
            timed: dict[str, float] = {}
            report: dict[str, Any] = {}
            for side in (("ours", "raw") if index % 2 == 0 else ("raw", "ours")):
                site.lose_everything()
                if side == "ours":
                    timed["ours"], report = ours(site, index)
                else:
                    timed["raw"] = raw(site, index)
            steps = [(str(s["name"]), float(s["duration"])) for s in report["steps"]]
            rounds.append(Round(timed["ours"], timed["raw"], float(report["rto"]),
                                float(report["rpo"]), steps))
            log(f"round {index + 1}: strongroom recover {timed['ours']:.2f} s, raw steps "
                f"{timed['raw']:.2f} s, ratio {rounds[-1].ratio:.3f}")
        print_report(opts, site, rounds)
        return 0
    except (BenchError, DatabaseError) as exc:
        log(f"bench failed: {exc}")
        return 1
    finally:
        if site is not None:
            pg.drop(site.database)
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)


def print_report(opts: argparse.Namespace, site: Site, rounds: list[Round]) -> None:
    tree_bytes = sum(p.stat().st_size for p in site.tree.rglob("*") if p.is_file())
    ratio = statistics.median(r.ratio for r in rounds)
    print(f"recover bench: tree {human(tree_bytes)}, database {site.database} "
          f"(~{opts.db_gib} GiB requested), {len(rounds)} rounds")
    print(f"{'round':>5} {'strongroom':>11} {'raw steps':>10} {'ratio':>7} {'RTO':>8}")
    for number, item in enumerate(rounds, 1):
        print(f"{number:>5} {item.ours:>10.2f}s {item.raw:>9.2f}s {item.ratio:>7.3f} "
              f"{item.rto:>7.2f}s")
    verdict = "PASS" if ratio <= GOAL_RATIO else "MISS"
    print(f"median ratio {ratio:.3f} (goal <= {GOAL_RATIO:.2f}): {verdict}")
    print(f"RTO (strongroom's report, median): {statistics.median(r.rto for r in rounds):.2f} s;"
          f" RPO at the last round: {rounds[-1].rpo:.0f} s")
    print("steps of the last round: " + ", ".join(f"{name} {seconds:.2f}s"
                                                  for name, seconds in rounds[-1].steps))


if __name__ == "__main__":
    sys.exit(main())
