"""recover: rebuild a host from a disaster-recovery set, and the recovery report."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from orchestrator.models.base import Model

# What --only and --skip name; the profile files are always restored first.
RecoverPart = Literal["files", "databases", "containers", "vms", "schedules"]
RECOVER_PARTS: tuple[RecoverPart, ...] = ("files", "databases", "containers", "vms",
                                          "schedules")
StepKind = Literal["profile", "config", "network", "service", "database", "containers", "vm",
                   "schedule"]
# in-place: the profile files were already there with the same bytes; nothing written.
StepResult = Literal["planned", "ok", "failed", "in-place"]


class RecoverRequest(Model):
    backup: str | None = Field(default=None, description="set name, base name, latest or id; "
                               "default: the latest complete disaster-recovery set")
    timestamp: str | None = Field(default=None, description="the latest disaster-recovery "
                                  "set at or before this time")
    target: str | None = Field(default=None, description="restore under this folder")
    destination: str | None = Field(default=None, description="the profile's repository")
    only: list[RecoverPart] = Field(default_factory=list)
    skip: list[RecoverPart] = Field(default_factory=list)
    dry_run: bool = Field(default=False, alias="dryRun")
    force: bool = False
    install: Literal["auto", "systemd", "cron", "none"] = Field(
        default="auto", description="how schedules are reinstalled")
    wait: float = Field(default=60.0, ge=0, le=3600, description="seconds to wait for each "
                        "database server to accept connections")


class RecoveryStep(Model):
    kind: StepKind
    part: RecoverPart | None  # None: the profile files, always restored first
    name: str
    targets: list[str] = Field(default_factory=list)
    files: int = 0
    bytes: int = 0
    result: StepResult = "planned"
    duration: float = 0.0
    error: str | None = None


class FollowUp(Model):
    kind: Literal["secret", "service", "schedule", "note"]
    text: str


class RecoveryResult(Model):
    set: str
    id: str
    time: datetime
    profile: str
    profile_file: str
    repository: str
    target: str
    dry_run: bool
    started: datetime
    steps: list[RecoveryStep]
    conflicts: list[str] = Field(default_factory=list)
    follow_up: list[FollowUp] = Field(default_factory=list)
    rto: float = Field(default=0.0, description="wall seconds of the whole recovery")
    rpo: float = Field(description="the set's age in seconds when the recovery started")
    bytes: int = 0
    ok: bool = True
    report: str | None = Field(default=None, description="where the report was stored")
