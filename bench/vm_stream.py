#!/usr/bin/env python3
"""Streaming a qcow2 disk into restic: strongroom backup-vm-snapshot against the raw pipe.

    .venv/bin/python bench/vm_stream.py [--size-mib N] [--rounds N] [--keep]

It makes a qcow2 disk of --size-mib MiB virtual size, half of it random data and half
never written, then compares

    strongroom backup-vm-snapshot --disk DISK --no-verify --json

(the vm hook: qemu-img snapshot -c, nbdcopy from qemu-nbd through strongroom's tap into
restic backup --stdin, qemu-img snapshot -d) with the same steps run by hand:

    qemu-img snapshot -c S DISK
    nbdcopy -- [ qemu-nbd -r -l snapshot.name=S -f qcow2 DISK ] - |
        restic backup --stdin --stdin-filename infrastructure/vm-snapshots/d/d.raw --json
    qemu-img snapshot -d S DISK

Each side backs up into a repository of its own; rounds alternate, the first is a first
backup and later ones find every chunk already stored. strongroom's peak RSS (the Python
process only, sampled every 20 ms) is printed too. A benchmark, not a test: it exits 0
whether or not the goal is met.
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
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
STRONGROOM = ROOT / ".venv" / "bin" / "strongroom"
MIB = 1 << 20
GOAL_RATIO = 1.10
PASSWORD = "bench password"


def sh(argv: list[str], env: dict[str, str] | None = None,
       stdin: int | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, env=env, stdin=stdin, capture_output=True, check=True)


def make_disk(folder: Path, size_mib: int) -> Path:
    raw = folder / "seed.raw"
    with raw.open("wb") as out:
        for _ in range(size_mib // 2):
            out.write(os.urandom(MIB))
        out.truncate(size_mib * MIB)
    disk = folder / "disk.qcow2"
    sh(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(disk)])
    raw.unlink()
    return disk


def restic_env(repository: Path, password_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    return {**env, "RESTIC_REPOSITORY": str(repository),
            "RESTIC_PASSWORD_FILE": str(password_file),
            "RESTIC_CACHE_DIR": str(repository.parent / "cache")}


def raw_round(disk: Path, env: dict[str, str], round_no: int) -> float:
    name = f"bench-{round_no}"
    start = time.perf_counter()
    sh(["qemu-img", "snapshot", "-c", name, str(disk)])
    reader = subprocess.Popen(
        ["nbdcopy", "--", "[", "qemu-nbd", "-r", "-l", f"snapshot.name={name}", "-f", "qcow2",
         str(disk), "]", "-"], stdout=subprocess.PIPE)
    assert reader.stdout is not None
    sh(["restic", "backup", "--stdin", "--stdin-filename",
        "infrastructure/vm-snapshots/d/d.raw", "--json"], env=env, stdin=reader.stdout.fileno())
    reader.stdout.close()
    if reader.wait() != 0:
        raise SystemExit("nbdcopy failed")
    sh(["qemu-img", "snapshot", "-d", name, str(disk)])
    return time.perf_counter() - start


def strongroom_round(disk: Path, profile: Path, env: dict[str, str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen([str(STRONGROOM), "backup-vm-snapshot", "--disk", str(disk),
                             "--no-verify", "--json", "-p", str(profile)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    watched = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.02)
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"strongroom failed: {err.decode()}")
    json.loads(out)
    return time.perf_counter() - start, peak / MIB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    options = parser.parse_args()
    for program in ("restic", "qemu-img", "qemu-nbd", "nbdcopy"):
        if shutil.which(program) is None:
            raise SystemExit(f"{program} is not installed (make bootstrap installs it)")
    folder = Path(tempfile.mkdtemp(prefix="strongroom-bench-vm-"))
    try:
        disk = make_disk(folder, options.size_mib)
        password = folder / "pass"
        password.write_text(PASSWORD + "\n")
        raw_env = restic_env(folder / "raw-repo", password)
        ours_env = restic_env(folder / "sr-repo", password)
        for env in (raw_env, ours_env):
            sh(["restic", "init", "--repository-version", "2"], env=env)
        profile = folder / "bench.toml"
        profile.write_text(f'name = "bench"\nstate_dir = "{folder / "state"}"\n'
                           f'[repositories.local]\nurl = "{folder / "sr-repo"}"\n'
                           f'password_file = "{password}"\n')
        raw_times: list[float] = []
        ours_times: list[float] = []
        peaks: list[float] = []
        for round_no in range(options.rounds):
            raw_times.append(raw_round(disk, raw_env, round_no))
            seconds, peak = strongroom_round(disk, profile, ours_env)
            ours_times.append(seconds)
            peaks.append(peak)
            print(f"round {round_no + 1}: raw {raw_times[-1]:.2f} s, strongroom "
                  f"{seconds:.2f} s, RSS {peak:.1f} MiB", flush=True)
        print(f"disk: {options.size_mib} MiB virtual, half random, qcow2")
        for label, index in (("first backup", 0), ("unchanged re-run", slice(1, None))):
            raws = raw_times[index] if isinstance(index, slice) else [raw_times[index]]
            ours = ours_times[index] if isinstance(index, slice) else [ours_times[index]]
            if not raws:
                continue
            raw, mine = statistics.median(raws), statistics.median(ours)
            ratio = mine / raw
            verdict = "PASS" if ratio <= GOAL_RATIO else "MISS"
            print(f"{label}: raw {raw:.2f} s, strongroom {mine:.2f} s, ratio {ratio:.3f} "
                  f"(goal <= {GOAL_RATIO}) {verdict}")
        print(f"strongroom peak RSS: {max(peaks):.1f} MiB")
    finally:
        if options.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
