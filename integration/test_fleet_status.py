"""`strongroom status --repo` and `report --repo`: three hosts back up into one moto S3
repository, and the repository alone shows each of them, the one that stopped backing up
as late."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import datetime
from pathlib import Path

from integration.conftest import STRONGROOM, Site
from integration.s3server import moto_s3


def test_status_by_repo_shows_every_host_and_the_late_one(site: Site, tmp_path: Path) -> None:
    with moto_s3(tmp_path) as s3:
        profiles = {}
        for host in ("alpha", "bravo", "charlie"):
            path = site.root / f"{host}.toml"
            path.write_text(f'name = "{host}"\nhost = "{host}.example"\n\n[config]\n'
                            f'app = ["{site.root}/host/etc/app"]\n'
                            + s3.repository_toml("fleet", "fleet-bucket", site.password_file))
            profiles[host] = path

        def strongroom(host: str, *args: str) -> str:
            env = {**os.environ, "STRONGROOM_STATE_DIR": str(tmp_path / f"state-{host}")}
            proc = subprocess.run([*STRONGROOM, *args, "-p", str(profiles[host])],
                                  capture_output=True, text=True, env=env, timeout=300,
                                  check=False)
            assert proc.returncode == 0, proc.stderr
            return proc.stdout

        def backup(host: str) -> str:
            return str(json.loads(strongroom(host, "create-backup", "--json"))["time"])

        strongroom("charlie", "init")
        late = datetime.fromisoformat(backup("charlie"))
        time.sleep(8)  # charlie stops here; the others go on
        recent = min(datetime.fromisoformat(backup(host)) for host in ("alpha", "bravo"))
        # A limit between charlie's age and the others': charlie is late, they are not.
        middle = (recent - late).total_seconds() / 2
        now = datetime.now().astimezone()
        max_age = int((now - recent).total_seconds() + middle)

        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("STRONGROOM_", "RESTIC_", "AWS_"))}
        env.update(STRONGROOM_STATE_DIR=str(tmp_path / "monitor"), HOME=str(tmp_path),
                   AWS_ACCESS_KEY_ID=s3.access_key_id, AWS_DEFAULT_REGION="us-east-1")
        url = f"s3:{s3.endpoint}/fleet-bucket/strongroom"
        argv = [*STRONGROOM, "status", "--repo", url, "--password-file",
                str(site.password_file), "--repo-env",
                f"AWS_SECRET_ACCESS_KEY={s3.secret_file}", "--max-age", f"{max_age}s"]
        shown = subprocess.run([*argv, "--json"], capture_output=True, text=True, env=env,
                               timeout=300, check=False)
        table = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300,
                               check=False)
        argv[argv.index("status")] = "report"
        fleet = subprocess.run([*argv, "--since", "1d", "--format", "json"],
                               capture_output=True, text=True, env=env, timeout=300,
                               check=False)
    assert shown.returncode == 1, shown.stdout + shown.stderr
    report = json.loads(shown.stdout)
    hosts = {(item["profile"], item["host"]): item for item in report["hosts"]}
    assert set(hosts) == {("alpha", "alpha.example"), ("bravo", "bravo.example"),
                          ("charlie", "charlie.example")}
    assert [hosts[key]["health"] for key in sorted(hosts)] == ["OK", "OK", "WARN"]
    assert all(item["complete_sets"] == 1 for item in hosts.values())
    assert report["health"] == "WARN" and len(report["reasons"]) == 1
    assert report["reasons"][0].startswith("charlie on charlie.example: the newest complete set")
    assert table.returncode == 1 and "charlie" in table.stdout and "WARN" in table.stdout

    # report --repo: the same hosts, each with its one complete set; charlie's only set has
    # stayed its newest for longer than --max-age (the others' margin is too thin to
    # assert on a loaded machine).
    assert fleet.returncode == 0, fleet.stderr
    summary = json.loads(fleet.stdout)
    by_host = {item["profile"]: item for item in summary["hosts"]}
    assert sorted(by_host) == ["alpha", "bravo", "charlie"]
    assert all((item["sets"], item["complete_sets"], item["completion_rate"]) == (1, 1, 1.0)
               for item in by_host.values())
    assert by_host["charlie"]["rpo_met"] is False
    assert by_host["charlie"]["achieved_rpo_seconds"] > max_age
    assert any(finding.startswith("charlie on charlie.example: RPO missed")
               for finding in summary["findings"])
    assert summary["repositories"][0]["reachable"] is True
    assert not any("not verified" in finding for finding in summary["findings"])
