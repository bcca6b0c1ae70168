"""Retention: which sets a schedule keeps, decided by strongroom per set, as restic decides.

restic's own `forget --keep-*` groups snapshots by host and paths, so on the parts of
sets it would keep different days of different parts. strongroom applies the same
rules (restic 0.14's ApplyPolicy) to whole sets of one schedule, then forgets every
part of each removed set by snapshot id and prunes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from orchestrator.errors import UsageError
from orchestrator.profile.schema import RETENTION_FORMS, RETENTION_PATTERN, Profile, RetentionRules


@dataclass(frozen=True)
class Within:
    """Go's AddDate arguments plus hours: what `restic forget --keep-within` takes."""

    years: int = 0
    months: int = 0
    days: int = 0
    hours: int = 0

    def __str__(self) -> str:
        parts = [(self.years, "y"), (self.months, "m"), (self.days, "d"), (self.hours, "h")]
        return "".join(f"{value}{unit}" for value, unit in parts if value) or "0h"


def parse_retention(text: str) -> Within:
    """`30d`, `12w`, `12m`, `1y`, `48h`; weeks are counted as 7 days (restic has no weeks)."""
    if not re.fullmatch(RETENTION_PATTERN, text):
        raise UsageError(f"retention {text!r} is not understood: give {RETENTION_FORMS}")
    value, unit = int(text[:-1]), text[-1]
    return {"h": Within(hours=value), "d": Within(days=value), "w": Within(days=7 * value),
            "m": Within(months=value), "y": Within(years=value)}[unit]


@dataclass(frozen=True)
class Policy:
    within: Within | None = None
    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0

    @classmethod
    def of(cls, rules: RetentionRules) -> Policy:
        return cls(
            within=parse_retention(rules.retention) if rules.retention else None,
            last=rules.keep_last or 0, hourly=rules.keep_hourly or 0,
            daily=rules.keep_daily or 0, weekly=rules.keep_weekly or 0,
            monthly=rules.keep_monthly or 0, yearly=rules.keep_yearly or 0,
        )

    @classmethod
    def for_schedule(cls, profile: Profile, key: str) -> Policy:
        """The schedule's own rules, else the default rules of the repository it backs up to."""
        schedule = profile.schedules[key]
        if schedule.has_rules:
            return cls.of(schedule)
        return cls.of(profile.repository(schedule.destination)[1])

    @property
    def empty(self) -> bool:
        return self.within is None and not any(
            (self.last, self.hourly, self.daily, self.weekly, self.monthly, self.yearly))

    def restic_flags(self) -> list[str]:
        """The same policy as `restic forget` flags (for comparing with restic itself)."""
        flags = [f"--keep-within={self.within}"] if self.within else []
        for name in ("last", "hourly", "daily", "weekly", "monthly", "yearly"):
            if getattr(self, name):
                flags.append(f"--keep-{name}={getattr(self, name)}")
        return flags


def add_date(moment: datetime, years: int, months: int, days: int) -> datetime:
    """Go's time.AddDate: months carry into years, then days overflow across months
    (31 March minus one month is 3 March)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 + years * 12 + months, 12)
    return moment.replace(year=year, month=month + 1, day=1) + timedelta(
        days=moment.day - 1 + days)


_BUCKETS: tuple[tuple[str, Callable[[datetime, int], object]], ...] = (
    ("last", lambda t, index: index),
    ("hourly", lambda t, index: (t.year, t.month, t.day, t.hour)),
    ("daily", lambda t, index: (t.year, t.month, t.day)),
    ("weekly", lambda t, index: t.isocalendar()[:2]),
    ("monthly", lambda t, index: (t.year, t.month)),
    ("yearly", lambda t, index: t.year),
)


def decide(times: Sequence[tuple[str, datetime]], policy: Policy) -> dict[str, list[str]]:
    """{name: the rules that keep it} for each item; an empty list means removed.
    An empty policy keeps everything, as restic does."""
    ordered = sorted(times, key=lambda item: item[1], reverse=True)
    if policy.empty:
        return {name: ["no retention rules"] for name, _ in ordered}
    remaining = {name: getattr(policy, name) for name, _ in _BUCKETS}
    last_key: dict[str, object] = {}
    cutoff = None
    if policy.within is not None and ordered:
        within = policy.within
        cutoff = add_date(ordered[0][1], -within.years, -within.months, -within.days)
        cutoff -= timedelta(hours=within.hours)
    result: dict[str, list[str]] = {}
    for index, (name, moment) in enumerate(ordered):
        reasons = []
        for rule, key_of in _BUCKETS:
            if remaining[rule] <= 0:
                continue
            key = key_of(moment, index)
            if key != last_key.get(rule, _NOTHING):
                last_key[rule] = key
                remaining[rule] -= 1
                reasons.append(f"{rule} {getattr(policy, rule) - remaining[rule]}")
        if cutoff is not None and moment > cutoff:
            reasons.append(f"within {policy.within}")
        result[name] = reasons
    return result


_NOTHING = object()
