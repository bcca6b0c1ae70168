"""Status classification from fabricated run records, without any repository."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestrator.models import StatusRequest
from orchestrator.observe.records import JobRecord, ObserveState, VerifyRecord
from orchestrator.observe.status import build_status
from orchestrator.sets.session import Session
from orchestrator.sets.state import RunRecord, StateDir
from tests.observe.conftest import make_session

SCHEDULES = {"nightly": {"schedule": "0 3 * * *", "rpo": "26h"},
             "weekly": {"schedule": "@weekly", "name": "wk"}}


def record(session: Session, base: str, age: timedelta, status: str, error: str | None = None) -> None:
    started = datetime.now().astimezone() - age
    name = f"{base}-{started.astimezone(UTC).strftime('%Y%m%d-%H%M%S')}"
    StateDir(session.state.root).save_run(RunRecord(
        set=name, repository="local", url=session.profile.repositories["local"].url,
        profile="site", type="config", started=started.isoformat(), status=status,
        error=error))


def test_fresh_success_is_ok_and_an_old_one_warns(tmp_path: Path) -> None:
    session = make_session(tmp_path, schedules=SCHEDULES)
    record(session, "nightly", timedelta(hours=3), "complete")
    record(session, "wk", timedelta(days=2), "complete")
    status = build_status(session, StatusRequest(probe=False))
    assert (status.health, status.exit_code, status.reasons) == ("OK", 0, [])
    nightly = status.schedules[0]
    assert nightly.rpo_seconds == 26 * 3600 and nightly.rpo_from_profile
    assert 3 * 3600 - 5 < nightly.age_seconds < 3 * 3600 + 5
    assert status.schedules[1].rpo_seconds == round(1.1 * 7 * 86400, 3)

    record(session, "nightly", timedelta(hours=1), "failed", "restic said no")
    status = build_status(session, StatusRequest(probe=False))
    assert status.health == "WARN" and status.exit_code == 1
    assert status.reasons == ["schedule nightly: its last run failed: restic said no"]


def test_success_older_than_the_rpo_warns(tmp_path: Path) -> None:
    session = make_session(tmp_path, schedules=SCHEDULES)
    record(session, "nightly", timedelta(hours=27), "complete")
    record(session, "wk", timedelta(days=1), "complete")
    status = build_status(session, StatusRequest(probe=False))
    assert status.health == "WARN"
    assert len(status.reasons) == 1 and "27.0 h old, over its RPO of 26.0 h" in status.reasons[0]
    assert status.schedules[0].health == "WARN" and status.schedules[1].health == "OK"


def test_never_run_and_failed_verify_warn(tmp_path: Path) -> None:
    session = make_session(tmp_path, schedules=SCHEDULES)
    record(session, "wk", timedelta(days=1), "complete")
    observed = ObserveState(session.state.root, "site")
    observed.save_verify(VerifyRecord("local", datetime.now().astimezone().isoformat(),
                                      "wk-x", False, "part missing"))
    status = build_status(session, StatusRequest(probe=False))
    assert status.health == "WARN"
    assert "schedule nightly: no successful run recorded" in status.reasons
    assert "repository local: the last verification failed: part missing" in status.reasons
    assert "schedule weekly: the last verification of local failed" in status.reasons


def test_job_records_count_for_runs_that_left_no_run_record(tmp_path: Path) -> None:
    """A run that failed before its set was claimed (a lock wait, a hook's plan) leaves
    only the job record."""
    session = make_session(tmp_path, schedules={"nightly": SCHEDULES["nightly"]})
    record(session, "nightly", timedelta(hours=5), "complete")
    failed = (datetime.now().astimezone() - timedelta(hours=1)).isoformat()
    ObserveState(session.state.root, "site").save_job(JobRecord(
        job="nightly", schedule="nightly", last_run=failed, last_status="failed",
        last_failure=failed, last_error="the profile is locked"))
    status = build_status(session, StatusRequest(probe=False))
    assert status.reasons == ["schedule nightly: its last run failed: the profile is locked"]
    assert status.schedules[0].last_failure is not None


def test_damaged_records_are_ignored(tmp_path: Path) -> None:
    session = make_session(tmp_path, schedules={"nightly": SCHEDULES["nightly"]})
    folder = session.state.root / "observe" / "site" / "jobs"
    folder.mkdir(parents=True)
    (folder / "nightly.json").write_text("{not json")
    (session.state.root / "observe" / "site" / "notify.json").write_text(json.dumps(
        {"ntfy": "many", "webhook": 2, "email": -1}))
    status = build_status(session, StatusRequest(probe=False))
    assert status.reasons == ["schedule nightly: no successful run recorded"]
    assert status.notify_failures == {"webhook": 2}


def test_hosts_of_a_shared_repository(tmp_path: Path) -> None:
    from orchestrator.observe.status import host_statuses
    from orchestrator.sets.naming import BackupSet

    now = datetime.now().astimezone()

    def made(profile: str, host: str, hours: float, problem: str | None = None) -> BackupSet:
        return BackupSet(name=f"{profile}-{hours}", base=profile, type="config",
                         profile=profile, host=host, time=now - timedelta(hours=hours),
                         problem=problem)

    hosts = host_statuses([made("a", "h1", 30), made("a", "h1", 2), made("b", "h2", 30),
                           made("c", "h3", 1, problem="the run failed")], now, 26 * 3600)
    shown = {(item.profile, item.health, item.complete_sets, item.newest_set)
             for item in hosts}
    assert shown == {("a", "OK", 2, "a-2"), ("b", "WARN", 1, "b-30"), ("c", "WARN", 0, None)}
    reasons = [reason for item in hosts for reason in item.reasons]
    assert reasons == ["b on h2: the newest complete set is 30.0 h old, over 26.0 h",
                       "c on h3: no complete set"]


def test_a_run_that_stored_its_set_then_failed_is_a_failed_last_run(tmp_path: Path) -> None:
    """Retention or a sync_to copy failing after the set was stored: the set counts as
    the last success, the run as failed."""
    session = make_session(tmp_path, schedules={"nightly": SCHEDULES["nightly"]})
    began = datetime.now().astimezone() - timedelta(hours=2)
    record(session, "nightly", timedelta(hours=2) - timedelta(seconds=4), "complete")
    ObserveState(session.state.root, "site").save_job(JobRecord(
        job="nightly", schedule="nightly", last_run=began.isoformat(), last_status="failed",
        last_failure=began.isoformat(), last_error="copying it to 'offsite' failed"))
    status = build_status(session, StatusRequest(probe=False))
    nightly = status.schedules[0]
    assert nightly.last_status == "failed" and nightly.last_success is not None
    assert status.reasons == ["schedule nightly: its last run failed: copying it to "
                              "'offsite' failed"]


def test_the_newest_drill_of_a_schedules_sets_counts(tmp_path: Path) -> None:
    session = make_session(tmp_path, schedules=SCHEDULES)
    record(session, "nightly", timedelta(hours=3), "complete")
    record(session, "wk", timedelta(days=1), "complete")
    url = session.profile.repositories["local"].url

    def drill(set_name: str, hours_ago: int, ok: bool) -> None:
        started = datetime.now().astimezone() - timedelta(hours=hours_ago)
        session.state.save_drill(set_name, url, json.dumps(
            {"set": set_name, "ok": ok, "started": started.isoformat(), "rto": 1.0}).encode())

    drill("wk-20261101-030000", 30, False)
    drill("wk-20261108-030000", 2, True)
    drill("nightly-20261101-030000", 5, False)
    (session.state.root / "drills" / "garbage.json").write_text("{not json")
    status = build_status(session, StatusRequest(probe=False))
    nightly, weekly = status.schedules
    assert weekly.drill_ok is True and weekly.health == "OK"
    assert nightly.drill_ok is False
    assert status.reasons == ["schedule nightly: the last restore drill failed"]


def test_data_added_per_repository_over_7_and_30_days(tmp_path: Path) -> None:
    from orchestrator.observe.records import HistoryEntry, append_history

    session = make_session(tmp_path, repositories={
        "local": {"url": str(tmp_path / "repo"), "password_file": str(tmp_path / "pass")},
        "offsite": {"url": str(tmp_path / "off"), "password_file": str(tmp_path / "pass")},
        "idle": {"url": str(tmp_path / "idle"), "password_file": str(tmp_path / "pass")}},
        schedules={"nightly": {"schedule": "0 3 * * *"},
                   "copy": {"schedule": "@weekly", "destination": "offsite"}})
    observed = ObserveState(session.state.root, "site")
    now = datetime.now().astimezone()
    runs = [("nightly", 1, True, 100), ("nightly", 6, True, 20), ("nightly", 8, True, 3000),
            ("nightly", 29, True, 40000), ("nightly", 31, True, 500000),
            ("nightly", 2, False, None), ("copy", 3, True, 7), ("copy", 20, True, 11)]
    for job, days, ok, added in runs:
        append_history(observed, HistoryEntry(
            kind="run", job=job, started=(now - timedelta(days=days)).isoformat(), ok=ok,
            bytes_added=added))
    # A manual run (no schedule): its repository comes from its set's run record.
    manual = now - timedelta(days=4)
    name = f"adhoc-{manual.astimezone(UTC):%Y%m%d-%H%M%S}"
    StateDir(session.state.root).save_run(RunRecord(
        set=name, repository="offsite", url=str(tmp_path / "off"), profile="site",
        type="config", started=manual.isoformat(), status="complete"))
    append_history(observed, HistoryEntry(kind="run", job="adhoc", started=manual.isoformat(),
                                          ok=True, set=name, bytes_added=1000))
    append_history(observed, HistoryEntry(kind="run", job="lost", started=manual.isoformat(),
                                          ok=True, set="lost-x", bytes_added=99))

    repos = {item.name: item for item in build_status(session, StatusRequest(probe=False))
             .repositories}

    def added(job_repo: str, within: int) -> int:
        destination = {"nightly": "local", "copy": "offsite"}
        total = sum(value or 0 for job, days, ok, value in runs
                    if ok and destination[job] == job_repo and days <= within)
        return total + (1000 if job_repo == "offsite" else 0)

    assert (repos["local"].added_7d_bytes, repos["local"].added_30d_bytes) == (
        added("local", 7), added("local", 30)) == (120, 43120)
    assert (repos["offsite"].added_7d_bytes, repos["offsite"].added_30d_bytes) == (
        added("offsite", 7), added("offsite", 30))
    assert repos["idle"].added_7d_bytes is None and repos["idle"].added_30d_bytes is None


def test_hostile_added_bytes_in_the_history_are_left_out(tmp_path: Path) -> None:
    from orchestrator.observe.records import HistoryEntry, append_history

    session = make_session(tmp_path, schedules={"nightly": {"schedule": "0 3 * * *"}})
    observed = ObserveState(session.state.root, "site")
    when = (datetime.now().astimezone() - timedelta(days=1)).isoformat()
    for added in (-500, True, 70):
        append_history(observed, HistoryEntry(kind="run", job="nightly", started=when,
                                              ok=True, bytes_added=added))
    local = build_status(session, StatusRequest(probe=False)).repositories[0]
    assert (local.added_7d_bytes, local.added_30d_bytes) == (70, 70)
