"""report --repo: per profile and host, what the repository alone tells of a window: its
sets and how many are complete, the longest a complete set stayed its newest against
--max-age, the age of its newest complete set, and the outcome of the drills recorded on
its sets (a drill's time and RTO stay on the host that ran it)."""

from __future__ import annotations

from datetime import datetime

from orchestrator.models import HostReport
from orchestrator.observe.restores import rate
from orchestrator.observe.rpo import achieved_rpo
from orchestrator.observe.status import hours
from orchestrator.sets.naming import BackupSet


def host_report(profile: str, host: str, mine: list[BackupSet], start: datetime,
                now: datetime, max_age: float) -> tuple[HostReport, list[str]]:
    window = [entry for entry in mine if entry.time >= start]
    complete = sorted(entry.time for entry in mine if entry.complete)
    good = [when for when in complete if when >= start]
    before = max((when for when in complete if when < start), default=None)
    drilled = [entry for entry in window if entry.drill != "never"]
    item = HostReport(
        profile=profile, host=host, sets=len(window), complete_sets=len(good),
        completion_rate=rate(len(good), len(window)),
        achieved_rpo_seconds=achieved_rpo(good, before, now),
        drills=len(drilled), drills_ok=sum(entry.drill == "ok" for entry in drilled))
    if item.achieved_rpo_seconds is not None:
        item.rpo_met = item.achieved_rpo_seconds <= max_age
    newest = max((entry for entry in mine if entry.complete), key=lambda entry: entry.time,
                 default=None)
    if newest is not None:
        item.newest_set = newest.name
        item.age_seconds = (now - newest.time).total_seconds()
    label, findings = f"{profile} on {host or '?'}", []
    if newest is None:
        findings.append(f"{label}: no complete set")
    elif item.rpo_met is False:
        findings.append(f"{label}: RPO missed (a complete set stayed the newest for "
                        f"{hours(item.achieved_rpo_seconds or 0)}, over {hours(max_age)})")
    if item.sets > item.complete_sets:
        findings.append(f"{label}: {item.sets - item.complete_sets} of {item.sets} sets "
                        "incomplete")
    if item.drills > item.drills_ok:
        findings.append(f"{label}: {item.drills - item.drills_ok} of {item.drills} restore "
                        "drills failed")
    return item, findings


def host_reports(sets: list[BackupSet], start: datetime, now: datetime,
                 max_age: float) -> tuple[list[HostReport], list[str]]:
    groups: dict[tuple[str, str], list[BackupSet]] = {}
    for entry in sets:
        groups.setdefault((entry.profile, entry.host), []).append(entry)
    hosts, findings = [], []
    for (profile, host), mine in sorted(groups.items()):
        item, found = host_report(profile, host, mine, start, now, max_age)
        hosts.append(item)
        findings += found
    return hosts, findings
