"""`strongroom status` as a Nagios-style check, with the real restic and a moto S3 server:
OK exits 0, a schedule past its RPO WARNs and exits 1, an unreachable repository FAILs
and exits 2."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from integration.conftest import Site
from integration.s3server import moto_s3


def age_records(site: Site, hours: float) -> None:
    """Move every recorded run of the site `hours` into the past, as if no run had
    happened since."""
    shift = timedelta(hours=hours)
    paths = list((site.state / "runs").glob("*.json"))
    paths += list((site.state / "observe").glob("*/jobs/*.json"))
    assert paths
    for path in paths:
        data = json.loads(path.read_text())
        for key in ("started", "last_run", "last_success", "last_failure"):
            if data.get(key):
                data[key] = (datetime.fromisoformat(data[key]) - shift).isoformat()
        path.write_text(json.dumps(data))


def test_rpo_warns_and_an_unreachable_repository_fails(site: Site, tmp_path: Path) -> None:
    site.profile.write_text(site.profile.read_text().replace(
        'type = "full"\n', 'type = "full"\nrpo = "26h"\n').replace(
        '[repositories.local]\n', '[repositories.local]\ncost_per_gib_month = 4.0\n'))
    with moto_s3(tmp_path) as s3:
        site.profile.write_text(site.profile.read_text() + s3.repository_toml(
            "offsite", "status-bucket", site.password_file))
        site.run("init", "-d", "offsite")
        made = site.run("create-backup", "--schedule", "nightly", "--json").json()

        ok = site.run("status", "--json", check=False)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        report = ok.json()
        assert report["health"] == "OK" and report["reasons"] == []
        nightly = report["schedules"][0]
        assert nightly["last_status"] == "complete" and nightly["rpo_seconds"] == 26 * 3600
        assert nightly["bytes_added"] == made["bytes_added"]
        local, offsite = report["repositories"]
        assert local["reachable"] and local["complete_sets"] == 1
        assert local["snapshots"] == len(made["parts"]) and local["stored_bytes"] > 0
        assert local["source_bytes"] == made["bytes"]
        assert offsite["reachable"] and offsite["complete_sets"] == 0
        assert local["last_verify"] is None
        # Its growth: what the one run added, within 7 days and 30; offsite got nothing.
        assert local["added_7d_bytes"] == local["added_30d_bytes"] == made["bytes_added"] > 0
        assert offsite["added_7d_bytes"] is None

        site.run("verify-backup", "--backup", made["set"])
        checked = site.run("status", "--json").json()["repositories"][0]
        assert checked["verify_ok"] is True and checked["last_verify"] is not None

        summary = site.run("report", "--json").json()
        assert (summary["runs"], summary["completion_rate"]) == (1, 1.0)
        assert (summary["verifications"], summary["verification_pass_rate"]) == (1, 1.0)
        assert summary["jobs"][0]["mean_duration_seconds"] >= made["duration"]
        stored = summary["repositories"][0]["stored_bytes"]
        assert summary["repositories"][0]["monthly_cost"] == round(stored / 2**30 * 4.0, 2)
        assert summary["monthly_cost"] == summary["repositories"][0]["monthly_cost"]
        assert summary["repositories"][1]["monthly_cost"] is None  # S3: size not known
        written = tmp_path / "report.md"
        site.run("report", "-o", str(written))
        assert written.read_text().startswith("# Backup report: site on ")
        again = site.run("report", "-o", str(written), check=False)
        assert again.returncode == 2 and "give --force" in again.stderr

        age_records(site, 27)
        late = site.run("status", check=False)
        assert late.returncode == 1, late.stdout + late.stderr
        assert late.stdout.startswith("WARN: profile site")
        assert "schedule nightly: the last good set is 27.0 h old, over its RPO of 26.0 h" \
            in late.stdout
    # The S3 server is gone: its repository cannot be read.
    down = site.run("status", "--json", check=False)
    assert down.returncode == 2, down.stdout + down.stderr
    report = down.json()
    assert report["health"] == "FAIL" and report["exit_code"] == 2
    assert report["repositories"][1]["reachable"] is False
    assert any(reason.startswith("repository offsite: cannot be read")
               for reason in report["reasons"])
    assert any("over its RPO" in reason for reason in report["reasons"])
    # Without probing, only this host's records count: the late schedule, no FAIL.
    assert site.run("status", "--no-probe", check=False).returncode == 1


def test_a_missing_local_repository_fails(make_site) -> None:  # type: ignore[no-untyped-def]
    site = make_site(init=False)
    result = site.run("status", check=False)
    assert result.returncode == 2 and result.stdout.startswith("FAIL: profile site")
    assert "repository local: cannot be read" in result.stdout
    assert "schedule nightly: no successful run recorded" in result.stdout
    assert result.stderr == ""
