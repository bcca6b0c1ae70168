"""Prometheus metrics of a profile, in the text exposition format, named by Prometheus'
rules (base units, `_seconds`, `_bytes`, `_timestamp_seconds`, `_total`):

    strongroom_last_run_timestamp_seconds{profile,schedule}
    strongroom_last_success_timestamp_seconds{profile,schedule}
    strongroom_last_failure_timestamp_seconds{profile,schedule}
    strongroom_backup_duration_seconds{profile,schedule}        the last run's
    strongroom_backup_bytes{profile,schedule}                   the last run's set
    strongroom_backup_added_bytes{profile,schedule}             new data it stored
    strongroom_rpo_seconds{profile,schedule}                    the target
    strongroom_schedule_ok{profile,schedule}                    1 OK, 0 WARN
    strongroom_verify_ok{profile,repository} / strongroom_verify_timestamp_seconds
    strongroom_drill_ok{profile,schedule}                       once drills are recorded
    strongroom_repository_up{profile,repository}                when probed
    strongroom_repository_stored_bytes{profile,repository}      local repositories
    strongroom_repository_sets{profile,repository}              when probed
    strongroom_repository_added_bytes{profile,repository,window} this host's runs, 7d / 30d
    strongroom_notification_failures_total{profile,kind}
    strongroom_status{profile}                                  0 OK, 1 WARN, 2 FAIL

A schedule's series exist once it has run; jobs run without a schedule appear under
their set's name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from orchestrator.errors import StrongroomError
from orchestrator.models import StatusRequest, StatusResult
from orchestrator.observe.records import ObserveState, moment
from orchestrator.observe.status import build_status
from orchestrator.run.tempfiles import write_atomic
from orchestrator.sets.session import Session

log = logging.getLogger("strongroom")
SCHEDULE = ["profile", "schedule"]
REPOSITORY = ["profile", "repository"]


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


def _stamp(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


class StatusCollector(Collector):
    """The metric families of one status (and the job records behind it)."""

    def __init__(self, status: StatusResult, observed: ObserveState) -> None:
        self.status = status
        self.observed = observed

    def collect(self) -> Iterator[Metric]:
        profile = self.status.profile
        families = {
            "last_run_timestamp_seconds": "Start of the last run (Unix time)",
            "last_success_timestamp_seconds": "Start of the last successful run (Unix time): "
                                              "the time of the newest good set",
            "last_failure_timestamp_seconds": "Start of the last failed run (Unix time)",
            "backup_duration_seconds": "How long the last run took",
            "backup_bytes": "Bytes in the set the last run made",
            "backup_added_bytes": "Bytes the last run added to the repository",
            "rpo_seconds": "The schedule's recovery point objective",
            "schedule_ok": "1 when the schedule is within its RPO and its last run succeeded",
            "drill_ok": "1 when the last restore drill of the schedule's sets succeeded",
        }
        gauges = {key: _gauge(f"strongroom_{key}", text, SCHEDULE)
                  for key, text in families.items()}
        seen: set[str] = set()
        for item in self.status.schedules:
            seen.add(item.name)
            values = {
                "last_run_timestamp_seconds": _stamp(item.last_run),
                "last_success_timestamp_seconds": _stamp(item.last_success),
                "last_failure_timestamp_seconds": _stamp(item.last_failure),
                "backup_duration_seconds": item.duration,
                "backup_bytes": item.bytes, "backup_added_bytes": item.bytes_added,
                "rpo_seconds": item.rpo_seconds,
                "schedule_ok": 1.0 if item.health == "OK" else 0.0,
                "drill_ok": None if item.drill_ok is None else float(item.drill_ok),
            }
            self._add(gauges, values, [profile, item.name])
        for job in self.observed.jobs():
            if job.job in seen:
                continue
            self._add(gauges, {
                "last_run_timestamp_seconds": _stamp(moment(job.last_run)),
                "last_success_timestamp_seconds": _stamp(moment(job.last_success)),
                "last_failure_timestamp_seconds": _stamp(moment(job.last_failure)),
                "backup_duration_seconds": job.duration, "backup_bytes": job.bytes,
                "backup_added_bytes": job.bytes_added}, [profile, job.job])
        yield from gauges.values()
        yield from self._repositories(profile)
        failures = CounterMetricFamily("strongroom_notification_failures",
                                       "Notifications that could not be delivered",
                                       labels=["profile", "kind"])
        for kind, count in sorted(self.status.notify_failures.items()):
            failures.add_metric([profile, kind], count)
        yield failures
        overall = _gauge("strongroom_status", "Overall status: 0 OK, 1 WARN, 2 FAIL",
                         ["profile"])
        overall.add_metric([profile], float(self.status.exit_code))
        yield overall

    def _repositories(self, profile: str) -> Iterator[Metric]:
        families = {
            "verify_ok": "1 when the last verify-backup of the repository passed",
            "verify_timestamp_seconds": "When the repository was last verified (Unix time)",
            "repository_up": "1 when the repository could be opened",
            "repository_stored_bytes": "Bytes the repository takes on disk",
            "repository_sets": "Complete backup sets of the profile in the repository",
        }
        gauges = {key: _gauge(f"strongroom_{key}", text, REPOSITORY)
                  for key, text in families.items()}
        for item in self.status.repositories:
            self._add(gauges, {
                "verify_ok": None if item.verify_ok is None else float(item.verify_ok),
                "verify_timestamp_seconds": _stamp(item.last_verify),
                "repository_up": None if item.reachable is None else float(item.reachable),
                "repository_stored_bytes": item.stored_bytes,
                "repository_sets": item.complete_sets}, [profile, item.name])
        added = _gauge("strongroom_repository_added_bytes", "Bytes this host's runs added to "
                       "the repository in the window (before any prune)",
                       [*REPOSITORY, "window"])
        for item in self.status.repositories:
            for window, value in (("7d", item.added_7d_bytes), ("30d", item.added_30d_bytes)):
                if value is not None:
                    added.add_metric([profile, item.name, window], float(value))
        yield from gauges.values()
        yield added

    @staticmethod
    def _add(gauges: dict[str, GaugeMetricFamily], values: dict[str, float | int | None],
             labels: list[str]) -> None:
        for key, value in values.items():
            if value is not None:
                gauges[key].add_metric(labels, float(value))


def render(status: StatusResult, observed: ObserveState) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StatusCollector(status, observed))
    return generate_latest(registry)


def profile_metrics(session: Session, probe: bool) -> bytes:
    status = build_status(session, StatusRequest(probe=probe))
    return render(status, ObserveState(session.state.root, session.profile.profile_name))


def textfile_path(folder: Path, profile: str) -> Path:
    return folder / f"strongroom-{profile}.prom"


def write_textfile(session: Session, folder: Path, probe: bool) -> Path:
    """<folder>/strongroom-<profile>.prom, replaced atomically: node_exporter reads
    either the old file or the new one, never half of one (it skips dot files, so
    the temporary file beside it is never read)."""
    if not folder.is_dir():
        raise StrongroomError(f"the metrics textfile folder {folder} does not exist")
    path = textfile_path(folder, session.profile.profile_name)
    write_atomic(path, profile_metrics(session, probe), mode=0o644)
    return path
