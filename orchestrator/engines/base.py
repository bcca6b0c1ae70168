"""The Engine protocol and the typed results every engine returns."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

from orchestrator.errors import StrongroomError
from orchestrator.run import Command, CommandError, Tap


class EngineError(StrongroomError):
    """The engine failed for a reason strongroom cannot name more precisely."""


class ProducerFailed(CommandError):
    """A stream part's producer failed. The engine may have saved the partial stream as a
    snapshot; the caller forgets it once nothing else holds the repository's lock."""

    def __init__(self, error: CommandError, partial_snapshot: str | None) -> None:
        super().__init__(error.argv, error.returncode, error.stderr_tail)
        self.partial_snapshot = partial_snapshot


class RepositoryMissing(EngineError):
    pass


class WrongPassword(EngineError):
    pass


class Unreachable(EngineError):
    """The repository's host cannot be reached: refused, unknown name, timed out."""


class AuthenticationDenied(EngineError):
    """The storage refused the credentials (S3 keys, ssh key, Azure key)."""


class BucketMissing(RepositoryMissing):
    """The bucket or container the repository lives in does not exist."""


class RepositoryLocked(EngineError):
    pass


class RepositoryReadOnly(EngineError):
    """restic cannot create a lock: a read-only mount, an immutable folder, a WORM bucket."""


@dataclass(frozen=True)
class Snapshot:
    id: str
    short_id: str
    time: datetime
    hostname: str
    paths: tuple[str, ...]
    tags: tuple[str, ...]
    total_bytes: int | None = None

    def tag(self, key: str) -> str | None:
        """The value of a `key=value` tag, or None."""
        prefix = key + "="
        for tag in self.tags:
            if tag.startswith(prefix):
                return tag[len(prefix):]
        return None

    def tag_values(self, key: str) -> list[str]:
        prefix = key + "="
        return [tag[len(prefix):] for tag in self.tags if tag.startswith(prefix)]


@dataclass(frozen=True)
class Progress:
    """One progress event of a part. A total of 0 is unknown (a stream's size is known
    only at its end); `phase` is started, running or finished; `kind` is files, stream,
    export or restore (an export counts archive entries in files_done)."""

    fraction: float
    files_done: int
    total_files: int
    bytes_done: int
    total_bytes: int
    part: str = ""
    kind: str = "files"
    phase: str = "running"
    seconds_remaining: float | None = None


ProgressCallback = Callable[[Progress], None]


@dataclass
class BackupSummary:
    snapshot_id: str
    files_new: int = 0
    files_changed: int = 0
    files_unmodified: int = 0
    data_added: int = 0
    total_files: int = 0
    total_bytes: int = 0
    duration: float = 0.0
    unreadable: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Node:
    path: str
    type: str
    size: int
    mode: int
    mtime: str
    link_target: str | None = None


@dataclass(frozen=True)
class Change:
    """One difference between two snapshots: `+` added, `-` removed, `M` content changed,
    `T` type changed. Directories end with a slash."""

    path: str
    modifier: str


@dataclass(frozen=True)
class CheckReport:
    ok: bool
    output: str  # the engine's own words, naming what is damaged


@dataclass(frozen=True)
class KeyInfo:
    """One key (password) of a repository; `current` is the one this engine opened it with."""

    id: str
    user: str
    host: str
    created: str
    current: bool


@dataclass(frozen=True)
class EngineVersion:
    name: str
    version: tuple[int, int, int]

    def __str__(self) -> str:
        return f"{self.name} {'.'.join(map(str, self.version))}"


class PendingBackup(Protocol):
    """A stream backup whose engine process already runs; finish() hands over the data."""

    def finish(self, data: bytes) -> BackupSummary: ...

    def cancel(self) -> None: ...


