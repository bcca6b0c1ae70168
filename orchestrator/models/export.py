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
    """Convert a set to an archive (to_format), copy it into another repository of any
    engine (to), or import an archive into one (from_archive with to)."""

    backup: str = "latest"
    to_format: ExportFormat | None = Field(default=None, alias="toFormat",
                                           description="zip when neither this nor to is given")
    output: str | None = None
    destination: str | None = None
    force: bool = False
    to: str | None = Field(default=None, description="a repository of the profile")
    from_archive: str | None = Field(default=None, alias="fromArchive")
    name: str | None = Field(default=None, description="the imported set's base name")
    archive_password: SecretStr | None = Field(default=None, alias="archivePassword")


class MigratedPart(Model):
    part: str
    snapshot_id: str
    bytes: int | None = None
    digest: str | None = Field(default=None, description="checked against the manifest")


class BackupMigrateResult(Model):
    set: str
    source: str = Field(description="a repository, or the imported archive")
    target: str
    created: bool = Field(description="the target repository was created by this run")
    parts: list[MigratedPart]
    staged: bool = Field(description="the files part passed through a staging folder")
    duration: float
