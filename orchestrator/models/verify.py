"""verify-backup and backup-compare: requests and results."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from orchestrator.models.base import Model


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


class VerifyCheck(Model):
    check: str
    ok: bool
    detail: str


class VerifyResult(Model):
    set: str
    ok: bool
    checks: list[VerifyCheck]
    log_part: str | None = None


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
