"""A schedule's recovery point objective: how old its newest good set may grow.

Given as `rpo = "26h"` in the schedule, or by default 1.1 times the longest gap
between two of its runs (a weekday schedule's longest gap is the weekend) plus its
randomized delay: one late run is not yet a warning, one missed run is.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from orchestrator.profile.cron import cron_times
from orchestrator.profile.schema import Schedule
from orchestrator.profile.timespan import parse_timespan

DEFAULT_FACTOR = 1.1
SAMPLE_SPAN = timedelta(days=32)  # covers a week's and a month's pattern
MAX_SAMPLES = 800


def longest_gap(expression: str, start: datetime) -> float:
    """The longest time in seconds between two consecutive runs, over the month from
    `start` (or the first MAX_SAMPLES runs of a very frequent schedule)."""
    times = cron_times(expression, start)
    previous: datetime = times.get_next(datetime)
    first, gap = previous, 0.0
    for _ in range(MAX_SAMPLES):
        current: datetime = times.get_next(datetime)
        gap = max(gap, (current - previous).total_seconds())
        previous = current
        if current - first > SAMPLE_SPAN:
            break
    return gap


def rpo_seconds(schedule: Schedule, now: datetime) -> tuple[float, bool]:
    """The schedule's RPO in seconds, and whether the profile gave it (False: the default)."""
    if schedule.rpo is not None:
        return float(parse_timespan(schedule.rpo)), True
    delay = parse_timespan(schedule.randomized_delay)
    return round(DEFAULT_FACTOR * longest_gap(schedule.schedule, now) + delay, 3), False


def next_run(schedule: Schedule, now: datetime) -> datetime:
    moment: datetime = cron_times(schedule.schedule, now).get_next(datetime)
    return moment


def achieved_rpo(successes: list[datetime], before: datetime | None,
                 now: datetime) -> float | None:
    """The longest time a good set stayed the newest: the gaps between successes (from
    the last one before the window, when there is one) and from the last to now."""
    points = ([before] if before else []) + successes
    if not points:
        return None
    gaps = [(later - earlier).total_seconds()
            for earlier, later in itertools.pairwise(points)]
    return max(gaps + [(now - points[-1]).total_seconds()])
