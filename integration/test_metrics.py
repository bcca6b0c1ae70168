"""Prometheus metrics from real runs: the textfile written after every run, the same
values at /metrics over HTTP, and a failed run moving the last-failure timestamp."""

from __future__ import annotations

import sys
import urllib.request
from datetime import datetime

from prometheus_client.parser import text_string_to_metric_families

from integration.conftest import STRONGROOM, Site
from integration.servers import free_port, listening

NIGHTLY = (("profile", "site"), ("schedule", "nightly"))


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def job_record(site: Site) -> dict[str, object]:
    import json

    return json.loads((site.state / "observe/site/jobs/nightly.json").read_text())


def test_textfile_after_runs_and_metrics_over_http(site: Site) -> None:
    textfiles = site.root / "textfiles"
    textfiles.mkdir()
    site.profile.write_text(site.profile.read_text().replace(
        'name = "site"\n', f'name = "site"\n\n[metrics]\ntextfile_dir = "{textfiles}"\n'))
    made = site.run("create-backup", "--schedule", "nightly", "--json").json()
    prom = textfiles / "strongroom-site.prom"
    assert [path.name for path in textfiles.iterdir()] == [prom.name]
    found = samples(prom.read_text())
    record = job_record(site)
    started = datetime.fromisoformat(str(record["last_success"])).timestamp()
    # The job's start, or its set's time (whole seconds, from the run record) when that
    # is the later of the two: the same run either way.
    success = found[("strongroom_last_success_timestamp_seconds", NIGHTLY)]
    assert abs(success - started) <= 1
    assert abs(started - datetime.fromisoformat(made["time"]).timestamp()) < 30
    assert found[("strongroom_backup_added_bytes", NIGHTLY)] == made["bytes_added"]
    assert found[("strongroom_backup_bytes", NIGHTLY)] == made["bytes"]
    assert made["duration"] <= found[("strongroom_backup_duration_seconds", NIGHTLY)] \
        < made["duration"] + 30
    assert found[("strongroom_rpo_seconds", NIGHTLY)] == round(1.1 * 86400, 3)
    assert found[("strongroom_schedule_ok", NIGHTLY)] == 1
    assert ("strongroom_last_failure_timestamp_seconds", NIGHTLY) not in found
    assert found[("strongroom_repository_stored_bytes",
                  (("profile", "site"), ("repository", "local")))] > 0

    # A failed run (its repository gone) moves the last failure, not the last success.
    site.repository.rename(site.root / "elsewhere")
    failed = site.run("create-backup", "--schedule", "nightly", check=False)
    assert failed.returncode != 0
    site.repository.with_name("elsewhere").rename(site.repository)
    after = samples(prom.read_text())
    failure = datetime.fromisoformat(str(job_record(site)["last_failure"])).timestamp()
    # The job's record and the run's own record both start the failed run (the later of
    # the two is shown, in whole seconds when it is the run's): the same run either way.
    assert abs(after[("strongroom_last_failure_timestamp_seconds", NIGHTLY)] - failure) <= 1
    assert failure > started
    assert after[("strongroom_last_success_timestamp_seconds", NIGHTLY)] == success
    assert after[("strongroom_schedule_ok", NIGHTLY)] == 0

    # On demand, with the repositories probed.
    site.run("metrics", "--textfile", str(textfiles))
    probed = samples(prom.read_text())
    assert probed[("strongroom_repository_up", (("profile", "site"), ("repository", "local")))] == 1
    assert probed[("strongroom_repository_sets",
                   (("profile", "site"), ("repository", "local")))] == 1
    for window in ("7d", "30d"):  # the one good run's new data (the failed one added none)
        assert probed[("strongroom_repository_added_bytes", (
            ("profile", "site"), ("repository", "local"), ("window", window)))] == \
            made["bytes_added"]
    assert site.run("metrics", "--textfile", str(site.root / "nope"), check=False).returncode == 2

    port = free_port()
    argv = [*STRONGROOM, "serve-metrics", "--listen", f"127.0.0.1:{port}", "-p",
            str(site.profile)]
    env = {"STRONGROOM_STATE_DIR": str(site.state), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": ":".join(sys.path)}
    with listening(argv, port, site.root / "serve.log", env=env):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=60) as answer:
            assert answer.headers["Content-Type"].startswith("text/plain")
            served = samples(answer.read().decode())
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=10)
            raise AssertionError("only /metrics is served")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
    # The MCP server's HTTP face serves it too, behind its bearer token.
    token = site.root / "mcp.token"
    token.write_text("metrics-token-0123456789\n")
    port = free_port()
    argv = [*STRONGROOM, "mcp", "--http", f"127.0.0.1:{port}", "--token-file", str(token),
            "-p", str(site.profile)]
    with listening(argv, port, site.root / "mcp.log", env=env):
        url = f"http://127.0.0.1:{port}/metrics"
        try:
            urllib.request.urlopen(url, timeout=10)
            raise AssertionError("/metrics needs the bearer token")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        asked = urllib.request.Request(
            url, headers={"Authorization": "Bearer metrics-token-0123456789"})
        with urllib.request.urlopen(asked, timeout=60) as answer:
            by_mcp = samples(answer.read().decode())
    assert by_mcp[("strongroom_backup_added_bytes", NIGHTLY)] == \
        probed[("strongroom_backup_added_bytes", NIGHTLY)]

    for key in (("strongroom_last_success_timestamp_seconds", NIGHTLY),
                ("strongroom_last_failure_timestamp_seconds", NIGHTLY),
                ("strongroom_backup_added_bytes", NIGHTLY),
                ("strongroom_repository_up", (("profile", "site"), ("repository", "local")))):
        assert served[key] == probed[key]

