"""download-backup, backup-migrate, backup-encrypt: requests and results."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from orchestrator.models.base import Model

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


class BackupEncryptRequest(Model):
    backup: str
    destination: str | None = None


class BackupMigrateRequest(Model):
    backup: str = "latest"
    to_format: ExportFormat = Field(default="zip", alias="toFormat")
    output: str | None = None
    destination: str | None = None
    force: bool = False
