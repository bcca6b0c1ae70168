"""`strongroom scheduler`: the profile's schedules run in the foreground, for hosts and
containers with neither systemd nor cron.

Each schedule fires at its cron times (local time), one run after the other; every
run is a child `strongroom create-backup --schedule KEY`, which takes the profile's
lock like any other run. Like a systemd timer with Persistent=true, a schedule that
should have fired while the scheduler was down runs once as soon as it is back: a
stamp per schedule records up to when the scheduler was watching it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from orchestrator.profile.cron import cron_times
from orchestrator.run.tempfiles import write_atomic
from orchestrator.sets.session import Session

log = logging.getLogger("strongroom")
MAX_SLEEP = 60.0  # wake at least this often: the wall clock may jump (suspend, NTP)


def next_fire(expression: str, after: datetime) -> datetime:
    fire: datetime = cron_times(expression, after).get_next(datetime)
    return fire


def previous_fire(expression: str, before: datetime) -> datetime:
    fire: datetime = cron_times(expression, before).get_prev(datetime)
    return fire


class Stamps:
    """<state>/scheduler/<profile>/<key>.stamp: the time up to which a schedule was served."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get(self, key: str) -> datetime | None:
        try:
            return datetime.fromisoformat((self.folder / f"{key}.stamp").read_text().strip())
        except (OSError, ValueError):
            return None

    def put(self, key: str, moment: datetime) -> None:
        write_atomic(self.folder / f"{key}.stamp", moment.isoformat().encode())


@dataclass
class Scheduler:
    schedules: Mapping[str, str]  # key → cron expression
    stamps: Stamps
    run_job: Callable[[str], int]
    clock: Callable[[], datetime]
    wait: Callable[[float], bool]  # sleep up to n seconds; True when asked to stop
    runs: int = 0
    upcoming: dict[str, datetime] = field(default_factory=dict)

    def missed(self, now: datetime) -> list[str]:
        """Schedules that should have fired since their stamp: each runs once now. A
        schedule seen for the first time starts being served from now."""
        due = []
        for key, expression in self.schedules.items():
            stamp = self.stamps.get(key)
            if stamp is None:
                self.stamps.put(key, now)
            elif previous_fire(expression, now) > stamp:
                log.warning("schedule %s missed its run of %s: running it now", key,
                            previous_fire(expression, now).isoformat(timespec="minutes"))
                due.append(key)
        return due

    def serve(self, max_runs: int | None = None) -> int:
        """Run schedules until asked to stop (or after `max_runs` runs); the runs made."""
        now = self.clock()
        queue = self.missed(now)
        self.upcoming = {key: next_fire(expr, now) for key, expr in self.schedules.items()}
        for key, when in sorted(self.upcoming.items(), key=lambda item: item[1]):
            log.info("schedule %s: next run %s", key, when.isoformat(timespec="minutes"))
        while max_runs is None or self.runs < max_runs:
            if queue:
                self._run(queue.pop(0))
                continue
            now = self.clock()
            earliest = min(self.upcoming.values(), default=None)
            if earliest is None:
                log.warning("the profile has no schedules: nothing to run")
                return self.runs
            if earliest > now:
                if self.wait(min(MAX_SLEEP, (earliest - now).total_seconds())):
                    break
                continue
            for key in sorted(self.upcoming, key=lambda k: (self.upcoming[k], k)):
                if self.upcoming[key] <= now:
                    queue.append(key)
                    self.upcoming[key] = next_fire(self.schedules[key], now)
        return self.runs

    def _run(self, key: str) -> None:
        started = self.clock()
        self.stamps.put(key, started)
        log.info("schedule %s: starting", key)
        code = self.run_job(key)
        self.runs += 1
        outcome = "finished" if code == 0 else f"FAILED (exit code {code})"
        log.warning("schedule %s: %s after %.0f s", key, outcome,
                    (self.clock() - started).total_seconds())


def serve_profile(session: Session, max_runs: int | None = None) -> int:
    """The scheduler for a loaded profile; SIGTERM stops it like Ctrl-C, ending a run in
    progress the way an interrupted create-backup ends (its set marked incomplete)."""
    import signal
    import threading

    from orchestrator.schedule.manage import profile_file

    profile = session.profile
    path = profile_file(profile)
    stop = threading.Event()

    def interrupted(signum: int, frame: object) -> None:
        stop.set()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupted)
    scheduler = Scheduler(
        schedules={key: item.schedule for key, item in profile.schedules.items()},
        stamps=Stamps(session.state.root / "scheduler" / profile.profile_name),
        run_job=lambda key: run_scheduled(path, key, profile.schedules[key].type == "drill"),
        clock=lambda: datetime.now().astimezone(),
        wait=stop.wait)
    log.warning("scheduler for profile %s: %d schedule(s); stop with Ctrl-C or SIGTERM",
                profile.profile_name, len(profile.schedules))
    try:
        return scheduler.serve(max_runs)
    except KeyboardInterrupt:
        log.warning("scheduler stopped")
        return scheduler.runs
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_scheduled(profile_path: Path, key: str, drill: bool = False) -> int:
    """One scheduled run as a child process; its output passes through."""
    import sys

    from orchestrator.run import run
    from orchestrator.schedule.manage import strongroom_executable
    from orchestrator.schedule.units import job_argv

    argv = job_argv(strongroom_executable(), str(profile_path), key, drill)
    completed = run(argv, ok_codes=range(256), on_line=lambda line: print(line, flush=True))
    if completed.stderr:
        print(completed.stderr, file=sys.stderr)
    return completed.returncode
