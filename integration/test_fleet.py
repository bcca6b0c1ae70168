"""Eight hosts back up to one S3 repository at the same time: nothing serializes them,
nothing breaks, every set is complete and restores byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from integration.conftest import STRONGROOM, compare_trees, require_binary
from integration.s3server import S3Server, moto_s3

HOSTS = 8


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    with moto_s3(tmp_path) as server:
        yield server


def make_host(root: Path, index: int, s3: S3Server, password: Path) -> Path:
    host = root / f"host-{index}"
    (host / "etc/app").mkdir(parents=True)
    (host / "etc/app/app.conf").write_text(f"host = {index}\n")
    (host / "data").mkdir()
    for number in range(4):
        (host / "data" / f"blob-{number}.bin").write_bytes(os.urandom(2 << 20))
    profile = root / f"fleet-{index}.toml"
    profile.write_text(f"""
name = "fleet-{index}"
host = "host-{index}"
state_dir = "{root / f"state-{index}"}"

[config]
app = ["{host}/etc/app"]

[services.app]
data = ["{host}/data"]
""" + s3.repository_toml("shared", "strongroom-fleet", password))
    return profile


def strongroom(profile: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*STRONGROOM, *args, "-p", str(profile)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return out


def test_eight_hosts_back_up_to_one_repository_at_once(
        tmp_path: Path, s3: S3Server, capsys: pytest.CaptureFixture[str]) -> None:
    require_binary("restic")
    password = tmp_path / "repo.pass"
    password.write_text("one repository, many hosts\n")
    profiles = [make_host(tmp_path, index, s3, password) for index in range(HOSTS + 1)]
    finish(strongroom(profiles[0], "init"))

    started = time.monotonic()
    finish(strongroom(profiles[HOSTS], "create-backup", "--type", "full"))
    alone = time.monotonic() - started

    started = time.monotonic()
    running = [strongroom(profile, "create-backup", "--type", "full", "--json")
               for profile in profiles[:HOSTS]]
    outputs = [finish(proc) for proc in running]
    together = time.monotonic() - started
    with capsys.disabled():
        print(f"\nfleet: {HOSTS} concurrent backups to one S3 repository in {together:.1f} s; "
              f"one alone {alone:.1f} s ({together / alone:.2f}x, serialized would be "
              f"~{HOSTS}x)")
    # Not serialized: every run had begun its set before the first one finished. (The
    # wall time itself is not asserted: moto now and then stalls one restic for ~40 s
    # on its own, with strongroom nowhere in the loop.)
    starts = sorted(datetime.fromisoformat(json.loads(out)["time"]) for out in outputs)
    assert (starts[-1] - starts[0]).total_seconds() < alone + 5, starts

    for index, (profile, output) in enumerate(zip(profiles, outputs, strict=False)):
        listed = finish(strongroom(profile, "list-backups", "--json"))
        assert '"status": "complete"' in listed and output.count('"set"') == 1
        target = tmp_path / f"restored-{index}"
        finish(strongroom(profile, "restore-backup", "--backup", "latest", "--target",
                          str(target)))
        host = tmp_path / f"host-{index}"
        compare_trees(host, target / str(host).lstrip("/"))
