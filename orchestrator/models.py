"""Request and result models: the schemas of the CLI commands and (later) the MCP tools.

Field aliases carry the names of the original request (includeData, backupName, …)
so that one model serves both faces.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from orchestrator.profile import NAME_PATTERN, BackupType


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class InitRequest(Model):
    destination: str | None = None


class InitResult(Model):
    destination: str
    url: str
    created: bool


class CreateBackupRequest(Model):
    type: BackupType = "config"
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    services: list[str] = Field(default_factory=list)
    include_data: bool = Field(default=False, alias="includeData")
    destination: str | None = None
    encrypt: bool = True
    compress: bool = True
    verify: bool = True
    schedule: str | None = None


class BackupFilesRequest(Model):
    paths: list[str] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list)
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    destination: str | None = None
    compress: bool = True
    verify: bool = True


class BackupDatabaseRequest(Model):
    service: str | None = None
    database: list[str] = Field(default_factory=list)
    type: Literal["postgresql", "mysql", "mariadb", "sqlite", "mongodb"] | None = None
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password_file: str | None = None
    path: str | None = None
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    destination: str | None = None
    verify: bool = True


class PartResult(Model):
    part: str
    snapshot_id: str
    files: int
    bytes: int
    bytes_added: int


class CreateBackupResult(Model):
    set: str
    id: str
    type: str
    profile: str
    destination: str
    time: datetime
    services: list[str]
    paths: int
    parts: list[PartResult]
    files: int
    bytes: int
    bytes_added: int
    duration: float
    encrypted: bool
    compressed: bool
    verified: bool
    removed_by_retention: list[str] = Field(default_factory=list)
    synced_to: list[str] = Field(default_factory=list)


SetType = Literal["config", "full", "service", "disaster-recovery", "files", "database",
                  "containers", "vm"]


class ListBackupsRequest(Model):
    destination: str | None = None
    name: str | None = None
    type: SetType | None = None
    service: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    all: bool = False


class BackupSetInfo(Model):
    set: str
    id: str
    name: str
    type: str
    profile: str
    host: str
    time: datetime
    services: list[str]
    parts: int
    size: int | None
    status: Literal["complete", "incomplete"]
    problem: str | None = None


class ListBackupsResult(Model):
    destination: str
    backups: list[BackupSetInfo]


RestoreMode = Literal["full-rebuild", "config-only", "selective"]


class RestoreBackupRequest(Model):
    backup: str | None = None
    timestamp: str | None = None
    mode: RestoreMode = "full-rebuild"
    services: list[str] = Field(default_factory=list)
    target: str | None = None
    destination: str | None = None
    dry_run: bool = Field(default=False, alias="dryRun")
    verify: bool = False
    force: bool = False
    databases: list[str] = Field(default_factory=list)
    as_database: list[str] = Field(default_factory=list, alias="asDatabase")
    with_globals: bool = Field(default=False, alias="withGlobals")
    confirm: bool = Field(default=False, description="required unless the role allows "
                          "unattended restores; the CLI confirms by being run")
    from_archive: str | None = Field(default=None, alias="fromArchive")
    archive_password: SecretStr | None = Field(default=None, alias="archivePassword")
    trust_archive: bool = Field(default=False, alias="trustArchive", description=(
        "with fromArchive: replay dumps whose client could run commands from the stream "
        "(psql plain SQL, command hooks) although the archive is not authenticated"))
    max_bytes: int | None = Field(default=None, alias="maxBytes", ge=0, description=(
        "with fromArchive: refuse archives whose files hold more; default: the free space "
        "of the target less 64 MiB"))


class RestorePlanEntry(Model):
    kind: Literal["files", "database"] = "files"
    part: str
    logical: str
    source: str
    target: str
    files: int
    bytes: int


class RestoreResult(Model):
    set: str
    id: str
    time: datetime
    mode: RestoreMode
    target: str
    dry_run: bool
    plan: list[RestorePlanEntry]
    conflicts: list[str]
    files: int
    bytes: int
    restored: bool
    verified: bool
    duration: float


ExportFormat = Literal["zip", "tar.gz", "tar.xz"]


class DownloadBackupRequest(Model):
    backup: str = Field(default="latest", alias="backupName")
    format: ExportFormat = "zip"
    encrypt: bool = False
    password: SecretStr | None = None
    output: str | None = Field(default=None, alias="downloadPath")
    services: list[str] = Field(default_factory=list)
    presign: int | None = Field(default=None, ge=1, le=7 * 24 * 3600)
    destination: str | None = None
    force: bool = False


class DownloadBackupResult(Model):
    set: str
    format: ExportFormat
    output: str
    entries: int
    bytes: int
    encrypted: bool
    url: str | None = None
    duration: float


# Tools whose capability comes with later work: their schemas are listed now, and a call
# is answered with a tool error that says the capability is not available yet.


class VerifyBackupRequest(Model):
    backup: str = "latest"
    deep_check: bool = Field(default=False, alias="deepCheck")
    read_data_subset: str | None = Field(default=None, alias="readDataSubset")
    destination: str | None = None

    @field_validator("read_data_subset")
    @classmethod
    def subset_form(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d+(\.\d+)?%|\d+/\d+|\d+[kKmMgGtT]?",
                                                  value):
            raise ValueError(f"{value!r} is not a subset restic reads: give a percentage "
                             "(5%), a part (1/10) or a size (500M)")
        return value


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


class VerifyCheck(Model):
    check: str
    ok: bool
    detail: str


class VerifyResult(Model):
    set: str
    ok: bool
    checks: list[VerifyCheck]
    log_part: str | None = None


InstallMethod = Literal["auto", "systemd", "cron", "none"]


class ScheduleBackupRequest(Model):
    """add: write [schedules.NAME] into the profile and install it (with only a name: install
    the profile's schedule as it is); list: every schedule; remove: uninstall and delete."""

    action: Literal["add", "list", "remove"] = "add"
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    schedule: str | None = Field(default=None, description="cron expression or @daily, …")
    backup_type: BackupType = Field(default="config", alias="backupType")
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


class BackupContainersRequest(Model):
    service: str | None = None
    image: list[str] = Field(default_factory=list)
    volume: list[str] = Field(default_factory=list)
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    destination: str | None = None
    verify: bool = True


class BackupVmSnapshotRequest(Model):
    disk: str | None = None
    vm: str | None = None
    name: str | None = Field(default=None, pattern=NAME_PATTERN)
    destination: str | None = None
    verify: bool = True


class BackupCompareRequest(Model):
    a: str
    b: str
    destination: str | None = None


ChangeKind = Literal["added", "removed", "modified"]
PartStatus = Literal["only-in-a", "only-in-b", "changed", "same"]


class FileChange(Model):
    path: str
    change: ChangeKind
    bytes: int


class PartComparison(Model):
    """One logical part of two sets: file counts and bytes for files, size and digest
    for a stream."""

    part: str
    kind: Literal["files", "stream"]
    status: PartStatus
    added: int = 0
    removed: int = 0
    modified: int = 0
    bytes_added: int = 0
    bytes_removed: int = 0
    bytes_modified: int = 0
    size_a: int | None = None
    size_b: int | None = None
    digest_a: str | None = None
    digest_b: str | None = None
    changes: list[FileChange] = Field(default_factory=list)


class CompareResult(Model):
    a: str
    b: str
    parts: list[PartComparison]
    summary: str


class BackupEncryptRequest(Model):
    backup: str
    destination: str | None = None


class BackupSyncRequest(Model):
    """Copy sets between repositories: one set, those since a time, or (the default)
    every complete set of the profile."""

    from_: str = Field(alias="from")
    to: str
    backup: str | None = None
    all: bool = False
    since: str | None = None


class BackupSyncResult(Model):
    source: str
    target: str
    created: bool
    copied: list[str]
    skipped: list[str]
    snapshots: int


class BackupMigrateRequest(Model):
    backup: str = "latest"
    to_format: ExportFormat = Field(default="zip", alias="toFormat")
    output: str | None = None
    destination: str | None = None
    force: bool = False
