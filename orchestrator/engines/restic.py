"""The restic engine: runs the builders of `restic_args` through `run`, one process each."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from orchestrator import run
from orchestrator.engines import restic_args as args
from orchestrator.engines import restic_transfer as transfer
from orchestrator.engines.base import (
    AuthenticationDenied,
    BackupSummary,
    Change,
    CheckReport,
    EngineError,
    EngineVersion,
    KeyInfo,
    Node,
    ProducerFailed,
    ProgressCallback,
    RepositoryLocked,
    RepositoryMissing,
    RepositoryReadOnly,
    Snapshot,
    Unreachable,
    WrongPassword,
)
from orchestrator.engines.destinations import (
    Destination,
    behind_proxy,
    probe,
    resolve,
    secret_values,
)
from orchestrator.engines.passwords import PasswordSource
from orchestrator.engines.restic_listing import RepositoryListing, made_item
from orchestrator.engines.restic_output import BackupOutput, live_restic_on, read_only_folder
from orchestrator.engines.versions import restic_version
from orchestrator.profile.schema import Repository
from orchestrator.profile.urls import shown_url

log = logging.getLogger("strongroom.restic")
# Failures that say nothing about the command itself: never an "ok" exit code.
REPOSITORY_ERRORS = (RepositoryLocked, RepositoryMissing, WrongPassword, Unreachable,
                     AuthenticationDenied)
T = TypeVar("T")
_said_read_only: set[str] = set()


class ResticEngine:
    """One restic repository of a profile."""

    def __init__(self, repository_name: str, repository: Repository, state_dir: Path) -> None:
        self.repository_name = repository_name
        self.repository = repository
        self.url = shown_url(repository.url)  # for messages: no password of a rest: URL
        self.state_dir = state_dir
        self.cache_dir = state_dir / "cache" / "restic"
        self.password = PasswordSource(repository_name, repository)
        self._destination: Destination | None = None
        self._secrets: dict[str, str] | None = None
        self.read_only: bool | None = None  # None: not known yet
        # This run's snapshot listings by their tag filter; any write forgets them.
        self._listings: dict[tuple[str, ...], list[Snapshot]] = {}

    @property
    def destination(self) -> Destination:
        """Where the repository is: resolved once, with the notes (such as an option this
        restic lacks) logged once."""
        if self._destination is None:
            destination = resolve(self.repository_name, self.repository,
                                  self.version().version)
            for note in destination.notes:
                log.warning("%s", note)
            if destination.address is not None and not behind_proxy():
                problem = probe(destination.address)
                if problem is not None:
                    host, port = destination.address
                    raise Unreachable(f"cannot reach repository {self.repository_name!r} "
                                      f"({self.url}) at {host}:{port}: {problem}")
            self._destination = destination
        return self._destination

    @property
    def repo_string(self) -> str:
        return self.destination.repository

    def backend_env(self, password_file: str) -> dict[str, str | None]:
        """restic's environment: the password file, the backend's settings and secrets."""
        env = args.base_env(self.repo_string, self.cache_dir, password_file)
        env.update(self.destination.env)
        env.update(self.secrets())
        return env

    def secrets(self) -> dict[str, str]:
        """The backend's secrets, read once per run."""
        if self._secrets is None:
            self._secrets = secret_values(self.repository_name, self.destination.secrets)
        return self._secrets

    def with_options(self, argv: list[str]) -> list[str]:
        """argv with the backend's -o options after the subcommand."""
        return [*argv[:2], *self.destination.option_args(), *argv[2:]]

    # ---- plumbing

    def _run(
        self,
        argv: list[str],
        *,
        ok_codes: Sequence[int] = (0,),
        on_line: Callable[[str], None] | None = None,
        retry_stale_lock: bool = True,
        extra_env: Mapping[str, str] | None = None,
        extra_fds: tuple[int, ...] = (),
    ) -> run.Completed:
        """Run restic; an exit code in `ok_codes` is the caller's to read, except that a
        lock, a wrong password or a missing repository is always an error (a stale lock
        of a dead restic is removed and the command run once more). On a read-only
        repository a read runs again without a lock."""
        argv = self._locking(argv)
        if not args.reads_only(argv):
            self.forget_listings()
        try:
            with self.password.as_file() as (password_file, fds):
                env = {**self.backend_env(password_file), **(extra_env or {})}
                completed = run.run(self.with_options(argv), env=env, pass_fds=fds + extra_fds,
                                    ok_codes=ok_codes, on_line=on_line)
            if completed.returncode != 0 and isinstance(args.classify_failure(
                    self.repository_name, self.url, completed.returncode, completed.stderr),
                    REPOSITORY_ERRORS):
                raise run.CommandError(argv, completed.returncode, completed.stderr)
            return completed
        except run.CommandError as exc:
            error = args.classify_failure(
                self.repository_name, self.url, exc.returncode, exc.stderr_tail
            )
            if isinstance(error, RepositoryReadOnly) and args.reads_only(argv) \
                    and args.NO_LOCK not in argv:
                self._learn_read_only()
                return self._run(argv, ok_codes=ok_codes, on_line=on_line,
                                 retry_stale_lock=retry_stale_lock, extra_env=extra_env,
                                 extra_fds=extra_fds)
            if isinstance(error, RepositoryLocked) and retry_stale_lock:
                self._unlock_if_stale(error)
                return self._run(argv, ok_codes=ok_codes, on_line=on_line, retry_stale_lock=False,
                                 extra_env=extra_env, extra_fds=extra_fds)
            raise error from None

    def _locking(self, argv: list[str]) -> list[str]:
        """argv as it must run on this repository: a read without a lock when it is
        read-only; a write to it refused at once (restic would retry its lock ~45 s)."""
        if self.read_only is None and argv[1:2] not in (["init"], ["version"]):
            self.read_only = False
            if self.destination.kind == "local" and read_only_folder(Path(self.repo_string)):
                self._learn_read_only()
        if not self.read_only or argv[1:2] == ["init"]:
            return argv
        if args.reads_only(argv):
            return args.without_lock(argv)
        raise args.read_only_error(self.repository_name, self.url)

    def _learn_read_only(self) -> None:
        self.read_only = True
        if self.url not in _said_read_only:
            _said_read_only.add(self.url)
            log.warning("repository %s (%s) is read-only: reading it without a lock",
                        self.repository_name, self.url)

    def _unlock_if_stale(self, error: RepositoryLocked) -> None:
        """Remove locks only when no live restic process works on this repository."""
        holder = live_restic_on(self.repo_string)
        if holder is not None:
            raise RepositoryLocked(
                f"{error.message}; restic (pid {holder}) is still running on it"
            ) from None
        log.warning("repository %s: removing a stale lock left by a dead restic", self.url)
        self._run([args.RESTIC, "unlock"], retry_stale_lock=False)

    def version(self) -> EngineVersion:
        return restic_version(run.which(args.RESTIC), self.state_dir)

    # ---- operations

    def copy_from(self, source: ResticEngine, snapshot_ids: Sequence[str]) -> None:
        """restic copy of these snapshots from `source` into this repository."""
        with self._as_source(source) as (env, fds):
            self._run([args.RESTIC, "copy", *source.destination.option_args(), *snapshot_ids],
                      extra_env=env, extra_fds=fds)

    def init_like(self, source: ResticEngine) -> bool:
        """Create this repository with the chunker parameters of `source`, so that copied
        data deduplicates with data backed up here directly; False when it exists."""
        try:
            with self._as_source(source) as (env, fds):
                self._run([*args.init_args(), "--copy-chunker-params",
                           *source.destination.option_args()], extra_env=env, extra_fds=fds)
            return True
        except EngineError as exc:
            if "already exists" not in exc.message and "already initialized" not in exc.message:
                raise
        return False

    @contextmanager
    def _as_source(self, source: ResticEngine) -> Iterator[tuple[dict[str, str], tuple[int,
                                                                                     ...]]]:
        """The environment naming `source` as restic's --from repository."""
        theirs = {**source.destination.env, **source.secrets()}
        clash = self.copy_clash(source)
        if clash:
            raise EngineError(
                f"cannot copy from {source.repository_name!r} to {self.repository_name!r} in "
                f"one restic run: they need different values for {', '.join(clash)}")
        with source.password.as_file() as (password_file, fds):
            yield {**theirs, "RESTIC_FROM_REPOSITORY": source.repo_string,
                   "RESTIC_FROM_PASSWORD_FILE": password_file}, fds

    def init(self) -> bool:
        try:
            self._run(args.init_args())
            return True
        except EngineError as exc:
            if "already exists" not in exc.message and "already initialized" not in exc.message:
                raise
        # It exists: prove the password opens it rather than reporting success blindly.
        self._run([args.RESTIC, "cat", "config"])
        return False

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
    ) -> BackupSummary:
        reader = BackupOutput(on_progress)
        argv = args.backup_args(
            paths, tags=tags, time=time, host=host, excludes=excludes, compression=compression
        )
        # Exit 3: the snapshot was saved but some files could not be read.
        self._run(argv, ok_codes=(0, 3), on_line=reader.feed)
        summary = reader.result()
        if all(os.path.lexists(path) for path in paths):  # restic leaves out a missing one
            self.record_made(summary.snapshot_id, host=host, time=time, tags=tags, paths=paths)
        return summary

    def backup_stream(
        self,
        producer: run.Command,
        filename: str,
        *,
        tags: Sequence[str],
        time: datetime,
        host: str,
        compression: str = "auto",
        tap: run.Tap | None = None,
    ) -> BackupSummary:
        """producer's stdout → restic backup --stdin. A failed producer fails the part with
        ProducerFailed, which names the snapshot restic saved of the partial stream."""
        reader = BackupOutput(None)
        self.forget_listings()
        consumer = self._locking(args.stream_backup_args(
            filename, tags=tags, time=time, host=host, compression=compression
        ))
        with self.password.as_file() as (password_file, fds), \
                run.prepared(producer) as (producer_argv, producer_env, producer_fds):
            env = self.backend_env(password_file)
            result = run.pipeline(
                producer_argv, self.with_options(consumer), producer_env=producer_env,
                consumer_env=env,
                producer_pass_fds=producer_fds, consumer_pass_fds=fds, on_line=reader.feed,
                check=False, tap=tap,
            )
        if result.producer.returncode != 0:
            partial = reader.summary.snapshot_id if reader.summary is not None else None
            raise ProducerFailed(run.CommandError(
                producer_argv, result.producer.returncode, _tail(result.producer.stderr)
            ), partial or None)
        if result.consumer.returncode != 0:
            raise args.classify_failure(
                self.repository_name, self.url, result.consumer.returncode,
                result.consumer.stderr,
            )
        summary = reader.result()
        self.record_made(summary.snapshot_id, host=host, time=time, tags=tags,
                         paths=[args.stdin_path(filename)])
        return summary

    def start_stream_backup(
        self,
        filename: str,
        *,
        tags: Sequence[str],
        time: datetime,
        host: str,
        compression: str = "auto",
    ) -> PendingStream:
        """A `restic backup --stdin` started now, so the repository opens meanwhile; its
        data is given later by finish()."""
        argv = self._locking(args.stream_backup_args(
            filename, tags=tags, time=time, host=host, compression=compression
        ))
        with self.password.as_file() as (password_file, fds):
            env = self.backend_env(password_file)
            pending = PendingStream(self, run.Background(self.with_options(argv), env=env,
                                                         pass_fds=fds))
        pending.made = {"host": host, "time": time, "tags": tags,
                        "paths": [args.stdin_path(filename)]}
        return pending

    def restore_stream(
        self, snapshot_id: str, path: str, consumer: run.Command, tap: run.Tap | None = None
    ) -> None:
        """restic dump of one stored stream → consumer's stdin."""
        with self.password.as_file() as (password_file, fds), \
                run.prepared(consumer) as (consumer_argv, consumer_env, consumer_fds):
            env = self.backend_env(password_file)
            result = run.pipeline(
                self.with_options(self._locking(args.dump_args(snapshot_id, path))),
                consumer_argv,
                producer_env=env,
                consumer_env=consumer_env, producer_pass_fds=fds,
                consumer_pass_fds=consumer_fds, check=False, tap=tap,
            )
        if result.producer.returncode != 0:
            raise args.classify_failure(
                self.repository_name, self.url, result.producer.returncode,
                result.producer.stderr,
            )
        if result.consumer.returncode != 0:
            raise run.CommandError(
                consumer_argv, result.consumer.returncode, _tail(result.consumer.stderr)
            )

    @contextmanager
    def open_dump(self, snapshot_id: str, path: str, archive: bool = False) -> Iterator[IO[bytes]]:
        """A stored file (or, with archive, a tar of a folder) to read as a stream."""
        argv = args.dump_args(snapshot_id, path)
        if archive:
            argv[2:2] = ["--archive", "tar"]
        argv = self._locking(argv)
        with self.password.as_file() as (password_file, fds):
            env = self.backend_env(password_file)
            try:
                with run.reading(self.with_options(argv), env=env, pass_fds=fds) as stream:
                    yield stream
            except run.CommandError as exc:
                raise args.classify_failure(
                    self.repository_name, self.url, exc.returncode, exc.stderr_tail
                ) from None

    def forget_listings(self) -> None:
        """After a write: the next listing asks restic again."""
        self._listings.clear()

    def record_made(self, short_id: str, *, host: str, time: datetime, tags: Sequence[str],
                    paths: Sequence[str]) -> None:
        """Keep the listing entry of a snapshot this run saved (restic_listing); only for
        the listings of restic before 0.17, whose snapshots carry no summary."""
        if self.destination.kind != "local" or self.version().version >= (0, 17, 0):
            return
        password = self.password.file_identity()
        item = made_item(host=host, time=time, tags=tags, paths=paths)
        if password is None or item is None:
            return
        RepositoryListing(Path(self.repo_string), self.state_dir, password).record_made(
            short_id, item)

    def snapshots(self, tags: Sequence[str] = ()) -> list[Snapshot]:
        """The snapshots with all these tags: listed once per run, and filtered here from
        a listing this run already made with fewer tags (restic opens the repository,
        key derivation and all, for every listing)."""
        wanted = set(tags)
        for listed_tags, listing in self._listings.items():
            if wanted.issuperset(listed_tags):
                return [snap for snap in listing if wanted.issubset(snap.tags)]
        password = self.password.file_identity()
        if self.destination.kind == "local" and password is not None:
            # The whole listing, so that the kept one knows every id (restic_listing).
            kept = RepositoryListing(Path(self.repo_string), self.state_dir, password)
            items = kept.current()
            if items is None:
                items = json.loads(self._run(args.snapshots_args(())).stdout or "[]") or []
                kept.remember(items)
            self._listings[()] = args.snapshots_of(items)
            return self.snapshots(tags)
        listing = args.parse_snapshots(self._run(args.snapshots_args(tags)).stdout)
        self._listings[tuple(tags)] = listing
        return list(listing)

    def ls(self, snapshot_id: str, paths: Sequence[str] = ()) -> list[Node]:
        return args.parse_ls(self._run(args.ls_args(snapshot_id, paths)).stdout)

    def walk(self, snapshot_id: str, paths: Sequence[str] = ()) -> Iterator[Node]:
        argv = self._locking(args.ls_args(snapshot_id, paths))
        with self.password.as_file() as (password_file, fds):
            env = self.backend_env(password_file)
            try:
                with run.reading(self.with_options(argv), env=env, pass_fds=fds) as stream:
                    for line in stream:
                        node = args.parse_node(line.decode(errors="replace"))
                        if node is not None:
                            yield node
            except run.CommandError as exc:
                raise args.classify_failure(
                    self.repository_name, self.url, exc.returncode, exc.stderr_tail
                ) from None

    def diff(self, snapshot_a: str, snapshot_b: str) -> list[Change]:
        return args.parse_diff(self._run(args.diff_args(snapshot_a, snapshot_b)).stdout)

    def restore(
        self,
        snapshot_id: str,
        target: Path,
        *,
        includes: Sequence[str] = (),
        excludes: Sequence[str] = (),
        verify: bool = False,
    ) -> None:
        argv = args.restore_args(
            snapshot_id, target, includes=includes, excludes=excludes, verify=verify
        )
        completed = self._run(argv)
        if verify and "error" in completed.stdout.lower().replace("0 errors", ""):
            raise EngineError(f"restore verification failed: {completed.stdout.strip()}")

    def dump(self, snapshot_id: str, path: str) -> bytes:
        return self._run(args.dump_args(snapshot_id, path)).stdout_bytes

    def forget(self, snapshot_ids: Sequence[str]) -> None:
        if snapshot_ids:
            self._run(args.forget_args(snapshot_ids))

    def prune(self) -> None:
        self._run([args.RESTIC, "prune"])

    def check(self, read_data_subset: str | None = None) -> CheckReport:
        """Damage found (exit 1) is a report; a lock, a wrong password or no repository is
        an error, as for every command."""
        completed = self._run(args.check_args(read_data_subset), ok_codes=(0, 1))
        output = "\n".join(part for part in (completed.stdout.strip(), completed.stderr.strip())
                           if part)
        return CheckReport(completed.returncode == 0, output)

    def add_tags(self, snapshot_ids: Sequence[str], tags: Sequence[str]) -> None:
        self._run(args.tag_add_args(snapshot_ids, tags))

    def key_list(self) -> list[KeyInfo]:
        return args.parse_keys(self._run(args.key_list_args()).stdout)

    def key_add(self, new_password_file: Path, *, host: str | None = None,
                user: str | None = None) -> None:
        self._run(args.key_add_args(new_password_file, host, user))

    def key_remove(self, key_id: str) -> None:
        self._run(args.key_remove_args(key_id))

    # ---- copies between repositories of any engine (restic_transfer)

    imports_tar = False

    def copy_clash(self, source: object) -> list[str]:
        if not isinstance(source, ResticEngine):
            return ["another engine"]
        return transfer.env_clash(self, source)

    def dump_command(self, snapshot_id: str, path: str, archive: bool = False) -> run.Command:
        return transfer.dump_command(self, snapshot_id, path, archive)

    def backup_tar(self, producer: run.Command, paths: Sequence[str], *,
                   tags: Sequence[str], time: datetime, host: str,
                   compression: str = "auto") -> BackupSummary:
        raise EngineError("restic cannot import a tar stream: stage the tree and use "
                          "backup_tree")

    def backup_tree(self, root: Path, paths: Sequence[str], *, tags: Sequence[str],
                    time: datetime, host: str, compression: str = "auto") -> BackupSummary:
        return transfer.backup_tree(self, root, paths, tags=tags, time=time, host=host,
                                    compression=compression)


class PendingStream:
    def __init__(self, engine: ResticEngine, handle: run.Background) -> None:
        self.engine = engine
        self.handle = handle
        self.made: dict[str, Any] = {}  # record_made's keywords, once the backup is saved

    def finish(self, data: bytes) -> BackupSummary:
        self.engine.forget_listings()
        try:
            lines = self.handle.finish(data)
        except run.CommandError as exc:
            raise args.classify_failure(
                self.engine.repository_name, self.engine.url, exc.returncode, exc.stderr_tail
            ) from None
        reader = BackupOutput(None)
        for line in lines:
            reader.feed(line)
        summary = reader.result()
        if self.made:
            self.engine.record_made(summary.snapshot_id, **self.made)
        return summary

    def cancel(self) -> None:
        self.handle.cancel()


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
