"""Waits and delays: seconds, minutes (min), hours and days, nothing ambiguous."""

from __future__ import annotations

import pytest

from orchestrator.profile.timespan import parse_timespan


def test_timespans() -> None:
    assert [parse_timespan(text) for text in ("0", "90", "90s", "5min", "2h", "7d")] == [
        0, 90, 90, 300, 7200, 604800]


@pytest.mark.parametrize("bad", ["5m", "1.5h", "-1", "ten", "5 min", "01"])
def test_bad_timespans_name_the_forms(bad: str) -> None:
    with pytest.raises(ValueError, match=r"5min\), hours \(2h\) or days"):
        parse_timespan(bad)


def test_a_cron_date_that_never_comes_is_refused() -> None:
    from orchestrator.profile.schema import Schedule

    with pytest.raises(ValueError, match="never fires"):
        Schedule(schedule="0 0 31 2,4 *")
