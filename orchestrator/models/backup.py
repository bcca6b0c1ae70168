"""create-backup, backup-files, backup-database, backup-containers, backup-vm-snapshot,
init, list-backups and backup-sync: requests and results."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from orchestrator.models.base import Model
from orchestrator.models.drill import DrillOutcome
from orchestrator.profile.schema import NAME_PATTERN, BackupType


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
    base: bool = Field(default=False, description="a continuous base backup (pg_basebackup) "
                       "of the service's PostgreSQL cluster instead of dumps")


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
    # unchecked: a service's own repository (vault) of the set could not be opened
    status: Literal["complete", "incomplete", "unchecked"]
    problem: str | None = None
    drill: DrillOutcome = "never"  # the set's last restore rehearsal
    # The repositories (keys) the set's parts need: the listed one, then its vaults.
    repositories: list[str] = []
    drilled: datetime | None = None


class ContinuousBaseInfo(Model):
    base: str
    time: datetime  # when it finished: recovery can reach any second from here on
    timeline: int
    start_wal: str
    stop_wal: str
    size: int | None


class ContinuousInfo(Model):
    """A service's continuous family (PostgreSQL base backups and archived WAL)."""

    profile: str
    service: str
    bases: list[ContinuousBaseInfo]
    wal_batches: int
    wal_segments: int
    first_wal: str | None
    last_wal: str | None
    first_archived: datetime | None  # archive time of the oldest batch's newest file
    last_archived: datetime | None  # and of the newest: recovery reaches up to here
    recoverable_from: datetime | None  # the oldest base backup's end


class ListBackupsResult(Model):
    destination: str
    backups: list[BackupSetInfo]
    continuous: list[ContinuousInfo] = Field(default_factory=list)
    all_profiles: bool = False  # read without a profile (--repo): every profile's sets
    note: str | None = None  # why the list is empty when other profiles have sets


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
    continuous_copied: int = 0  # snapshots of the continuous family (bases, WAL batches)
    continuous_present: int = 0
