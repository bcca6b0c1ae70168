"""The foreground scheduler on a fake clock: cron times, catch-up of one missed run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from orchestrator.schedule.scheduler import Scheduler, Stamps, next_fire, previous_fire

START = datetime(2026, 3, 2, 10, 7, 30, tzinfo=UTC)  # a Monday


class FakeTime:
    def __init__(self, now: datetime, stop_at: datetime) -> None:
        self.now, self.stop_at = now, stop_at
        self.ran: list[tuple[str, datetime]] = []

    def clock(self) -> datetime:
        return self.now

    def wait(self, seconds: float) -> bool:
        assert 0 < seconds <= 60
        self.now += timedelta(seconds=seconds)
        return self.now >= self.stop_at

    def run(self, key: str) -> int:
        self.ran.append((key, self.now))
        self.now += timedelta(seconds=90)  # a run takes time
        return 0


def scheduler(tmp_path: Path, time: FakeTime, schedules: dict[str, str]) -> Scheduler:
    return Scheduler(schedules, Stamps(tmp_path), time.run, time.clock, time.wait)


def test_fire_times_follow_cron() -> None:
    assert next_fire("*/15 * * * *", START) == START.replace(minute=15, second=0)
    assert previous_fire("@daily", START) == START.replace(hour=0, minute=0, second=0)


def test_schedules_run_at_their_times_one_after_the_other(tmp_path: Path) -> None:
    time = FakeTime(START, START + timedelta(hours=2))
    runs = scheduler(tmp_path, time, {"often": "*/30 * * * *", "hourly": "@hourly"}).serve()
    at = [(key, moment.strftime("%H:%M")) for key, moment in time.ran]
    assert at == [("often", "10:30"), ("hourly", "11:00"), ("often", "11:01"),
                  ("often", "11:30"), ("hourly", "12:00"), ("often", "12:01")]
    assert runs == 6


def test_a_first_start_runs_nothing_but_starts_watching(tmp_path: Path) -> None:
    time = FakeTime(START, START + timedelta(minutes=30))
    scheduler(tmp_path, time, {"nightly": "0 3 * * *"}).serve()
    assert time.ran == [] and Stamps(tmp_path).get("nightly") == START


def test_downtime_catches_up_one_run_only(tmp_path: Path) -> None:
    Stamps(tmp_path).put("nightly", START - timedelta(days=3))  # three nights missed
    Stamps(tmp_path).put("weekly", START - timedelta(hours=1))  # Sunday's run was made
    time = FakeTime(START, START + timedelta(hours=1))
    plan = {"nightly": "0 3 * * *", "weekly": "0 1 * * sun"}
    assert scheduler(tmp_path, time, plan).serve() == 1
    assert time.ran == [("nightly", START)]
    assert Stamps(tmp_path).get("nightly") == START


def test_max_runs_ends_the_loop(tmp_path: Path) -> None:
    time = FakeTime(START, START + timedelta(days=1))
    assert scheduler(tmp_path, time, {"often": "* * * * *"}).serve(max_runs=3) == 3
