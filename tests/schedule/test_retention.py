"""Retention rules, pure: parsing, Go's AddDate, and why each set is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.errors import UsageError
from orchestrator.schedule.retention import Policy, Within, add_date, decide, parse_retention


def test_retention_forms() -> None:
    assert parse_retention("30d") == Within(days=30)
    assert parse_retention("12w") == Within(days=84)
    assert parse_retention("12m") == Within(months=12)
    assert parse_retention("1y") == Within(years=1)
    assert parse_retention("48h") == Within(hours=48)
    for bad in ("30 days", "0d", "d", "3q", "1.5d"):
        with pytest.raises(UsageError, match="48h, 30d, 12w, 12m or 1y"):
            parse_retention(bad)


def test_add_date_overflows_like_go() -> None:
    assert add_date(datetime(2024, 3, 31, 5, tzinfo=UTC), 0, -1, 0) == datetime(
        2024, 3, 2, 5, tzinfo=UTC)
    assert add_date(datetime(2024, 2, 29, tzinfo=UTC), -1, 0, 0) == datetime(
        2023, 3, 1, tzinfo=UTC)
    assert add_date(datetime(2024, 1, 10, tzinfo=UTC), 0, -1, -15) == datetime(
        2023, 11, 25, tzinfo=UTC)


def test_decide_gives_the_rule_that_keeps_each_set() -> None:
    day = datetime(2024, 6, 1, 12, tzinfo=UTC)
    times = [(f"s{i}", day - timedelta(days=i)) for i in range(10)]
    kept = decide(times, Policy(last=2, weekly=2))
    assert kept["s0"] == ["last 1", "weekly 1"]
    assert kept["s1"] == ["last 2"]
    # Saturday 1 June 2024's ISO week began on Monday 27 May: s6 (26 May) is the week before.
    assert kept["s6"] == ["weekly 2"]
    assert [name for name, why in kept.items() if why] == ["s0", "s1", "s6"]
    within = decide(times, Policy(within=Within(days=3)))
    assert [name for name, why in within.items() if why] == ["s0", "s1", "s2"]


def test_a_schedule_without_rules_takes_its_repository_default() -> None:
    from orchestrator.profile.schema import Profile

    profile = Profile.model_validate({
        "repositories": {
            "local": {"url": "/r", "password_env": "P", "keep_daily": 7},
            "offsite": {"url": "/o", "password_env": "P"}},
        "schedules": {
            "own": {"schedule": "@daily", "retention": "30d", "destination": "local"},
            "inherits": {"schedule": "@daily"},
            "none": {"schedule": "@daily", "destination": "offsite"}}})
    assert Policy.for_schedule(profile, "own") == Policy(within=Within(days=30))
    assert Policy.for_schedule(profile, "inherits") == Policy(daily=7)
    assert Policy.for_schedule(profile, "none").empty
