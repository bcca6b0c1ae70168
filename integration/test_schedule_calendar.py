"""cron → OnCalendar against two oracles: croniter's next fire times (with cron's day rule)
and systemd's own
`systemd-analyze calendar --iterations=50` over the emitted lines, merged."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime

import pytest

from integration.conftest import require_binary
from orchestrator.profile.cron import CronError, cron_times, to_oncalendar

BASE = datetime(2026, 1, 1, 0, 0, 0)
ITERATIONS = 50
UNSUPPORTED = "0 0 L * *"  # a Quartz extension: refused with a clear message
EXPRESSIONS = [
    "* * * * *", "0 * * * *", "*/15 * * * *", "5,35 * * * *", "0 3 * * *", "30 2 * * 0",
    "0 1 * * sun", "0 0 1 * *", "0 0 1 1 *", "0 */6 * * *", "0 9-17 * * 1-5",
    "0 9-17/2 * * mon-fri", "15 14 1 * *", "0 22 * * 1-5", "23 0-20/2 * * *",
    "0 0,12 1 */2 *", "0 4 8-14 * *", "0 0 1,15 * 3", "0 0 13 * fri", "5 4 * * sun",
    "0 0 29 2 *", "0 0 31 * *", "0 12 * jan,jul *", "0 12 * JAN-MAR mon", "1-5/2 * * * *",
    "0 0 * * 7", "0 0 * * 0,7", "59 23 31 12 *", "0 6 1-7 * 1", "*/10 8-10 * 6-8 sat,sun",
    "0 0 */3 * *", "0 0 10-20/5 * *", "45 17 * * 5", "0 2 * * 1/2",
    "@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually",
    "0 0 2-30/7 feb-nov/3 *", "7 7 7 7 *", "0 18 * * thu,tue",
    # cron's day rule: OR only when neither day field starts with `*`
    "0 3 1-31 * 1", "0 3 15 * 1-7", "0 3 */2 * 1", "0 3 1 * */2", "0 3 */10 * sat",
]


def systemd_times(lines: list[str]) -> list[datetime]:
    times: set[datetime] = set()
    env = {**os.environ, "TZ": "UTC"}
    for line in lines:
        out = subprocess.run(
            ["systemd-analyze", "calendar", f"--iterations={ITERATIONS}",
             f"--base-time={BASE:%Y-%m-%d %H:%M:%S}", line],
            env=env, capture_output=True, text=True, check=True, timeout=60).stdout
        for match in re.finditer(r"(?:Next elapse|Iter\. #\d+): \w+ (\S+ \S+) UTC", out):
            times.add(datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S"))
    return sorted(times)[:ITERATIONS]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_oncalendar_fires_exactly_when_cron_does(expression: str) -> None:
    require_binary("systemd-analyze")
    lines = to_oncalendar(expression)
    runs = cron_times(expression, BASE)
    expected = [runs.get_next(datetime) for _ in range(ITERATIONS)]
    # systemd's calendar ends with the year 2199 (29 February runs out there).
    assert systemd_times(lines) == [t for t in expected if t.year < 2200], lines


def test_enough_expressions_and_both_day_fields_give_two_lines() -> None:
    assert len(EXPRESSIONS) >= 40
    assert to_oncalendar("0 0 1,15 * 3") == ["*-*-01,15 00:00:00", "Wed *-*-* 00:00:00"]
    assert to_oncalendar("0 3 */10 * sat") == ["Sat *-*-01,11,21,31 03:00:00"]
    assert to_oncalendar("0 3 1-31 * 1") == ["*-*-* 03:00:00"]
    with pytest.raises(CronError, match="'L' is not a number or a name"):
        to_oncalendar(UNSUPPORTED)
    with pytest.raises(CronError, match="five fields"):
        to_oncalendar("0 0 * *")
    with pytest.raises(CronError, match="outside 0-23"):
        to_oncalendar("0 24 * * *")
