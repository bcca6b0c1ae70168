"""The restores a report counts: restore drills (the copy drill keeps of its last run on
each set, `<state>/drills/<set>.json`, for this profile's repositories) and recoveries
(the reports recover stores in `<state>/recoveries/`, dry runs left out). Unreadable
records are left out; the RTO of a restore is its wall time, counted for the successful
ones only (a failed restore recovered nothing)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from statistics import mean
from typing import Any, Literal

from orchestrator.models import RestorePoint
from orchestrator.observe.records import moment
from orchestrator.sets.state import StateDir


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def _point(kind: Literal["drill", "recovery"], data: Any) -> RestorePoint | None:
    if not isinstance(data, dict):
        return None
    started = moment(data.get("started")) if isinstance(data.get("started"), str) else None
    rto, ok, name = _number(data.get("rto")), data.get("ok"), data.get("set")
    if started is None or rto is None or not isinstance(ok, bool) or not isinstance(name, str):
        return None
    return RestorePoint(kind=kind, set=name, started=started, ok=ok, rto=rto)


def drill_points(state_root: Path, urls: set[str]) -> list[RestorePoint]:
    points = [_point("drill", record) for url in sorted(urls)
              for record in StateDir(state_root).drills(url)]
    return [point for point in points if point is not None]


def recovery_points(state_root: Path, profile: str) -> list[RestorePoint]:
    folder = state_root / "recoveries"
    points: list[RestorePoint] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("dry_run") is not False or \
                data.get("profile") != profile:
            continue
        point = _point("recovery", data)
        if point is not None:
            points.append(point)
    return points


def restores_since(state_root: Path, profile: str, urls: set[str],
                   start: datetime) -> list[RestorePoint]:
    points = drill_points(state_root, urls) + recovery_points(state_root, profile)
    return sorted((point for point in points if point.started >= start),
                  key=lambda point: point.started)


def rate(ok: int, total: int) -> float | None:
    return round(ok / total, 4) if total else None


@dataclass(frozen=True)
class RestoreSummary:
    drills: int
    drills_failed: int
    drill_success_rate: float | None
    recoveries: int
    recoveries_failed: int
    recovery_success_rate: float | None
    restore_success_rate: float | None
    rto_mean_seconds: float | None
    rto_max_seconds: float | None
    rto_met: bool | None


def summarize(points: list[RestorePoint], target: float) -> RestoreSummary:
    drills = [point for point in points if point.kind == "drill"]
    recoveries = [point for point in points if point.kind == "recovery"]
    times = [point.rto for point in points if point.ok]
    return RestoreSummary(
        drills=len(drills), drills_failed=sum(not p.ok for p in drills),
        drill_success_rate=rate(sum(p.ok for p in drills), len(drills)),
        recoveries=len(recoveries), recoveries_failed=sum(not p.ok for p in recoveries),
        recovery_success_rate=rate(sum(p.ok for p in recoveries), len(recoveries)),
        restore_success_rate=rate(sum(p.ok for p in points), len(points)),
        rto_mean_seconds=round(mean(times), 3) if times else None,
        rto_max_seconds=max(times) if times else None,
        rto_met=max(times) <= target if times else None)


def restore_findings(summary: RestoreSummary, target: float, target_text: str) -> list[str]:
    findings = []
    if summary.drills + summary.recoveries == 0:
        findings.append("no restore drill or recovery in the window: the RTO is unknown")
    for kind, count, bad in (("restore drills", summary.drills, summary.drills_failed),
                             ("recoveries", summary.recoveries, summary.recoveries_failed)):
        if bad:
            findings.append(f"{kind}: {bad} of {count} failed")
    if summary.rto_met is False and summary.rto_max_seconds is not None:
        findings.append(f"RTO missed: the slowest restore took "
                        f"{summary.rto_max_seconds / 3600:.2f} h, target {target_text} "
                        f"({target / 3600:.2f} h)")
    return findings
