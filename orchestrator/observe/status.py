"""status: per schedule its last run and success against its RPO, per repository whether
it answers, what it holds and what this host's runs added to it over 7 and 30 days,
and one overall OK / WARN / FAIL with the reasons.

WARN: a schedule's newest good set is older than its RPO, it never succeeded, its
last run failed, or the last verification of its destination failed. FAIL: a
repository cannot be opened. Reading the local records never contacts a repository;
`probe` opens each repository once (restic snapshots).
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from pathlib import Path

from orchestrator.errors import StrongroomError, UsageError
from orchestrator.models import (
    Health,
    HostStatus,
    RepositoryStatus,
    ScheduleStatus,
    StatusRequest,
    StatusResult,
)
from orchestrator.models.observe import EXIT_CODES
from orchestrator.observe.records import ObserveState, last_drill, moment, read_history
from orchestrator.observe.rpo import next_run, rpo_seconds
from orchestrator.profile.schema import Repository, Schedule
from orchestrator.profile.timespan import parse_timespan
from orchestrator.profile.urls import kind_of, shown_url
from orchestrator.sets.naming import BackupSet, split_set_name
from orchestrator.sets.session import Session, load_sets
from orchestrator.sets.state import RunRecord

log = logging.getLogger("strongroom")
ORDER: dict[Health, int] = {"OK": 0, "WARN": 1, "FAIL": 2}
SAME_RUN = timedelta(hours=1)  # a run claims its set name this soon after it starts


def worst(healths: list[Health]) -> Health:
    return max(healths, key=lambda health: ORDER[health], default="OK")


def hours(seconds: float) -> str:
    """A span as reasons show it: hours, or below two hours minutes or seconds."""
    if seconds >= 7200:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def schedule_status(session: Session, key: str, schedule: Schedule, now: datetime,
                    records_of: dict[str, list[RunRecord]] | None = None) -> ScheduleStatus:
    profile = session.profile
    destination, repository = profile.repository(schedule.destination)
    base = schedule.name or key
    cache = {} if records_of is None else records_of  # one read of the records per URL
    if repository.url not in cache:
        cache[repository.url] = session.state.runs(repository.url, profile.profile_name)
    records = sorted((record for record in cache[repository.url]
                      if (split_set_name(record.set) or ("", None))[0] == base),
                     key=lambda record: record.started)
    observed = ObserveState(session.state.root, profile.profile_name)
    job = observed.job(key)
    runs: list[tuple[datetime | None, str | None, str | None]] = [
        (moment(record.started), record.status, record.error) for record in records]
    if job is not None and job.last_run:
        runs.append((moment(job.last_run), job.last_status, job.last_error))
    runs = [run for run in runs if run[0] is not None]
    runs.sort(key=lambda run: run[0])  # type: ignore[arg-type,return-value]
    successes = [when for when, status, _ in runs if status == "complete" and when]
    failures = [when for when, status, _ in runs if status == "failed" and when]
    if job is not None and (when := moment(job.last_success)) is not None:
        successes.append(when)
    if job is not None and (when := moment(job.last_failure)) is not None:
        failures.append(when)
    last_success, last_failure = max(successes, default=None), max(failures, default=None)
    last = runs[-1] if runs else None
    if job is not None and job.last_status == "failed" and last is not None:
        failed_at = moment(job.last_run)
        if failed_at is not None and last[0] is not None and \
                timedelta(0) <= last[0] - failed_at <= SAME_RUN:
            # The run stored its set, then failed (its retention or its sync_to copy).
            last = (failed_at, "failed", job.last_error)
    rpo, given = rpo_seconds(schedule, now)
    age = (now - last_success).total_seconds() if last_success else None
    reasons: list[str] = []
    if last_success is None:
        reasons.append(f"schedule {key}: no successful run recorded")
    elif age is not None and age > rpo:
        reasons.append(f"schedule {key}: the last good set is {hours(age)} old, over its "
                       f"RPO of {hours(rpo)}")
    if last is not None and last[1] == "failed":
        reasons.append(f"schedule {key}: its last run failed"
                       + (f": {last[2]}" if last[2] else ""))
    verify = observed.verify(destination)
    if verify is not None and not verify.ok:
        reasons.append(f"schedule {key}: the last verification of {destination} failed")
    drill = last_drill(session.state.root, base)
    if drill is not None and not drill.ok:
        reasons.append(f"schedule {key}: the last restore drill failed")
    return ScheduleStatus(
        name=key, schedule=schedule.schedule, destination=destination,
        health="WARN" if reasons else "OK", reasons=reasons,
        last_run=last[0] if last else None, last_status=last[1] if last else None,
        last_error=last[2] if last else None, last_success=last_success,
        last_failure=last_failure, age_seconds=age, rpo_seconds=rpo, rpo_from_profile=given,
        next_run=next_run(schedule, now),
        duration=job.duration if job else None, bytes=job.bytes if job else None,
        bytes_added=job.bytes_added if job else None,
        last_verify=moment(verify.time) if verify else None,
        verify_ok=verify.ok if verify else None,
        last_drill=drill.time if drill else None, drill_ok=drill.ok if drill else None)


def local_size(url: str) -> tuple[int | None, int | None]:
    """Bytes stored and lock files of a local repository (None: not local, or unreadable)."""
    if kind_of(url) != "local":
        return None, None
    root = Path(url.removeprefix("local:").removeprefix("file://"))
    if not root.is_dir():
        return None, None
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    locks = root / "locks"
    count = sum(1 for _ in locks.iterdir()) if locks.is_dir() else 0
    return total, count


def repository_status(session: Session, name: str, repository: Repository,
                      probe: bool) -> tuple[RepositoryStatus, list[BackupSet]]:
    observed = ObserveState(session.state.root, session.profile.profile_name)
    verify = observed.verify(name)
    status = RepositoryStatus(
        name=name, url=shown_url(repository.url), engine=repository.engine, health="OK",
        probed=probe, last_verify=moment(verify.time) if verify else None,
        verify_ok=verify.ok if verify else None)
    if verify is not None and not verify.ok:
        status.reasons.append(f"repository {name}: the last verification failed"
                              + (f": {verify.error}" if verify.error else ""))
        status.health = "WARN"
    if repository.engine == "restic":
        status.stored_bytes, status.locks = local_size(repository.url)
    if not probe:
        return status, []
    try:
        _, engine = session.engine(name)
        sets = load_sets(session, engine, repository.url)
    except StrongroomError as exc:
        status.reachable, status.health = False, "FAIL"
        status.reasons.append(f"repository {name}: cannot be read: {exc.message}")
        return status, []
    status.reachable = True
    stored = [entry for entry in sets if entry.parts]
    complete = [entry for entry in stored if entry.complete]
    status.sets, status.complete_sets = len(stored), len(complete)
    status.snapshots = sum(len(entry.parts) for entry in stored)
    status.newest_set = max((entry.time for entry in complete), default=None)
    newest: dict[str, int | None] = {}
    for entry in sorted(complete, key=lambda item: item.time):
        newest[entry.base] = entry.size
    sizes = [size for size in newest.values() if size is not None]
    status.source_bytes = sum(sizes) if sizes else None
    return status, stored


def added_bytes(session: Session, now: datetime) -> dict[str, tuple[int, int]]:
    """Per repository, the data this host's runs added over the last 7 and 30 days, from
    the run history: a run's repository is its schedule's destination, else the one its
    set's run record names. Repositories with no such run in 30 days are left out."""
    profile = session.profile
    by_set = {record.set: record.repository
              for url in sorted({repository.url for repository in profile.repositories.values()})
              for record in session.state.runs(url, profile.profile_name)}
    added: dict[str, tuple[int, int]] = {}
    for entry in read_history(ObserveState(session.state.root, profile.profile_name)):
        started = moment(entry.started)
        value = entry.bytes_added
        if entry.kind != "run" or not entry.ok or started is None or \
                not isinstance(value, int) or isinstance(value, bool) or value < 0 or \
                now - started > timedelta(days=30):
            continue
        schedule = profile.schedules.get(entry.job)
        try:
            if schedule is not None:
                name = profile.repository(schedule.destination)[0]
            elif (recorded := by_set.get(entry.set or "")) is not None:
                name = profile.repository(recorded)[0]
            else:
                continue
        except StrongroomError:
            continue
        week, month = added.get(name, (0, 0))
        recent = now - started <= timedelta(days=7)
        added[name] = (week + (value if recent else 0), month + value)
    return added


