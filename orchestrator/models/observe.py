"""status: the health of a profile's schedules and repositories at a glance."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from orchestrator.models.base import Model

Health = Literal["OK", "WARN", "FAIL"]
EXIT_CODES: dict[Health, int] = {"OK": 0, "WARN": 1, "FAIL": 2}  # as Nagios/Icinga read them


class StatusRequest(Model):
    probe: bool = Field(default=True, description="open the repositories (false: only what "
                        "this host recorded)")


class ScheduleStatus(Model):
    name: str
    schedule: str
    destination: str
    health: Health
    reasons: list[str] = Field(default_factory=list)
    last_run: datetime | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None
    age_seconds: float | None = Field(default=None, description="age of the last good set")
    rpo_seconds: float
    rpo_from_profile: bool
    next_run: datetime
    duration: float | None = None
    bytes: int | None = None
    bytes_added: int | None = None
    last_verify: datetime | None = None
    verify_ok: bool | None = None
    last_drill: datetime | None = None
    drill_ok: bool | None = None


class RepositoryStatus(Model):
    name: str
    url: str
    engine: str
    health: Health
    reasons: list[str] = Field(default_factory=list)
    probed: bool
    reachable: bool | None = None
    sets: int | None = None
    complete_sets: int | None = None
    snapshots: int | None = None
    newest_set: datetime | None = None
    stored_bytes: int | None = Field(default=None, description="local repositories only")
    source_bytes: int | None = Field(default=None, description="the newest set of each name")
    locks: int | None = Field(default=None, description="local repositories only")
    last_verify: datetime | None = None
    verify_ok: bool | None = None


class StatusResult(Model):
    profile: str
    host: str
    checked: datetime
    health: Health
    exit_code: int
    reasons: list[str]
    schedules: list[ScheduleStatus]
    repositories: list[RepositoryStatus]
    notify_failures: dict[str, int] = Field(default_factory=dict)
