"""Continuous backup of PostgreSQL: pitr setup, status and ship, wal-push, wal-fetch, base
backups and point-in-time restores."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from orchestrator.models.base import Model
from orchestrator.models.schedule import InstalledFile


class PitrSetupRequest(Model):
    service: str
    dry_run: bool = Field(default=False, alias="dryRun")
    install: Literal["auto", "systemd", "none"] = "auto"  # the shipper's service unit
    ship_every: float | None = Field(default=None, gt=0, le=3600)


class PitrSetupResult(Model):
    service: str
    archive_command: str
    spool: str
    statements: list[str]
    applied: bool
    restart_needed: bool
    wal_segment_size: int | None = None
    shipper_unit: str | None = None  # the unit's name, when one is (to be) installed
    files: list[InstalledFile] = Field(default_factory=list)
    commands: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class PitrStatusRequest(Model):
    service: str
    destination: str | None = None


class PitrStatusResult(Model):
    service: str
    archived_count: int | None = None
    last_archived_wal: str | None = None
    last_archived_time: datetime | None = None
    failed_count: int | None = None
    last_failed_wal: str | None = None
    last_failed_time: datetime | None = None
    spool_files: int
    spool_bytes: int
    oldest_spooled: datetime | None = None
    last_stored_wal: str | None = None
    last_stored_time: datetime | None = None
    base_backups: int
    rpo_seconds: float | None = None
    shipper_unit: str | None = None  # the unit file, when installed
    shipper: str = "not installed"  # or systemctl's is-active answer
    notes: list[str] = Field(default_factory=list)


class ShipRequest(Model):
    service: str
    destination: str | None = None
    batch_files: int = Field(default=64, ge=1, le=4096)
    batch_bytes: int = Field(default=1 << 30, ge=1)


class ShipResult(Model):
    service: str
    repository: str
    batches: int
    files: int
    note: str | None = None


class BaseBackupResult(Model):
    base: str
    repository: str
    snapshot_id: str
    timeline: int
    start_lsn: str
    stop_lsn: str
    start_wal: str
    stop_wal: str
    bytes: int


class PitrRestoreRequest(Model):
    service: str
    timestamp: str
    pgdata: str | None = None
    force: bool = False
    start: bool = False
    port: int | None = Field(default=None, ge=1, le=65535)
    destination: str | None = None
    confirm: bool = False


class PitrRestoreResult(Model):
    service: str
    base: str
    pgdata: str
    target_time: datetime
    recovery_target_time: datetime | None
    to_end: bool
    started: bool
    reached: str | None = None
    instructions: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class PitrVerifyRequest(Model):
    service: str
    destination: str | None = None


class BaseChain(Model):
    base: str
    timeline: int
    start_wal: str
    stop_wal: str
    chain_end: str | None
    gaps: list[str] = Field(default_factory=list)
    usable: bool


class PitrVerifyResult(Model):
    service: str
    ok: bool
    bases: list[BaseChain]
    notes: list[str] = Field(default_factory=list)


class PitrPruneRequest(Model):
    service: str
    keep_bases: int = Field(ge=1)
    destination: str | None = None
    dry_run: bool = Field(default=False, alias="dryRun")


class PitrPruneResult(Model):
    service: str
    kept_bases: list[str]
    forgotten_bases: list[str]
    forgotten_batches: int
    kept_batches: int
    dry_run: bool
