"""What every data-source hook provides, and the small types hooks and the service share.

A hook turns its config into dump commands whose stdout streams into the engine,
and into restore commands that read the stream back on stdin. Hooks build argv;
orchestrator.run starts the processes.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from orchestrator import run
from orchestrator.errors import StrongroomError
from orchestrator.run import SECRET_FD, Command

__all__ = ["SECRET_FD", "Command"]

class HookError(StrongroomError):
    """A hook cannot do its work: unreachable server, bad credentials, refused restore."""


class HookModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def config_files(self) -> list[Path]:
        """Files the hook's source is defined by (compose files): backed up as the
        service's configuration."""
        return []


Details = dict[str, str | int]


@dataclass(frozen=True)
class PreparedDump:
    """The command that reads a consistent source, and what the manifest should record."""

    command: Command
    details: Details = field(default_factory=dict)


# Given the set's name, makes the source consistent (stops containers, takes a disk
# snapshot), yields what reads it, and undoes the preparation on exit, failure included.
Prepare = Callable[[str], AbstractContextManager[PreparedDump]]


@dataclass(frozen=True)
class DumpPlan:
    """One stream part of a set: which hook dumps which source to which logical path.
    `database` names the source: a database, a file, an image, a volume or a disk."""

    hook: str
    service: str
    index: int
    database: str
    logical: str
    format: str
    command: Command
    details: Details = field(default_factory=dict)
    prepare: Prepare | None = None


@dataclass(frozen=True)
class RestoreTarget:
    """Where a stream goes back: the database (or file) name and what is there now."""

    database: str
    exists: bool
    empty: bool
    conflict: str | None = None  # what a refusal says; default: "<hook> database X is not empty"


@dataclass(frozen=True)
class HookContext:
    """What a hook may need beyond its own config."""

    base_dir: Path

    def path(self, value: Path) -> Path:
        """A config path; relative ones are relative to the profile's folder."""
        return Path(os.path.normpath(value if value.is_absolute() else self.base_dir / value))


class Hook(Protocol):
    """A kind of data source. Implementations are registered in hooks.HOOKS."""

    @property
    def config_model(self) -> type[HookModel]: ...

    def describe(self, config: HookModel) -> str: ...

    def check(self, config: HookModel, ctx: HookContext) -> None:
        """Connect once before dumping; raise HookError with a plain message."""
        ...

    def plan_dumps(
        self, config: HookModel, ctx: HookContext, service: str, index: int, schema_only: bool
    ) -> list[DumpPlan]: ...

    def inspect_target(
        self, config: HookModel, ctx: HookContext, plan: RestorePlanInput
    ) -> RestoreTarget: ...

    def restore(self, config: HookModel, ctx: HookContext, plan: RestorePlanInput) -> Command:
        """Create what is missing and return the command that reads the dump on stdin."""
        ...

    def finish_restore(self, plan: RestorePlanInput, succeeded: bool) -> None:
        """Put the restored result in place, or clean up after a failure."""
        ...

    def untrusted_risk(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> str | None:
        """Why replaying this stream from an unauthenticated archive could run commands on
        this host (its client obeys commands found in the stream), or None when it cannot."""
        ...


@dataclass(frozen=True)
class RestorePlanInput:
    """A stored stream to restore, as the manifest describes it, and where to."""

    database: str
    target: str
    format: str
    logical: str
    force: bool = False
    details: Details = field(default_factory=dict)


@dataclass(frozen=True)
class TableStats:
    """One table of a restored database: its rows, and a digest of their contents that
    does not depend on row order (the server computes it)."""

    table: str
    rows: int
    checksum: str


@runtime_checkable
class SandboxedDatabase(Protocol):
    """A database hook a drill can restore under a temporary name, examine and drop."""

    def table_stats(self, config: HookModel, ctx: HookContext,
                    database: str) -> list[TableStats]: ...

    def drop_database(self, config: HookModel, ctx: HookContext, database: str) -> None: ...


STAGING_SUFFIX = ".strongroom-restore"


def logical_component(value: str) -> str:
    """A name from outside (a database found on the server) as one component of a logical
    path: `/`, `\\`, `%` and control characters percent-encoded, and never `.` or `..`.
    Ordinary names are unchanged; the manifest keeps the name itself."""
    escaped = "".join(f"%{ord(c):02X}" if c in "/\\%" or ord(c) < 0x20 or ord(c) == 0x7F
                      else c for c in value)
    if escaped.strip(".") == "":
        escaped = escaped.replace(".", "%2E") or "%00"
    return escaped


def file_name(value: str, fallback: str) -> str:
    """An image reference, volume or disk name as one safe file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("._") or fallback


_STAGED: dict[Path, Path] = {}


def staging_path(target: Path) -> Path:
    """Where a file restore is written before it replaces its target whole: inside a fresh
    private folder beside the target (0700, from mkdtemp), so no planted symlink can
    redirect the write. Call once per restore; finish_staged removes the folder."""
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name[:100]}.", suffix=STAGING_SUFFIX,
                                   dir=target.parent))
    _STAGED[target] = folder / target.name
    return _STAGED[target]


def finish_staged(target: Path, succeeded: bool) -> None:
    """Put a staged restore in place, or drop it after a failure."""
    staged = _STAGED.pop(target, None)
    if staged is None:
        return
    try:
        if succeeded:
            staged.replace(target)
    finally:
        shutil.rmtree(staged.parent, ignore_errors=True)


def output_of(argv: list[str], what: str, timeout: float = 600) -> str:
    """A command's stdout; its failure becomes a HookError saying `what` went wrong."""
    try:
        return run.run(argv, timeout=timeout).stdout
    except run.CommandError as exc:
        raise HookError(f"{what}: {exc.stderr_tail.strip() or exc.message}") from None


def read_secret(path: Path | None, what: str) -> str | None:
    """A password file's first line, or None; a clear error when it cannot be read."""
    if path is None:
        return None
    try:
        return path.read_text().splitlines()[0] if path.stat().st_size else ""
    except OSError as exc:
        raise HookError(f"{what}: cannot read password_file {path}: {exc.strerror}") from None
    except IndexError:
        return ""
