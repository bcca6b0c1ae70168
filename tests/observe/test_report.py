"""report on a generated history: every metric against a value computed here, the
straightforward way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestrator.models import ReportRequest
from orchestrator.observe.records import HistoryEntry, ObserveState, append_history
from orchestrator.observe.report import build_report
from orchestrator.sets.state import RunRecord, StateDir
from tests.observe.conftest import make_session

SCHEDULES = {"nightly": {"schedule": "0 3 * * *", "rpo": "26h", "retention": "30d"},
             "weekly": {"schedule": "@weekly"}}
SKIPPED_DAY = 20  # no nightly run that day: a 48 h gap, over the 26 h RPO
FAILED_DAYS = {11: "disk full", 10: "disk full", 3: "timeout"}


def test_metrics_of_a_generated_history(tmp_path: Path) -> None:
    session = make_session(tmp_path, schedules=SCHEDULES)
    observed = ObserveState(session.state.root, "site")
    now = datetime.now().astimezone()
    nightly: list[tuple[datetime, bool, float]] = []
    for day in range(35, 0, -1):  # five days before the window too
        if day == SKIPPED_DAY:
            continue
        started = now - timedelta(days=day, minutes=7)
        ok = day not in FAILED_DAYS
        duration = 60.0 + day
        nightly.append((started, ok, duration))
        name = f"nightly-{started.astimezone(UTC):%Y%m%d-%H%M%S}"
        append_history(observed, HistoryEntry(
            kind="run", job="nightly", started=started.isoformat(), ok=ok, duration=duration,
            set=name if ok else None, error=None if ok else FAILED_DAYS[day]))
        if day % 2 == 0:  # its run record too, as make_set leaves one: counted once
            StateDir(session.state.root).save_run(RunRecord(
                set=name, repository="local", url=session.profile.repositories["local"].url,
                profile="site", type="config", started=(started + timedelta(seconds=3))
                .isoformat(), status="complete" if ok else "failed"))
    # A weekly run from before the history existed: only its run record.
    legacy = now - timedelta(days=6)
    StateDir(session.state.root).save_run(RunRecord(
        set=f"weekly-{legacy.astimezone(UTC):%Y%m%d-%H%M%S}", repository="local",
        url=session.profile.repositories["local"].url, profile="site", type="config",
        started=legacy.isoformat(), status="complete"))
    verifies = [(now - timedelta(days=d), ok) for d, ok in ((40, False), (25, True),
                                                            (12, False), (5, True), (1, True))]
    for when, ok in verifies:
        append_history(observed, HistoryEntry(kind="verify", job="local",
                                              started=when.isoformat(), ok=ok))

    report = build_report(session, ReportRequest(since="30d", probe=False))

    start = now - timedelta(days=30)
    window = [run for run in nightly if run[0] >= start]
    good = [run for run in window if run[1]]
    assert len(window) == 28 and len(good) == 25  # days 29 … 1 but 20
    job = {item.job: item for item in report.jobs}
    assert job["nightly"].runs == 28 and job["nightly"].failed == 3
    assert job["nightly"].completion_rate == round(25 / 28, 4)
    assert job["nightly"].mean_duration_seconds == round(sum(r[2] for r in good) / 25, 3)
    # Failure streaks: days 11-10 repaired on day 9, day 3 repaired on day 2.
    repairs = [2 * 86400.0, 86400.0]
    assert job["nightly"].mttr_seconds == round(sum(repairs) / 2, 3)
    # The longest a good set stayed newest: from day 12 to day 9 (two failures between).
    assert job["nightly"].achieved_rpo_seconds == 3 * 86400
    assert job["nightly"].rpo_seconds == 26 * 3600 and job["nightly"].rpo_met is False
    assert job["nightly"].retention == "retention=30d"
    assert job["weekly"].runs == 1 and job["weekly"].mean_duration_seconds is None
    assert job["weekly"].retention is None

    assert report.runs == 29 and report.completion_rate == round(26 / 29, 4)
    assert report.mttr_seconds == round(sum(repairs) / 2, 3)
    in_window = [ok for when, ok in verifies if when >= start]
    assert report.verifications == 4
    assert report.verification_pass_rate == round(sum(in_window) / len(in_window), 4)
    assert report.repositories[0].verifications == 4
    assert report.repositories[0].verifications_passed == 3
    assert report.repositories[0].encrypted is True
    assert "schedule weekly: no retention policy (keeps everything)" in report.findings
    assert any(f.startswith("schedule nightly: RPO missed") for f in report.findings)
    assert "repository local: not verified in the last 30d" in report.findings


def test_a_bad_window_is_a_usage_error(tmp_path: Path) -> None:
    import pytest

    from orchestrator.errors import UsageError

    with pytest.raises(UsageError, match="--since"):
        build_report(make_session(tmp_path), ReportRequest(since="a month", probe=False))


def test_chart_data_follow_the_history(tmp_path: Path) -> None:
    from orchestrator.observe.report_html import figures

    session = make_session(tmp_path, schedules=SCHEDULES)
    observed = ObserveState(session.state.root, "site")
    now = datetime.now().astimezone()
    for day, added in ((3, 100), (2, 50), (1, 25)):
        append_history(observed, HistoryEntry(
            kind="run", job="nightly", started=(now - timedelta(days=day)).isoformat(),
            ok=True, duration=float(day), bytes=1000 * day, bytes_added=added))
    charts = figures(build_report(session, ReportRequest(probe=False)))
    assert charts["duration"]["data"][0]["y"] == [3.0, 2.0, 1.0]
    assert charts["size"]["data"][0]["y"] == [3000, 2000, 1000]
    assert charts["growth"]["data"][0]["y"] == [100, 150, 175]
    rpo = {bar["name"]: dict(zip(bar["x"], bar["y"], strict=True))
           for bar in charts["rpo"]["data"]}
    assert rpo["target"]["nightly"] == 26
    assert abs(rpo["achieved RPO"]["nightly"] - 24) < 0.01  # the time since the last run
