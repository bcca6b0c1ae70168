"""Every run the tools registry makes, watched: its outcome recorded, the metrics
textfile rewritten, the `[[notify]]` receivers told. Nothing here may fail or hold up
the run: each step catches its own errors and logs them.

Runs are the tools that make a set (RUN_TOOLS); a verify-backup's outcome is
recorded for its repository, and a failed one is told as a failure.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from orchestrator.errors import StrongroomError
from orchestrator.observe.notify.payloads import LOG_TAIL_LINES, RunEvent

if TYPE_CHECKING:
    from orchestrator.observe.notify import Dispatcher
from orchestrator.observe.records import (
    HistoryEntry,
    JobRecord,
    ObserveState,
    VerifyRecord,
    append_history,
)
from orchestrator.profile.observe import Event
from orchestrator.sets.naming import split_set_name
from orchestrator.sets.session import Session

log = logging.getLogger("strongroom")
RUN_TOOLS = {"create-backup": None, "backup-files": "files", "backup-database": None,
             "backup-containers": "containers", "backup-vm-snapshot": "vm"}
VERIFY_TOOL = "verify-backup"


class Tail(logging.Handler):
    """The run's last log lines (for failure messages) and whether it warned."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: deque[str] = deque(maxlen=LOG_TAIL_LINES)
        self.warned = False
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING and not record.name.startswith(
                "strongroom.observe"):
            self.warned = True
        try:
            self.lines.append(self.format(record))
        except Exception:  # noqa: BLE001 - a bad log record must not end the run
            pass


@dataclass
class Watch:
    """Handed to the caller: it sets `result` once the run returns."""

    result: BaseModel | None = None
    started: datetime = field(default_factory=lambda: datetime.now().astimezone())


def job_name(tool: str, request: Any) -> str:
    """The job a run belongs to before it has a set name: its schedule, or the base
    name its set will get."""
    schedule = getattr(request, "schedule", None)
    if schedule:
        return str(schedule)
    name = getattr(request, "name", None)
    if name:
        return str(name)
    if tool == "backup-database":
        return f"{getattr(request, 'service', None) or 'databases'}-db"
    return RUN_TOOLS.get(tool) or str(getattr(request, "type", None) or tool)


@contextmanager
def watched(session: Session, tool: str, request: BaseModel) -> Iterator[Watch]:
    watch = Watch()
    if session.profile.profile_free or tool not in (*RUN_TOOLS, VERIFY_TOOL):
        yield watch  # a repository read without its profile leaves no records
        return
    if tool == VERIFY_TOOL:
        yield from _verify(session, request, watch)
        return
    tail = Tail()
    logger = logging.getLogger("strongroom")
    logger.addHandler(tail)
    job = job_name(tool, request)
    event = RunEvent(event="start", profile=session.profile.profile_name, host=session.host,
                     job=job, schedule=getattr(request, "schedule", None), tool=tool,
                     started=watch.started.isoformat())
    dispatcher = _guarded(lambda: _start(session, event))
    try:
        yield watch
    except BaseException as exc:
        logger.removeHandler(tail)
        error = exc.message if isinstance(exc, StrongroomError) else (
            "interrupted" if isinstance(exc, KeyboardInterrupt) else type(exc).__name__)
        _guarded(lambda: _finish(session, dispatcher, event, tail, "failure", None, error))
        raise
    logger.removeHandler(tail)
    outcome: Event = "warning" if tail.warned else "success"
    _guarded(lambda: _finish(session, dispatcher, event, tail, outcome, watch.result, None))


def _guarded(step: Any) -> Any:
    try:
        return step()
    except Exception as exc:  # noqa: BLE001 - watching never fails the run
        log.warning("monitoring: %s", exc.message if isinstance(exc, StrongroomError)
                    else f"{type(exc).__name__}: {exc}")
        return None


def _start(session: Session, event: RunEvent) -> Dispatcher | None:
    if not session.profile.notify:
        return None
    from orchestrator.observe.notify import Dispatcher

    dispatcher = Dispatcher(list(session.profile.notify))
    dispatcher.send(event)
    return dispatcher


