"""restore-backup: request, plan and result."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, SecretStr

from orchestrator.models.backup import SetType
from orchestrator.models.base import Model
from orchestrator.models.spilled import Paths

RestoreMode = Literal["full-rebuild", "config-only", "selective"]


class RestoreBackupRequest(Model):
    backup: str | None = None
    timestamp: str | None = None
    name: str | None = Field(default=None, description="only sets of this name (with "
                             "timestamp: instead of the widest type)")
    type: SetType | None = Field(default=None, description="only sets of this type")
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
    vault_password_files: dict[str, str] = Field(
        default_factory=dict, alias="vaultPasswordFiles",
        description="a service's own repository (vault) -> a file holding its password, "
        "for this restore instead of the profile's password source for it")
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
    # Every existing path the restore replaces (or would): may run to millions, so it is
    # held on disk past the first few; it reads and dumps as a list.
    conflicts: Paths
    files: int
    bytes: int
    restored: bool
    verified: bool
    duration: float
    reason: str = ""  # why this set: named, the latest, the widest type at a time
    # Parts in a service's own repository (vault) that could not be read: "vault: part (why)"
    unreadable: list[str] = []
