"""report: the success metrics of a window (default the last 30 days) from this host's
run history, verifications and repositories.

Runs come from the history watching writes (<state>/observe/<profile>/history.jsonl)
and, for runs made before it existed, from sets/state.py's run records (without a
duration). A run record and a history line of the same run are counted once: by set
name for successes, by job and start time for failures.

Restores (drills and recoveries, with their RTO) come from restores.py, the monthly
cost from the stored bytes and `cost_per_gib_month` of each repository. Without a
profile (--repo) the figures per profile and host come from the repository's sets
alone (report_fleet.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from statistics import mean

from orchestrator.errors import UsageError
from orchestrator.models import (
    HostReport,
    JobReport,
    ReportRequest,
    ReportResult,
    RepositoryReport,
    RestorePoint,
    RunPoint,
)
from orchestrator.observe.records import ObserveState, moment, read_history
from orchestrator.observe.report_fleet import host_reports
from orchestrator.observe.restores import rate, restore_findings, restores_since, summarize
from orchestrator.observe.rpo import achieved_rpo, rpo_seconds
from orchestrator.observe.status import repository_status
from orchestrator.profile.schema import Profile, RetentionRules
from orchestrator.profile.timespan import parse_timespan
from orchestrator.sets.naming import split_set_name
from orchestrator.sets.session import Session

SAME_RUN = timedelta(hours=1)  # a run's record is claimed this soon after it starts
STALE_RUNNING = timedelta(days=1)  # a run still "running" after this was interrupted
GIB = 2**30
RULES = ("retention", "keep_last", "keep_hourly", "keep_daily", "keep_weekly",
         "keep_monthly", "keep_yearly")


@dataclass(frozen=True)
class Run:
    job: str
    started: datetime
    ok: bool
    duration: float | None = None
    set: str | None = None
    bytes: int | None = None
    bytes_added: int | None = None


def span(text: str, option: str) -> timedelta:
    try:
        return timedelta(seconds=parse_timespan(text))
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def collect_runs(session: Session, now: datetime) -> list[Run]:
    profile = session.profile
    observed = ObserveState(session.state.root, profile.profile_name)
    runs = []
    for entry in read_history(observed):
        started = moment(entry.started)
        if entry.kind == "run" and started is not None:
            runs.append(Run(entry.job, started, entry.ok, entry.duration, entry.set,
                            entry.bytes, entry.bytes_added))
    by_base = {schedule.name or key: key for key, schedule in profile.schedules.items()}
    known_sets = {run.set for run in runs if run.set}
    urls = {repository.url for repository in profile.repositories.values()}
    for url in sorted(urls):
        for record in session.state.runs(url, profile.profile_name):
            started = moment(record.started)
            split = split_set_name(record.set)
            if started is None or split is None or record.set in known_sets:
                continue
            job = by_base.get(split[0], split[0])
            if record.status == "running" and now - started < STALE_RUNNING:
                continue
            ok = record.status == "complete"
            if not ok and any(run.job == job and not run.ok and
                              timedelta(0) <= started - run.started <= SAME_RUN
                              for run in runs):
                continue
            runs.append(Run(job, started, ok, None, record.set,
                            record.bytes if ok else None))
    return sorted(runs, key=lambda run: run.started)


def mttr(runs: list[Run]) -> list[float]:
    """For each failure streak ended by a success: from its first failure to the success."""
    repairs, streak = [], None
    for run in runs:
        if not run.ok and streak is None:
            streak = run.started
        elif run.ok and streak is not None:
            repairs.append((run.started - streak).total_seconds())
            streak = None
    return repairs


def rules_text(rules: RetentionRules) -> str | None:
    given = [f"{name}={getattr(rules, name)}" for name in RULES if getattr(rules, name)]
    return ", ".join(given) or None


def job_report(profile: Profile, job: str, all_runs: list[Run], start: datetime,
               now: datetime) -> JobReport:
    mine = [run for run in all_runs if run.job == job]
    window = [run for run in mine if run.started >= start]
    good = [run for run in window if run.ok]
    before = max((run.started for run in mine if run.ok and run.started < start), default=None)
    durations = [run.duration for run in good if run.duration is not None]
    repairs = mttr(window)
    report = JobReport(
        job=job, runs=len(window), succeeded=len(good), failed=len(window) - len(good),
        completion_rate=round(len(good) / len(window), 4) if window else None,
        mean_duration_seconds=round(mean(durations), 3) if durations else None,
        mttr_seconds=round(mean(repairs), 3) if repairs else None,
        achieved_rpo_seconds=achieved_rpo([run.started for run in good], before, now),
        last_success=good[-1].started if good else before)
    schedule = profile.schedules.get(job)
    if schedule is not None:
        report.schedule = job
        report.rpo_seconds = rpo_seconds(schedule, now)[0]
        if report.achieved_rpo_seconds is not None:
            report.rpo_met = report.achieved_rpo_seconds <= report.rpo_seconds
        _, repository = profile.repository(schedule.destination)
        report.retention = rules_text(schedule) or rules_text(repository)
    return report


def build_report(session: Session, request: ReportRequest) -> ReportResult:
    profile = session.profile
    now = datetime.now().astimezone()
    start = now - span(request.since, "--since")
    verify_age = span(request.verify_max_age, "--verify-max-age")
    runs = collect_runs(session, now)
    jobs = sorted({run.job for run in runs} | set(profile.schedules))
    reports = [job_report(profile, job, runs, start, now) for job in jobs]
    window = [run for run in runs if run.started >= start]
    good = [run for run in window if run.ok]
    durations = [run.duration for run in good if run.duration is not None]
    repairs = [value for job in jobs
               for value in mttr([run for run in window if run.job == job])]
    observed = ObserveState(session.state.root, profile.profile_name)
    verifies = [entry for entry in read_history(observed) if entry.kind == "verify"
                and (when := moment(entry.started)) is not None and when >= start]
    rto_target = span(request.rto_target, "--rto-target")
    probed = [repository_status(session, name, repository, request.probe)
              for name, repository in profile.repositories.items()]
    repositories, findings = [], []
    for item, _sets in probed:
        mine = [entry for entry in verifies if entry.job == item.name]
        recent = item.last_verify is not None and now - item.last_verify <= verify_age
        efficiency = None
        if item.stored_bytes and item.source_bytes:
            efficiency = round(item.source_bytes / item.stored_bytes, 3)
        price = profile.repositories[item.name].cost_per_gib_month
        cost = None
        if price is not None and item.stored_bytes is not None:
            cost = round(item.stored_bytes / GIB * price, 2)
        repositories.append(RepositoryReport(
            name=item.name, encrypted=True if item.engine == "restic" else None,
            reachable=item.reachable, stored_bytes=item.stored_bytes,
            source_bytes=item.source_bytes, efficiency=efficiency, verifications=len(mine),
            verifications_passed=sum(entry.ok for entry in mine), last_verify=item.last_verify,
            verified_recently=recent, cost_per_gib_month=price, monthly_cost=cost))
        if not recent and not profile.profile_free:  # verifications stay on their host
            findings.append(f"repository {item.name}: not verified in the last "
                            f"{request.verify_max_age}")
        if item.reachable is False:
            findings.append(f"repository {item.name}: cannot be read")
    for report in reports:
        if report.rpo_met is False:
            achieved, target = report.achieved_rpo_seconds or 0, report.rpo_seconds or 0
            findings.append(f"schedule {report.job}: RPO missed (a good set stayed the "
                            f"newest for {achieved / 3600:.1f} h, target {target / 3600:.1f} h)")
        if report.schedule and report.retention is None:
            findings.append(f"schedule {report.job}: no retention policy (keeps everything)")
    hosts: list[HostReport] = []
    restores: list[RestorePoint] = []
    if profile.profile_free:
        max_age = span(request.max_age, "--max-age").total_seconds()
        hosts, late = host_reports([entry for _, sets in probed for entry in sets], start,
                                   now, max_age)
        findings += late
    else:
        urls = {repository.url for repository in profile.repositories.values()}
        restores = restores_since(session.state.root, profile.profile_name, urls, start)
    summary = summarize(restores, rto_target.total_seconds())
    if profile.profile_free:  # the repository tells a drill's outcome, not its time
        drilled, passed = sum(host.drills for host in hosts), sum(host.drills_ok for host in hosts)
        summary = replace(summary, drills=drilled, drills_failed=drilled - passed,
                          drill_success_rate=rate(passed, drilled),
                          restore_success_rate=rate(passed, drilled))
    else:
        findings += restore_findings(summary, rto_target.total_seconds(), request.rto_target)
    costs = [repo.monthly_cost for repo in repositories if repo.monthly_cost is not None]
    return ReportResult(
        profile=profile.profile_name, host=session.host, since=start, until=now,
        runs=len(window),
        completion_rate=round(len(good) / len(window), 4) if window else None,
        mean_duration_seconds=round(mean(durations), 3) if durations else None,
        mttr_seconds=round(mean(repairs), 3) if repairs else None,
        verifications=len(verifies),
        verification_pass_rate=round(sum(entry.ok for entry in verifies) / len(verifies), 4)
        if verifies else None,
        drills=summary.drills, drill_success_rate=summary.drill_success_rate,
        recoveries=summary.recoveries, recovery_success_rate=summary.recovery_success_rate,
        restore_success_rate=summary.restore_success_rate,
        rto_target_seconds=rto_target.total_seconds(), rto_mean_seconds=summary.rto_mean_seconds,
        rto_max_seconds=summary.rto_max_seconds, rto_met=summary.rto_met, restores=restores,
        monthly_cost=round(sum(costs), 2) if costs else None, hosts=hosts,
        jobs=reports, repositories=repositories, findings=findings,
        history=[RunPoint(job=run.job, started=run.started, ok=run.ok, duration=run.duration,
                          bytes=run.bytes, bytes_added=run.bytes_added) for run in window])
