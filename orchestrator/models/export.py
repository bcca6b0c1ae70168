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
    """Encrypt a plain export (archive), or move sets under another repository's master
    key (backup / all / since, to)."""

    archive: str | None = None
    output: str | None = None
    in_place: bool = Field(default=False, alias="inPlace")
    force: bool = False
    password: SecretStr | None = None
    backup: str | None = Field(default=None, alias="backupName")
    all: bool = False
    since: str | None = None
    destination: str | None = None
    to: str | None = None
    forget_source: bool = Field(default=False, alias="forgetSource")


class BackupEncryptResult(Model):
    archive: str | None = None
    output: str | None = None
    encryption: str | None = Field(default=None, description="aes-zip or envelope")
    entries: int | None = None
    bytes: int = 0
    source: str | None = None
    target: str | None = None
    copied: list[str] = Field(default_factory=list)
    verified: list[str] = Field(default_factory=list)
    forgotten: list[str] = Field(default_factory=list)
    duration: float = 0.0


class BackupMigrateRequest(Model):
    backup: str = "latest"
    to_format: ExportFormat = Field(default="zip", alias="toFormat")
    output: str | None = None
    destination: str | None = None
    force: bool = False