def host_statuses(sets: list[BackupSet], now: datetime, max_age: float) -> list[HostStatus]:
    """Per profile and host: its sets and how old its newest complete one is."""
    groups: dict[tuple[str, str], list[BackupSet]] = {}
    for entry in sets:
        groups.setdefault((entry.profile, entry.host), []).append(entry)
    hosts = []
    for (profile, host), mine in sorted(groups.items()):
        complete = sorted((entry for entry in mine if entry.complete),
                          key=lambda entry: entry.time)
        item = HostStatus(profile=profile, host=host, health="OK", sets=len(mine),
                          complete_sets=len(complete))
        label = f"{profile} on {host or '?'}"
        if not complete:
            item.health = "WARN"
            item.reasons.append(f"{label}: no complete set")
        else:
            newest = complete[-1]
            item.newest_set, item.newest_time = newest.name, newest.time
            item.age_seconds = (now - newest.time).total_seconds()
            if item.age_seconds > max_age:
                item.health = "WARN"
                item.reasons.append(f"{label}: the newest complete set is "
                                    f"{hours(item.age_seconds)} old, over {hours(max_age)}")
        hosts.append(item)
    return hosts


def build_status(session: Session, request: StatusRequest) -> StatusResult:
    profile = session.profile
    now = datetime.now().astimezone()
    records_of: dict[str, list[RunRecord]] = {}
    schedules = [schedule_status(session, key, schedule, now, records_of)
                 for key, schedule in profile.schedules.items()]
    probed = [repository_status(session, name, repository, request.probe)
              for name, repository in profile.repositories.items()]
    repositories = [status for status, _ in probed]
    added = added_bytes(session, now)
    for item in repositories:
        item.added_7d_bytes, item.added_30d_bytes = added.get(item.name, (None, None))
    hosts: list[HostStatus] = []
    if profile.profile_free:
        try:
            max_age = float(parse_timespan(request.max_age))
        except ValueError as exc:
            raise UsageError(f"--max-age: {exc}") from None
        hosts = host_statuses([entry for _, sets in probed for entry in sets], now, max_age)
    parts: list[ScheduleStatus | RepositoryStatus | HostStatus] = [*repositories, *schedules,
                                                                   *hosts]
    health = worst([item.health for item in parts])
    reasons = [reason for item in parts for reason in item.reasons]
    observed = ObserveState(session.state.root, profile.profile_name)
    return StatusResult(
        profile=profile.profile_name, host=session.host, checked=now, health=health,
        exit_code=EXIT_CODES[health], reasons=reasons, schedules=schedules,
        repositories=repositories, hosts=hosts, notify_failures=observed.notify_failures())
