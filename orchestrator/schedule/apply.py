"""apply-retention: each schedule's policy over its own sets, then forget and prune.

A schedule's sets are those named after it (its `name`, else its key). Every part of a
removed set is forgotten by snapshot id; incomplete sets older than a day go too.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from orchestrator.errors import UsageError
from orchestrator.models import ApplyRetentionRequest, ApplyRetentionResult, RetentionDecision
from orchestrator.schedule.retention import Policy, add_date, decide, parse_retention
from orchestrator.sets.naming import BackupSet
from orchestrator.sets.session import Session, load_sets
from orchestrator.sets.vaults import vault_snapshots

log = logging.getLogger("strongroom")
INCOMPLETE_GRACE = timedelta(days=1)


def apply_retention(session: Session, request: ApplyRetentionRequest) -> ApplyRetentionResult:
    profile = session.profile
    if request.schedule is not None and request.schedule not in profile.schedules:
        have = ", ".join(profile.schedules) or "none"
        raise UsageError(f"no schedule named {request.schedule!r} in the profile (have: {have})")
    chosen = [request.schedule] if request.schedule else [
        key for key, item in profile.schedules.items() if item.type != "drill"]  # no sets
    policies = {key: Policy.for_schedule(profile, key) for key in chosen}
    with_policy = [key for key in chosen if not policies[key].empty]
    if request.schedule and not with_policy:
        raise UsageError(f"schedule {request.schedule!r} has no retention: set retention = "
                         "\"30d\" or keep_daily = 7, … on it or on its repository")
    decisions: list[RetentionDecision] = []
    forgotten = 0
    pruned: list[str] = []
    now = datetime.now(UTC)
    destination_of = {key: profile.repository(profile.schedules[key].destination)[0]
                      for key in with_policy}
    for destination in sorted(set(destination_of.values())):
        repo_name, engine = session.engine(destination)
        sets = load_sets(session, engine, profile.repositories[repo_name].url)
        doomed: list[str] = []
        vault_doomed: dict[str, list[str]] = {}
        for key in with_policy:
            if destination_of[key] != repo_name:
                continue
            schedule = profile.schedules[key]
            base = schedule.name or key
            mine = [entry for entry in sets if entry.base == base]
            for entry, keep, reasons in _judge(mine, policies[key], now):
                if not keep and entry.unchecked:
                    keep, reasons = True, [f"{entry.unchecked}: kept until its parts there "
                                           "can be forgotten with it"]
                decisions.append(RetentionDecision(
                    set=entry.name, schedule=key, destination=repo_name, time=entry.time,
                    status="complete" if entry.complete else "incomplete", keep=keep,
                    reasons=reasons))
                if not keep:
                    doomed += [snap.id for snap in entry.parts.values()]
                    for vault, ids in vault_snapshots(entry).items():
                        vault_doomed.setdefault(vault, []).extend(ids)
        if vault_doomed and not request.dry_run:
            # the vaults first: a set whose main parts remain is still listed, and retried
            for vault, ids in sorted(vault_doomed.items()):
                forgotten += len(ids)
                session.engine(vault)[1].forget(ids)
                if _prune_due(session, vault, True, now):
                    session.engine(vault)[1].prune()
                    session.state.mark_pruned(vault, profile.repositories[vault].url, now)
                    pruned.append(vault)
        if doomed and not request.dry_run:
            engine.forget(doomed)
            forgotten += len(doomed)
            log.info("%s: forgot %d snapshot(s)", repo_name, len(doomed))
        if not request.dry_run and _prune_due(session, repo_name, bool(doomed), now):
            engine.prune()
            session.state.mark_pruned(repo_name, profile.repositories[repo_name].url, now)
            pruned.append(repo_name)
            log.info("%s: pruned", repo_name)
    return ApplyRetentionResult(
        dry_run=request.dry_run, sets=sorted(decisions, key=lambda d: (d.schedule, d.time)),
        removed=sum(1 for d in decisions if not d.keep), forgotten_snapshots=forgotten,
        pruned=pruned)


def _prune_due(session: Session, repo_name: str, forgot: bool, now: datetime) -> bool:
    """Every run that forgot sets prunes, unless the repository sets `prune_every`: then
    the first run after that span prunes, also when this run forgot nothing (an earlier
    run may have forgotten sets without pruning)."""
    repository = session.profile.repositories[repo_name]
    if repository.prune_every is None:
        return forgot
    last = session.state.last_pruned(repo_name, repository.url)
    if last is None:
        return True
    span = parse_retention(repository.prune_every)
    return add_date(last, span.years, span.months, span.days) + timedelta(hours=span.hours) <= now


def _judge(sets: Sequence[BackupSet], policy: Policy,
           now: datetime) -> list[tuple[BackupSet, bool, list[str]]]:
    """(set, keep, why) for one schedule's sets: the policy over the complete ones;
    incomplete ones are kept for a day, in case their run is still going."""
    complete = [entry for entry in sets if entry.complete]
    reasons = decide([(entry.name, entry.time) for entry in complete], policy)
    judged = [(entry, bool(reasons[entry.name]),
               reasons[entry.name] or ["no rule keeps it"]) for entry in complete]
    for entry in sets:
        if entry.complete or not entry.parts:
            continue  # a run that stored nothing has nothing to forget
        young = now - entry.time < INCOMPLETE_GRACE
        judged.append((entry, young, ["incomplete, less than a day old"] if young
                       else ["incomplete, older than a day"]))
    return judged
