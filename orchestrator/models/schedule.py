"""schedule-backup and apply-retention: requests and results."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from orchestrator.models.base import Model
from orchestrator.profile.schema import NAME_PATTERN, ScheduleType


class ApplyRetentionRequest(Model):
    schedule: str | None = None
    dry_run: bool = Field(default=False, alias="dryRun")


class RetentionDecision(Model):
    set: str
    schedule: str
    destination: str
    time: datetime
    status: Literal["complete", "incomplete"]
    keep: bool
    reasons: list[str]


class ApplyRetentionResult(Model):
    dry_run: bool
    sets: list[RetentionDecision]
    removed: int
    forgotten_snapshots: int
    pruned: list[str]


InstallMethod = Literal["auto", "systemd", "cron", "none"]


class ScheduleBackupRequest(Model):
    """add: write [schedules.NAME] into the profile and install it (with only a name: install
    the profile's schedule as it is); list: every schedule; remove: uninstall and delete."""

    action: Literal["add", "list", "remove"] = "add"
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    schedule: str | None = Field(default=None, description="cron expression or @daily, …")
    backup_type: ScheduleType = Field(default="config", alias="backupType")
    services: list[str] = Field(default_factory=list)
    include_data: bool = Field(default=False, alias="includeData")
    destination: str | None = None
    retention: str | None = None
    keep_last: int | None = Field(default=None, alias="keepLast")
    keep_hourly: int | None = Field(default=None, alias="keepHourly")
    keep_daily: int | None = Field(default=None, alias="keepDaily")
    keep_weekly: int | None = Field(default=None, alias="keepWeekly")
    keep_monthly: int | None = Field(default=None, alias="keepMonthly")
    keep_yearly: int | None = Field(default=None, alias="keepYearly")
    encrypt: bool = True
    randomized_delay: str | None = Field(default=None, alias="randomizedDelay")
    sync_to: list[str] = Field(default_factory=list, alias="syncTo")
    install: InstallMethod = "auto"
    dry_run: bool = Field(default=False, alias="dryRun")
    replace: bool = Field(default=False, description="replace a schedule of that name")


class InstalledFile(Model):
    path: str
    content: str


class ScheduleInfo(Model):
    name: str
    schedule: str
    type: str
    destination: str
    retention: str
    installed: list[str]
    next_runs: list[datetime]
    last_run: datetime | None = None
    last_status: str | None = None
    last_success: datetime | None = None


class ScheduleBackupResult(Model):
    action: str
    profile: str
    profile_file: str
    change: Literal["added", "updated", "unchanged", "removed", "none"] = "none"
    install: Literal["systemd", "cron", "none"] = "none"
    dry_run: bool = False
    files: list[InstalledFile] = Field(default_factory=list)
    commands: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    schedules: list[ScheduleInfo] = Field(default_factory=list)
