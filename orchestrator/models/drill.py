"""drill: a restore rehearsal of a set into a sandbox, and its result."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from orchestrator.models.base import Model

DrillKind = Literal["files", "database", "sqlite", "volume", "image", "disk", "stream"]
DrillOutcome = Literal["ok", "failed", "never"]


class DrillRequest(Model):
    backup: str | None = Field(default=None, description="set name, a name (its latest set), "
                               "latest or a set id; default: the latest complete set")
    services: list[str] = Field(default_factory=list)
    workdir: str | None = Field(default=None, description="the sandbox folder is made inside "
                                "it (default: the system's temporary folder)")
    keep: bool = Field(default=False, description="leave the sandbox (folder, temporary "
                       "databases and volumes) in place to inspect it")
    destination: str | None = None
    schedule: str | None = Field(default=None, description="a schedule of type drill: its "
                                 "name, services and destination")


class DrillTable(Model):
    table: str
    rows: int
    checksum: str


class DrillCheck(Model):
    """One part of the set restored into the sandbox and checked."""

    part: str
    kind: DrillKind
    ok: bool
    detail: str
    sandbox: str | None = None  # the temporary folder, database, file or volume
    bytes: int = 0
    duration: float = 0.0
    tables: list[DrillTable] = Field(default_factory=list)


class DrillResult(Model):
    set: str
    id: str
    type: str
    time: datetime
    started: datetime
    ok: bool
    rto: float = Field(description="seconds from the start of the restore to the last check")
    rpo: float = Field(description="the set's age in seconds when the drill started")
    checks: list[DrillCheck]
    workdir: str
    kept: bool
    left_behind: list[str] = Field(default_factory=list, description="what the clean-up "
                                   "could not remove")
    record_part: str | None = None  # the part of the set the result is stored in


class DrillRecord(Model):
    """What the repository and the state directory keep of a drill."""

    set: str
    ok: bool
    started: datetime
    rto: float
    failed: list[str] = Field(default_factory=list)
