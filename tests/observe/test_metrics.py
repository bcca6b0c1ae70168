"""Metric rendering: names by Prometheus' rules, parsed back by prometheus_client."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from orchestrator.models import StatusRequest
from orchestrator.observe.metrics import profile_metrics, write_textfile
from orchestrator.observe.records import HistoryEntry, JobRecord, ObserveState, append_history
from tests.observe.conftest import make_session


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_job_values_become_labelled_gauges(tmp_path: Path) -> None:
    session = make_session(tmp_path, schedules={"nightly": {"schedule": "0 3 * * *",
                                                            "rpo": "26h"}})
    started = datetime.now().astimezone() - timedelta(hours=2)
    failed = started + timedelta(hours=1)
    observed = ObserveState(session.state.root, "site")
    observed.save_job(JobRecord(job="nightly", schedule="nightly",
                                last_run=failed.isoformat(), last_status="failed",
                                last_success=started.isoformat(), last_failure=failed.isoformat(),
                                duration=12.5, bytes=2048, bytes_added=512))
    observed.save_job(JobRecord(job="files", last_run=started.isoformat(),
                                last_status="complete", last_success=started.isoformat(),
                                duration=1.0, bytes=10, bytes_added=10))
    observed.count_notify_failures(["ntfy", "ntfy"])
    for days, added in ((2, 300), (12, 4000)):
        append_history(observed, HistoryEntry(
            kind="run", job="nightly", ok=True, bytes_added=added,
            started=(datetime.now().astimezone() - timedelta(days=days)).isoformat()))
    found = samples(profile_metrics(session, probe=False))
    nightly = (("profile", "site"), ("schedule", "nightly"))
    assert found[("strongroom_last_success_timestamp_seconds", nightly)] == started.timestamp()
    assert found[("strongroom_last_failure_timestamp_seconds", nightly)] == failed.timestamp()
    assert found[("strongroom_backup_duration_seconds", nightly)] == 12.5
    assert found[("strongroom_backup_bytes", nightly)] == 2048
    assert found[("strongroom_backup_added_bytes", nightly)] == 512
    assert found[("strongroom_rpo_seconds", nightly)] == 26 * 3600
    assert found[("strongroom_schedule_ok", nightly)] == 0  # its last run failed
    files = (("profile", "site"), ("schedule", "files"))
    assert found[("strongroom_backup_added_bytes", files)] == 10
    assert found[("strongroom_notification_failures_total",
                  (("kind", "ntfy"), ("profile", "site")))] == 2
    assert found[("strongroom_status", (("profile", "site"),))] == 1
    local = (("profile", "site"), ("repository", "local"))
    assert found[("strongroom_repository_added_bytes", (*local, ("window", "7d")))] == 300
    assert found[("strongroom_repository_added_bytes", (*local, ("window", "30d")))] == 4300
    # Unknown values are absent, never 0: no drill, no probe.
    assert not any(name in ("strongroom_drill_ok", "strongroom_repository_up")
                   for name, _ in found)


def test_textfile_is_replaced_whole(tmp_path: Path) -> None:
    session = make_session(tmp_path)
    folder = tmp_path / "textfiles"
    folder.mkdir()
    (folder / "strongroom-site.prom").write_text("old\n")
    path = write_textfile(session, folder, probe=False)
    assert path == folder / "strongroom-site.prom"
    assert [item.name for item in folder.iterdir()] == ["strongroom-site.prom"]
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert samples(path.read_bytes())[("strongroom_status", (("profile", "site"),))] == 0
    assert StatusRequest().probe  # on demand, repositories are opened by default


def test_a_missing_textfile_folder_is_not_created(tmp_path: Path) -> None:
    import pytest

    from orchestrator.errors import StrongroomError

    session = make_session(tmp_path)
    with pytest.raises(StrongroomError, match="does not exist"):
        write_textfile(session, tmp_path / "absent", probe=False)
    assert not (tmp_path / "absent").exists()
