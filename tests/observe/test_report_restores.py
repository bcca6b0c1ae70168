"""report: restore drills and recoveries (success rates, RTO against the target), the
storage cost estimate, and the fleet view per host; each value against one computed
here the straightforward way."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestrator.engines.base import Snapshot
from orchestrator.errors import UsageError
from orchestrator.models import ReportRequest
from orchestrator.observe.report import build_report
from orchestrator.observe.report_fleet import host_reports
from orchestrator.sets.naming import DRILL_PART, BackupSet
from orchestrator.sets.session import Session
from tests.observe.conftest import make_session

HOUR = 3600.0


def drill(session: Session, name: str, started: datetime, ok: bool, rto: float,
          url: str | None = None) -> None:
    session.state.save_drill(name, url or session.profile.repositories["local"].url,
                             json.dumps({"set": name, "ok": ok, "started": started.isoformat(),
                                         "rto": rto}).encode())


def recovery(root: Path, name: str, started: datetime, ok: bool, rto: float,
             dry_run: bool = False, profile: str = "site") -> None:
    folder = root / "recoveries"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{started:%Y%m%dT%H%M%S}-{name}.json").write_text(json.dumps({
        "set": name, "id": "abc", "time": started.isoformat(), "profile": profile,
        "profile_file": "/etc/site.toml", "repository": "local", "target": "/",
        "dry_run": dry_run, "started": started.isoformat(), "steps": [], "rto": rto,
        "rpo": 60.0, "ok": ok}))


def test_drills_and_recoveries_of_the_window(tmp_path: Path) -> None:
    session = make_session(tmp_path)
    root, now = session.state.root, datetime.now().astimezone()
    drills = [(f"nightly-2026110{day}-030000", now - timedelta(days=day), ok, rto)
              for day, ok, rto in ((2, True, 600.0), (3, False, 50.0), (5, True, 5 * HOUR),
                                   (9, True, 1200.0))]
    drills.append(("nightly-20261001-030000", now - timedelta(days=40), False, 9.0))  # before
    for name, started, ok, rto in drills:
        drill(session, name, started, ok, rto)
    drill(session, "other-20261103-030000", now - timedelta(days=1), False, 1.0,
          url="/elsewhere")  # another repository's drill: not this profile's
    recoveries = [("dr-20261101-030000", now - timedelta(days=4), True, 2 * HOUR),
                  ("dr-20261102-030000", now - timedelta(days=6), False, 30.0)]
    for name, started, ok, rto in recoveries:
        recovery(root, name, started, ok, rto)
    recovery(root, "dr-x", now - timedelta(days=1), True, 1.0, dry_run=True)
    recovery(root, "dr-y", now - timedelta(days=1), True, 1.0, profile="another")
    (root / "recoveries" / "broken.json").write_text("{")

    report = build_report(session, ReportRequest(since="30d", probe=False))

    start = now - timedelta(days=30)
    in_drills = [item for item in drills if item[1] >= start]
    assert report.drills == 4
    assert report.drill_success_rate == round(sum(ok for *_, ok, _ in in_drills) / 4, 4)
    assert report.recoveries == 2 and report.recovery_success_rate == 0.5
    everything = in_drills + recoveries
    assert report.restore_success_rate == round(sum(item[2] for item in everything) / 6, 4)
    ok_times = [item[3] for item in everything if item[2]]
    assert report.rto_mean_seconds == round(sum(ok_times) / len(ok_times), 3)
    assert report.rto_max_seconds == 5 * HOUR
    assert report.rto_target_seconds == 4 * HOUR and report.rto_met is False
    assert [point.set for point in report.restores] == sorted(
        (item[0] for item in everything), key=lambda name: next(
            item[1] for item in everything if item[0] == name))
    assert "restore drills: 1 of 4 failed" in report.findings
    assert "recoveries: 1 of 2 failed" in report.findings
    assert any(item.startswith("RTO missed: the slowest restore took 5.00 h")
               for item in report.findings)

    relaxed = build_report(session, ReportRequest(since="30d", probe=False, rto_target="6h"))
    assert relaxed.rto_met is True and relaxed.rto_target_seconds == 6 * HOUR
    assert not any(item.startswith("RTO missed") for item in relaxed.findings)


def test_no_restore_at_all_is_a_finding(tmp_path: Path) -> None:
    report = build_report(make_session(tmp_path), ReportRequest(probe=False))
    assert report.drills == report.recoveries == 0 and report.rto_met is None
    assert report.restore_success_rate is None
    assert "no restore drill or recovery in the window: the RTO is unknown" in report.findings


def test_a_bad_rto_target_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--rto-target"):
        build_report(make_session(tmp_path), ReportRequest(rto_target="soon", probe=False))


def test_storage_cost_of_the_stored_bytes(tmp_path: Path) -> None:
    repo, remote = tmp_path / "repo", "s3:https://s3.example.com/bucket/strongroom"
    (repo / "data" / "00").mkdir(parents=True)
    (repo / "data" / "00" / "pack").write_bytes(b"x" * 3_000_000)
    (repo / "config").write_bytes(b"y" * 1000)
    session = make_session(tmp_path, repositories={
        "local": {"url": str(repo), "password_file": str(tmp_path / "pass"),
                  "cost_per_gib_month": 2.5},
        "offsite": {"url": remote, "password_file": str(tmp_path / "pass"),
                    "cost_per_gib_month": 0.02},
        "free": {"url": str(tmp_path / "free"), "password_file": str(tmp_path / "pass")}})
    report = build_report(session, ReportRequest(probe=False))
    local, offsite, free = report.repositories
    assert local.stored_bytes == 3_001_000
    assert local.monthly_cost == round(3_001_000 / 2**30 * 2.5, 2) == 0.01
    assert offsite.cost_per_gib_month == 0.02 and offsite.monthly_cost is None  # size unknown
    assert free.monthly_cost is None
    assert report.monthly_cost == local.monthly_cost


def test_a_negative_cost_is_refused(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="cost_per_gib_month"):
        make_session(tmp_path, repositories={"local": {
            "url": str(tmp_path / "repo"), "password_file": str(tmp_path / "pass"),
            "cost_per_gib_month": -1}})


def _set(profile: str, host: str, age_hours: float, now: datetime, problem: str | None = None,
         drill_result: str | None = None) -> BackupSet:
    time = now - timedelta(hours=age_hours)
    parts: dict[str, Snapshot] = {}
    if drill_result:
        parts[DRILL_PART] = Snapshot(id="d" * 64, short_id="dddddddd", time=time,
                                     hostname=host, paths=(), tags=(
                                         f"drill-result={drill_result}",))
    return BackupSet(name=f"{profile}-{time.astimezone(UTC):%Y%m%d-%H%M%S}", base=profile,
                     type="config", profile=profile, host=host, time=time, parts=parts,
                     problem=problem)


def test_fleet_hosts_from_the_repository_alone() -> None:
    now = datetime.now().astimezone()
    start = now - timedelta(days=30)
    ages_a = [24.0 * day for day in (40, 29, 20, 19, 1)]  # one before the window
    sets = [_set("a", "h1", age, now, drill_result="ok" if age == 24.0 else None)
            for age in ages_a]
    sets += [_set("a", "h1", 30.0, now, problem="the final snapshot is missing")]
    sets += [_set("b", "h2", age, now, drill_result="failed" if age == 5.0 else None)
             for age in (25.0, 5.0)]
    sets += [_set("c", "h3", 2.0, now, problem="the final snapshot is missing")]

    hosts, findings = host_reports(sets, start, now, 26 * HOUR)

    a, b, c = hosts
    good_a = sorted(now - timedelta(hours=age) for age in ages_a if age < 30 * 24)
    gaps = [(later - earlier).total_seconds() for earlier, later in
            zip([now - timedelta(hours=40 * 24), *good_a], [*good_a, now], strict=True)]
    assert (a.profile, a.host, a.sets, a.complete_sets) == ("a", "h1", 5, 4)
    assert a.completion_rate == round(4 / 5, 4)
    assert a.achieved_rpo_seconds == pytest.approx(max(gaps))
    assert a.rpo_met is False and a.drills == 1 and a.drills_ok == 1
    assert a.age_seconds == pytest.approx(24 * HOUR, abs=1)
    assert b.achieved_rpo_seconds == pytest.approx(20 * HOUR) and b.rpo_met is True
    assert b.drills == 1 and b.drills_ok == 0 and b.completion_rate == 1.0
    assert c.complete_sets == 0 and c.newest_set is None and c.completion_rate == 0.0
    assert findings == [
        f"a on h1: RPO missed (a complete set stayed the newest for "
        f"{max(gaps) / 3600:.1f} h, over 26.0 h)",
        "a on h1: 1 of 5 sets incomplete",
        "b on h2: 1 of 1 restore drills failed",
        "c on h3: no complete set",
        "c on h3: 1 of 1 sets incomplete"]


def test_markdown_and_html_show_restores_cost_and_hosts(tmp_path: Path) -> None:
    from orchestrator.cli.observe import render_report
    from orchestrator.models import HostReport
    from orchestrator.observe.report_html import figures

    session = make_session(tmp_path)
    now = datetime.now().astimezone()
    drill(session, "nightly-20261102-030000", now - timedelta(days=2), True, 5400.0)
    recovery(session.state.root, "dr-20261101-030000", now - timedelta(days=3), False, 60.0)
    report = build_report(session, ReportRequest(probe=False))
    report.monthly_cost = 12.5
    report.hosts = [HostReport(profile="a", host="h1", sets=3, complete_sets=2,
                               completion_rate=0.6667, drills=1, drills_ok=1)]
    text = render_report(report)
    assert "| drill success rate | 100.0 % |" in text
    assert "| recovery success rate | 0.0 % |" in text
    assert "| RTO mean / slowest | 1.5 h / 1.5 h |" in text
    assert "| RTO met | yes |" in text and "| storage cost per month | 12.50 |" in text
    assert "| a | h1 | 3 | 2 | 66.7 % |" in text
    assert "| recovery | dr-20261101-030000 |" in text and "**failed**" in text
    rto = {trace["name"]: trace["y"] for trace in figures(report)["rto"]["data"]}
    assert rto == {"drill (ok)": [1.5], "recovery (failed)": [60.0 / 3600], "target": [4, 4]}