class Engine(Protocol):
    """What strongroom needs of a deduplicating, encrypting backup engine."""

    repository_name: str

    def version(self) -> EngineVersion: ...

    def init(self) -> bool:
        """Create the repository; False when it already existed (and opens)."""
        ...

    def init_like(self, source: Any) -> bool:
        """Create the repository with the chunker parameters of `source` (an engine of the
        same kind); False when it already existed."""
        ...

    def copy_from(self, source: Any, snapshot_ids: Sequence[str]) -> None:
        """Copy these snapshots of `source` (an engine of the same kind) into this one."""
        ...

    def backup_paths(
        self,
        paths: Sequence[str],
        *,
        tags: Sequence[str],
        time: datetime,
        host: str,
        excludes: Sequence[str] = (),
        compression: str = "auto",
        on_progress: ProgressCallback | None = None,
    ) -> BackupSummary: ...

    def backup_stream(
        self,
        producer: Command,
        filename: str,
        *,
        tags: Sequence[str],
        time: datetime,
        host: str,
        compression: str = "auto",
        tap: Tap | None = None,
    ) -> BackupSummary: ...

    def start_stream_backup(
        self,
        filename: str,
        *,
        tags: Sequence[str],
        time: datetime,
        host: str,
        compression: str = "auto",
    ) -> PendingBackup: ...

    def restore_stream(
        self, snapshot_id: str, path: str, consumer: Command, tap: Tap | None = None
    ) -> None: ...

    def snapshots(self, tags: Sequence[str] = ()) -> list[Snapshot]: ...

    def ls(self, snapshot_id: str, paths: Sequence[str] = ()) -> list[Node]: ...

    def walk(self, snapshot_id: str, paths: Sequence[str] = ()) -> Iterator[Node]:
        """ls as a stream: each node as the engine lists it, none held."""
        ...

    def diff(self, snapshot_a: str, snapshot_b: str) -> list[Change]: ...

    def restore(
        self,
        snapshot_id: str,
        target: Path,
        *,
        includes: Sequence[str] = (),
        excludes: Sequence[str] = (),
        verify: bool = False,
    ) -> None: ...

    def dump(self, snapshot_id: str, path: str) -> bytes: ...

    def open_dump(
        self, snapshot_id: str, path: str, archive: bool = False
    ) -> AbstractContextManager[IO[bytes]]: ...

    def forget(self, snapshot_ids: Sequence[str]) -> None: ...

    def prune(self) -> None: ...

    def check(self, read_data_subset: str | None = None) -> CheckReport: ...

    def add_tags(self, snapshot_ids: Sequence[str], tags: Sequence[str]) -> None: ...

    def key_list(self) -> list[KeyInfo]:
        """The repository's keys; the one its configured password opens is `current`."""
        ...

    def key_add(self, new_password_file: Path, *, host: str | None = None,
                user: str | None = None) -> None:
        """Add a key for the password in this file (the master key stays the same)."""
        ...

    def key_remove(self, key_id: str) -> None:
        """Remove a key other than the one in use."""
        ...

    # Copies between repositories of any engine: the source's dump runs as a process of
    # its own, piped into the target's backup, each with its own repository's environment.

    imports_tar: bool
    """Whether backup_tar takes a tar stream (borg); otherwise the tree is staged on disk
    and stored with backup_tree (restic 0.14 cannot import a tar)."""

    def copy_clash(self, source: Any) -> list[str]:
        """Why copy_from cannot copy from `source`: "another engine", or the environment
        variables both repositories need with different values, which one copy_from run
        cannot hold; empty when it can. Otherwise copy through dump_command."""
        ...

    def dump_command(self, snapshot_id: str, path: str, archive: bool = False) -> Command:
        """A stored file (with archive: a tar of a folder) written to stdout by a process
        with this repository's own environment; its password reaches it through a pipe."""
        ...

    def backup_tar(self, producer: Command, paths: Sequence[str], *, tags: Sequence[str],
                   time: datetime, host: str, compression: str = "auto") -> BackupSummary:
        """The tar stream producer writes, stored as one snapshot listing `paths`."""
        ...

    def backup_tree(self, root: Path, paths: Sequence[str], *, tags: Sequence[str],
                    time: datetime, host: str, compression: str = "auto") -> BackupSummary:
        """`paths` (absolute, as the snapshot is to list them) stored from below `root`:
        root/srv/data is stored as /srv/data."""
        ...
