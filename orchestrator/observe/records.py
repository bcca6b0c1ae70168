"""What observing runs leaves in the state directory, beside sets/state.py's run records:

    <state>/observe/<profile>/jobs/<job>.json      last run, success and failure of a job
    <state>/observe/<profile>/verify/<repo>.json   the last verify-backup of a repository
    <state>/observe/<profile>/notify.json          notifications that could not be sent
    <state>/observe/<profile>/history.jsonl        one line per run and verification

A job is a schedule's key for scheduled runs, else the base name of the set. Every
reader treats a missing or damaged file as "nothing known".
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator import models
from orchestrator.run.tempfiles import write_atomic
from orchestrator.sets.naming import split_set_name
from orchestrator.sets.state import StateDir

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class JobRecord:
    job: str
    schedule: str | None = None
    tool: str = ""
    last_run: str | None = None
    last_status: str | None = None  # complete / failed
    last_success: str | None = None  # when the last good run started (its data's time)
    last_failure: str | None = None
    last_error: str | None = None
    set: str | None = None
    duration: float | None = None
    bytes: int | None = None
    bytes_added: int | None = None


@dataclass
class VerifyRecord:
    repository: str
    time: str
    set: str | None
    ok: bool
    error: str | None = None


def moment(text: str | None) -> datetime | None:
    """An ISO time from a record, always timezone-aware (UTC when it says none)."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ObserveState:
    def __init__(self, state_root: Path, profile: str) -> None:
        self.root = state_root / "observe" / SAFE_NAME.sub("_", profile)

    def _read(self, path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        write_atomic(path, json.dumps(data, indent=2).encode())

    def job(self, job: str) -> JobRecord | None:
        data = self._read(self.root / "jobs" / f"{SAFE_NAME.sub('_', job)}.json")
        known = {item.name for item in fields(JobRecord)}
        if data is None or not isinstance(data.get("job"), str):
            return None
        try:
            return JobRecord(**{key: value for key, value in data.items() if key in known})
        except TypeError:
            return None

    def jobs(self) -> list[JobRecord]:
        folder = self.root / "jobs"
        names = sorted(path.stem for path in folder.glob("*.json")) if folder.is_dir() else []
        return [record for name in names if (record := self.job(name)) is not None]

    def save_job(self, record: JobRecord) -> None:
        self._write(self.root / "jobs" / f"{SAFE_NAME.sub('_', record.job)}.json",
                    asdict(record))

    def verify(self, repository: str) -> VerifyRecord | None:
        data = self._read(self.root / "verify" / f"{SAFE_NAME.sub('_', repository)}.json")
        try:
            return VerifyRecord(**data) if data is not None else None
        except TypeError:
            return None

    def save_verify(self, record: VerifyRecord) -> None:
        self._write(self.root / "verify" / f"{SAFE_NAME.sub('_', record.repository)}.json",
                    asdict(record))

    def notify_failures(self) -> dict[str, int]:
        data = self._read(self.root / "notify.json") or {}
        return {str(kind): int(count) for kind, count in data.items()
                if isinstance(count, int) and count >= 0}

    def count_notify_failures(self, kinds: list[str]) -> None:
        if not kinds:
            return
        counts = self.notify_failures()
        for kind in kinds:
            counts[kind] = counts.get(kind, 0) + 1
        self._write(self.root / "notify.json", dict(counts))


@dataclass
class HistoryEntry:
    """One finished run or verification, as `report` reads it."""

    kind: str  # run / verify
    job: str
    started: str
    ok: bool
    duration: float | None = None
    set: str | None = None
    bytes: int | None = None
    bytes_added: int | None = None
    error: str | None = None


def append_history(observed: ObserveState, entry: HistoryEntry) -> None:
    """One JSON line, appended with O_APPEND: a line is never interleaved with another."""
    import os

    observed.root.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = (json.dumps(asdict(entry)) + "\n").encode()
    fd = os.open(observed.root / "history.jsonl",
                 os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def read_history(observed: ObserveState) -> list[HistoryEntry]:
    """Every readable line; damaged ones are skipped."""
    known = {item.name for item in fields(HistoryEntry)}
    entries: list[HistoryEntry] = []
    try:
        text = (observed.root / "history.jsonl").read_text(errors="replace")
    except OSError:
        return entries
    for line in text.splitlines():
        try:
            data = json.loads(line)
            entry = HistoryEntry(**{key: value for key, value in data.items() if key in known})
        except (ValueError, TypeError, AttributeError):
            continue
        if moment(entry.started) is not None:
            entries.append(entry)
    return entries


@dataclass(frozen=True)
class DrillRecord:
    time: datetime
    ok: bool


def last_drill(state_root: Path, set_base: str) -> DrillRecord | None:
    """The newest restore drill of the sets named `set_base`, from the copies drills keep
    in the state directory (records that do not parse are left out)."""
    newest: DrillRecord | None = None
    for data in StateDir(state_root).drills():
        try:
            record = models.DrillRecord.model_validate(data)
        except ValueError:
            continue
        split = split_set_name(record.set)
        started = record.started if record.started.tzinfo else record.started.replace(
            tzinfo=UTC)
        if split is not None and split[0] == set_base and (
                newest is None or started > newest.time):
            newest = DrillRecord(time=started, ok=record.ok)
    return newest
