"""The RPO of a schedule: given, or 1.1 x its longest gap plus its randomized delay."""

from __future__ import annotations

from datetime import datetime

from orchestrator.observe.rpo import longest_gap, rpo_seconds
from orchestrator.profile.schema import Schedule

MONDAY = datetime(2026, 11, 30, 12, 0).astimezone()


def test_longest_gaps_of_common_schedules() -> None:
    assert longest_gap("0 3 * * *", MONDAY) == 86400
    assert longest_gap("5 * * * *", MONDAY) == 3600
    assert longest_gap("@weekly", MONDAY) == 7 * 86400
    # Weekdays only: Friday 02:30 to Monday 02:30 is the longest gap.
    assert longest_gap("30 2 * * mon-fri", MONDAY) == 3 * 86400
    # Twice a day at uneven hours: the night gap counts.
    assert longest_gap("0 6,9 * * *", MONDAY) == 21 * 3600


def test_default_rpo_is_a_missed_run_plus_delay() -> None:
    daily = Schedule(schedule="0 3 * * *", randomized_delay="15min")
    assert rpo_seconds(daily, MONDAY) == (95040 + 900, False)
    assert rpo_seconds(Schedule(schedule="0 3 * * *", rpo="26h"), MONDAY) == (26 * 3600, True)
    assert rpo_seconds(Schedule(schedule="@weekly", rpo="8d"), MONDAY) == (8 * 86400, True)


def test_bad_rpo_is_refused() -> None:
    import pytest
    from pydantic import ValidationError

    assert Schedule(schedule="@daily", rpo="90000").rpo == "90000"  # plain seconds
    for bad in ("0", "1w", "-3h", "26 hours"):
        with pytest.raises(ValidationError):
            Schedule(schedule="@daily", rpo=bad)