def _finish(session: Session, dispatcher: Dispatcher | None, event: RunEvent, tail: Tail,
            outcome: Event, result: BaseModel | None, error: str | None) -> None:
    finished = datetime.now().astimezone()
    observed = ObserveState(session.state.root, session.profile.profile_name)
    set_name = getattr(result, "set", None)
    job = event.job
    if event.schedule is None and set_name and (split := split_set_name(set_name)):
        job = split[0]
    record = observed.job(job) or JobRecord(job=job)
    record.schedule, record.tool, record.last_run = event.schedule, event.tool, event.started
    record.duration = round((finished - datetime.fromisoformat(event.started))
                            .total_seconds(), 3)
    if error is None:
        record.last_status, record.last_success, record.last_error = (
            "complete", event.started, None)
        record.set = set_name
        record.bytes = getattr(result, "bytes", None)
        record.bytes_added = getattr(result, "bytes_added", None)
    else:
        record.last_status, record.last_failure, record.last_error = (
            "failed", event.started, error[:500])
    _guarded(lambda: observed.save_job(record))
    _guarded(lambda: append_history(observed, HistoryEntry(
        kind="run", job=job, started=event.started, ok=error is None, duration=record.duration,
        set=set_name, bytes=record.bytes if error is None else None,
        bytes_added=record.bytes_added if error is None else None, error=error)))
    final = RunEvent(**{**event.__dict__, "event": outcome, "job": job, "set": set_name,
                        "finished": finished.isoformat(), "duration_seconds": record.duration,
                        "bytes": record.bytes if error is None else None,
                        "bytes_added": record.bytes_added if error is None else None,
                        "error": error, "log_tail": list(tail.lines)})
    failed: list[str] = []
    if dispatcher is None and session.profile.notify:
        from orchestrator.observe.notify import Dispatcher

        dispatcher = Dispatcher(list(session.profile.notify))
    if dispatcher is not None:
        dispatcher.send(final)
        failed = dispatcher.wait()
    _guarded(lambda: observed.count_notify_failures(failed))
    _guarded(lambda: _textfile(session))


def _textfile(session: Session) -> None:
    folder = session.profile.metrics.textfile_dir
    if folder is None:
        return
    from orchestrator.observe.metrics import write_textfile

    write_textfile(session, folder, probe=False)


def _verify(session: Session, request: BaseModel, watch: Watch) -> Iterator[Watch]:
    try:
        destination, _ = session.profile.repository(getattr(request, "destination", None))
    except StrongroomError:
        yield watch  # the tool itself reports the unknown repository
        return
    observed = ObserveState(session.state.root, session.profile.profile_name)
    error: str | None = None
    try:
        yield watch
    except BaseException as exc:
        error = exc.message if isinstance(exc, StrongroomError) else (
            "interrupted" if isinstance(exc, KeyboardInterrupt) else type(exc).__name__)
        raise
    finally:
        ok = error is None and bool(getattr(watch.result, "ok", False))
        record = VerifyRecord(repository=destination, time=watch.started.isoformat(),
                              set=getattr(watch.result, "set", None), ok=ok, error=error)
        _guarded(lambda: observed.save_verify(record))
        _guarded(lambda: append_history(observed, HistoryEntry(
            kind="verify", job=destination, started=record.time, ok=ok, set=record.set,
            error=error)))
        if not ok and session.profile.notify:
            _guarded(lambda: _verify_failed(session, record))
        _guarded(lambda: _textfile(session))


def _verify_failed(session: Session, record: VerifyRecord) -> None:
    receivers = [item for item in session.profile.notify if item.kind != "healthchecks"]
    if not receivers:
        return
    from orchestrator.observe.notify import Dispatcher

    dispatcher = Dispatcher(receivers)
    dispatcher.send(RunEvent(
        event="failure", profile=session.profile.profile_name, host=session.host,
        job=f"verify {record.repository}", schedule=None, tool=VERIFY_TOOL,
        started=record.time, set=record.set,
        error=record.error or "the verification found problems"))
    ObserveState(session.state.root, session.profile.profile_name).count_notify_failures(
        dispatcher.wait())

