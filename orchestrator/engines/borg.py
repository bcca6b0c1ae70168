"""The borg engine: runs the builders of `borg_args` through `run`, one process each.

Snapshots are borg archives: `Snapshot.id` is the archive id, mapped to its name (which
borg commands take) from one `borg list` per run. Exit 1 is borg's warning; it counts
as success only where the caller reads the warnings (create) or asks for it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO

from orchestrator import run
from orchestrator.engines import borg_args as args
from orchestrator.engines import borg_output as output
from orchestrator.engines import borg_transfer as transfer
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
from orchestrator.engines.destinations import behind_proxy, probe
from orchestrator.engines.passwords import PasswordSource
from orchestrator.engines.versions import borg_version, identity, remember
from orchestrator.errors import UsageError
from orchestrator.profile.schema import Repository
from orchestrator.profile.urls import shown_url

log = logging.getLogger("strongroom.borg")
REPOSITORY_ERRORS = (RepositoryLocked, RepositoryMissing, WrongPassword, Unreachable,
                     AuthenticationDenied, RepositoryReadOnly)


class BorgEngine:
    """One borg repository of a profile."""

    def __init__(self, repository_name: str, repository: Repository, state_dir: Path) -> None:
        self.repository_name = repository_name
        self.repository = repository
        self.url = shown_url(repository.url)
        self.state_dir = state_dir
        self.password = PasswordSource(repository_name, repository)
        self.location, self.rsh, address = args.location_of(repository_name, repository)
        self._address = address
        self._probed = False
        self._names: dict[str, str] = {}  # archive id → name
        self._archives: list[Snapshot] | None = None
        self.read_only = False

    # ---- plumbing

    def _env(self, fd: int) -> dict[str, str | None]:
        if not self._probed and self._address is not None and not behind_proxy():
            problem = probe(self._address)
            if problem is not None:
                host, port = self._address
                raise Unreachable(f"cannot reach repository {self.repository_name!r} "
                                  f"({self.url}) at {host}:{port}: {problem}")
        self._probed = True
        return args.base_env(self.location, self.state_dir, fd, self.rsh)

    def _failure(self, returncode: int, stderr: str) -> Exception:
        return output.classify_failure(self.repository_name, self.url, returncode, stderr)

    def _run(
        self,
        argv: list[str],
        *,
        ok_codes: Sequence[int] = (0,),
        on_stderr_line: Callable[[str], None] | None = None,
        cwd: str | None = None,
        retry_stale_lock: bool = True,
    ) -> run.Completed:
        """Run borg; a lock, a wrong password or a missing repository is always an error
        (a stale lock left by a dead borg is broken and the command run once more)."""
        if self.read_only:
            argv = self._without_lock(argv)
        try:
            with self.password.as_fd() as fd:
                completed = run.run(argv, env=self._env(fd), pass_fds=(fd,), ok_codes=ok_codes,
                                    on_stderr_line=on_stderr_line, cwd=cwd)
            if completed.returncode != 0 and isinstance(
                    self._failure(completed.returncode, completed.stderr), REPOSITORY_ERRORS):
                raise run.CommandError(argv, completed.returncode, completed.stderr)
            return completed
        except run.CommandError as exc:
            error = self._failure(exc.returncode, exc.stderr_tail)
            if isinstance(error, RepositoryReadOnly) and args.reads_only(argv) \
                    and not self.read_only:
                log.warning("repository %s (%s) is read-only: reading it without a lock",
                            self.repository_name, self.url)
                self.read_only = True
                return self._run(argv, ok_codes=ok_codes, on_stderr_line=on_stderr_line,
                                 cwd=cwd, retry_stale_lock=retry_stale_lock)
            if isinstance(error, RepositoryLocked) and retry_stale_lock:
                self._break_lock_if_stale(error)
                return self._run(argv, ok_codes=ok_codes, on_stderr_line=on_stderr_line,
                                 cwd=cwd, retry_stale_lock=False)
            raise error from None

    def _without_lock(self, argv: list[str]) -> list[str]:
        if args.reads_only(argv):
            return args.without_lock(argv)
        raise RepositoryReadOnly(
            f"repository {self.repository_name!r} ({self.url}) is read-only: nothing can be "
            "written there")

    def _break_lock_if_stale(self, error: RepositoryLocked) -> None:
        """Break the lock only when no live borg on this host works on the repository."""
        holder = output.live_borg_on(self.location)
        if holder is not None:
            raise RepositoryLocked(
                f"{error.message}; borg (pid {holder}) is still running on it") from None
        log.warning("repository %s: breaking a stale lock left by a dead borg", self.url)
        self._run(args.break_lock_args(), retry_stale_lock=False)

    @contextmanager
    def _reading(self, argv: list[str]) -> Iterator[IO[bytes]]:
        if self.read_only:
            argv = self._without_lock(argv)
        with self.password.as_fd() as fd:
            try:
                with run.reading(argv, env=self._env(fd), pass_fds=(fd,)) as stream:
                    yield stream
            except run.CommandError as exc:
                raise self._failure(exc.returncode, exc.stderr_tail) from None

    def _name(self, snapshot_id: str) -> str:
        """The archive name of an id (or of a unique id prefix)."""
        for attempt in range(2):
            found = [name for key, name in self._names.items() if key.startswith(snapshot_id)]
            if len(found) == 1:
                return found[0]
            if attempt == 0:
                self.snapshots()
        raise EngineError(f"no archive with id {snapshot_id!r} in repository "
                          f"{self.repository_name!r} ({self.url})")

    def _learn(self, summary: BackupSummary, name: str) -> BackupSummary:
        self._names[summary.snapshot_id] = name
        self._archives = None
        return summary

    def version(self) -> EngineVersion:
        return borg_version(run.which(args.BORG), self.state_dir)

    # ---- operations

    def init(self) -> bool:
        binary = run.which(args.BORG)
        seen = identity(binary)
        try:
            done = self._run(args.init_args())
            # Kept only from a local borg: over ssh, a server's log lines pass through.
            told = output.logged_version(done.stderr) if self.rsh is None else None
            if told is not None and seen is not None:
                remember("borg", binary, self.state_dir, told, seen)
            return True
        except EngineError as exc:
            if "already exists" not in exc.message:
                raise
        self.snapshots()  # it exists: prove the password opens it
        return False

    def init_like(self, source: object) -> bool:
        """borg 1.2 cannot share chunker secrets between repositories: a plain init."""
        return self.init()

    def copy_from(self, source: object, snapshot_ids: Sequence[str]) -> None:
        """Each archive through a tar stream: `borg export-tar` of the source into
        `borg import-tar` here (borg 1.2 has no transfer). Contents, modes, owners,
        symlinks and whole-second mtimes carry over; nothing is staged on disk."""
        if not isinstance(source, BorgEngine):
            raise EngineError(f"cannot copy into borg repository {self.repository_name!r} "
                              "from a repository of another engine",
                              hint="backup-sync copies between repositories of one engine")
        wanted = {snap.id: snap for snap in source.snapshots()}
        for snapshot_id in snapshot_ids:
            snap = next((s for key, s in wanted.items() if key.startswith(snapshot_id)), None)
            if snap is None:
                raise EngineError(f"no archive {snapshot_id!r} in {source.repository_name!r}")
            name = args.archive_name(snap.tags, snap.time)
            importer = args.import_tar_args(
                name, comment=args.comment_of(snap.tags, snap.hostname, snap.paths,
                                              placeholders=False), time=snap.time)
            with source.password.as_fd() as source_fd, self.password.as_fd() as fd:
                result = run.pipeline(
                    args.export_tar_args(source._name(snap.id)), importer,
                    producer_env=source._env(source_fd), consumer_env=self._env(fd),
                    producer_pass_fds=(source_fd,), consumer_pass_fds=(fd,), check=False)
            if result.producer.returncode != 0:
                raise source._failure(result.producer.returncode, result.producer.stderr)
            if result.consumer.returncode != 0:
                raise self._failure(result.consumer.returncode, result.consumer.stderr)
            self._learn(output.summary_of(result.consumer.stdout), name)

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
        reader = output.CreateOutput(on_progress)
        name = args.archive_name(tags, time)
        argv = args.create_args(paths, name=name, comment=args.comment_of(tags, host, paths),
                                time=time, excludes=excludes, compression=compression,
                                progress=on_progress is not None)
        # Exit 1: the archive was saved with warnings (files that could not be read).
        completed = self._run(argv, ok_codes=(0, 1), on_stderr_line=reader.feed)
        summary = output.summary_of(completed.stdout)
        # Walking from the root, borg passes over a missing path in silence.
        missing = [f"{path}: no such file or directory" for path in paths
                   if not os.path.lexists(path)]
        summary.unreadable = missing + reader.unreadable
        return self._learn(summary, name)

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
        """producer's stdout → `borg create --stdin-name`. A failed producer fails the part
        with ProducerFailed, naming the archive borg saved of the partial stream."""
        name = args.archive_name(tags, time)
        consumer = args.stream_create_args(
            filename, name=name, comment=args.comment_of(tags, host, ["/" + filename.lstrip(
                "/")]), time=time, compression=compression)
        if self.read_only:
            consumer = self._without_lock(consumer)
        with self.password.as_fd() as fd, \
                run.prepared(producer) as (producer_argv, producer_env, producer_fds):
            result = run.pipeline(
                producer_argv, consumer, producer_env=producer_env, consumer_env=self._env(fd),
                producer_pass_fds=producer_fds, consumer_pass_fds=(fd,), check=False, tap=tap)
        saved = None
        if result.consumer.returncode in (0, 1):
            saved = self._learn(output.summary_of(result.consumer.stdout), name)
        if result.producer.returncode != 0:
            raise ProducerFailed(run.CommandError(
                producer_argv, result.producer.returncode, _tail(result.producer.stderr)
            ), saved.snapshot_id if saved is not None else None)
        if saved is None:
            raise self._failure(result.consumer.returncode, result.consumer.stderr)
        return saved

    def start_stream_backup(
        self,
        filename: str,
        *,
        tags: Sequence[str],
        time: datetime,
        host: str,
        compression: str = "auto",
    ) -> PendingArchive:
        name = args.archive_name(tags, time)
        argv = args.stream_create_args(
            filename, name=name, comment=args.comment_of(tags, host, ["/" + filename.lstrip(
                "/")]), time=time, compression=compression)
        if self.read_only:
            argv = self._without_lock(argv)
        return PendingArchive(self, name, argv)

    def restore_stream(
        self, snapshot_id: str, path: str, consumer: run.Command, tap: run.Tap | None = None
    ) -> None:
        """`borg extract --stdout` of one stored stream → consumer's stdin."""
        producer = args.dump_args(self._name(snapshot_id), path)
        if self.read_only:
            producer = self._without_lock(producer)
        with self.password.as_fd() as fd, \
                run.prepared(consumer) as (consumer_argv, consumer_env, consumer_fds):
            result = run.pipeline(
                producer, consumer_argv, producer_env=self._env(fd), consumer_env=consumer_env,
                producer_pass_fds=(fd,), consumer_pass_fds=consumer_fds, check=False, tap=tap)
        if result.producer.returncode != 0:
            raise self._failure(result.producer.returncode, result.producer.stderr)
        if result.consumer.returncode != 0:
            raise run.CommandError(
                consumer_argv, result.consumer.returncode, _tail(result.consumer.stderr))

    @contextmanager
    def open_dump(self, snapshot_id: str, path: str, archive: bool = False) -> Iterator[IO[bytes]]:
        """A stored file, or with archive a tar of a folder (`borg export-tar`)."""
        name = self._name(snapshot_id)
        argv = args.export_tar_args(name, path) if archive else args.dump_args(name, path)
        with self._reading(argv) as stream:
            yield stream

    def snapshots(self, tags: Sequence[str] = ()) -> list[Snapshot]:
        if self._archives is None:
            listing = self._run(args.list_args()).stdout
            self._archives = output.parse_archives(listing)
            self._names = output.parse_archive_names(listing)
        wanted = set(tags)
        return [snap for snap in self._archives if wanted <= set(snap.tags)]

    def ls(self, snapshot_id: str, paths: Sequence[str] = ()) -> list[Node]:
        argv = args.ls_args(self._name(snapshot_id), paths)
        return output.parse_ls(self._run(argv).stdout)

    def walk(self, snapshot_id: str, paths: Sequence[str] = ()) -> Iterator[Node]:
        yield from self.ls(snapshot_id, paths)

    def diff(self, snapshot_a: str, snapshot_b: str) -> list[Change]:
        argv = args.diff_args(self._name(snapshot_a), self._name(snapshot_b))
        return output.parse_diff(self._run(argv).stdout)

    def restore(
        self,
        snapshot_id: str,
        target: Path,
        *,
        includes: Sequence[str] = (),
        excludes: Sequence[str] = (),
        verify: bool = False,
    ) -> None:
        """`borg extract` run in the target: absolute paths land below it (TARGET/srv/…),
        as restic lays them out. With verify, every restored file's size is checked
        against the archive (borg has checked each chunk's MAC while extracting)."""
        target.mkdir(parents=True, exist_ok=True)
        argv = args.extract_args(self._name(snapshot_id), includes=includes,
                                 excludes=excludes)
        self._run(argv, cwd=str(target))
        if verify:
            self._verify_restored(snapshot_id, target, includes)

    def _verify_restored(self, snapshot_id: str, target: Path, includes: Sequence[str]) -> None:
        roots = [literal for literal in map(args.literal_of, includes) if literal is not None]
        problems = []
        for node in self.ls(snapshot_id, roots if len(roots) == len(includes) else ()):
            if node.type != "file":
                continue
            restored = target / node.path.lstrip("/")
            try:
                size = os.lstat(restored).st_size
            except OSError:
                problems.append(f"{node.path}: missing")
                continue
            if size != node.size:
                problems.append(f"{node.path}: {size} bytes, {node.size} stored")
        if problems:
            raise EngineError("restore verification failed: " + "; ".join(problems[:10]))

    def dump(self, snapshot_id: str, path: str) -> bytes:
        return self._run(args.dump_args(self._name(snapshot_id), path)).stdout_bytes

    def forget(self, snapshot_ids: Sequence[str]) -> None:
        if not snapshot_ids:
            return
        names = [self._name(snapshot_id) for snapshot_id in snapshot_ids]
        self._run(args.delete_args(names))
        self._archives = None

    def prune(self) -> None:
        self._run(args.compact_args())

    def check(self, read_data_subset: str | None = None) -> CheckReport:
        """Damage found (exit 1 or 2 with no repository error) is a report. borg reads
        all data or none: any subset asks for `--verify-data`."""
        completed = self._run(args.check_args(read_data_subset is not None),
                              ok_codes=(0, 1, 2))
        text = output.plain_text(completed.stderr)
        return CheckReport(completed.returncode == 0,
                           text or ("no problems found" if completed.returncode == 0 else
                                    f"borg check exited {completed.returncode}"))

    def add_tags(self, snapshot_ids: Sequence[str], tags: Sequence[str]) -> None:
        """`borg recreate --comment`: the data stays, the archive gets a new id."""
        by_id = {snap.id: snap for snap in self.snapshots()}
        for snapshot_id in snapshot_ids:
            name = self._name(snapshot_id)
            snap = next(s for key, s in by_id.items() if key.startswith(snapshot_id))
            merged = [*snap.tags, *(tag for tag in tags if tag not in snap.tags)]
            self._run(args.recreate_comment_args(
                name, args.comment_of(merged, snap.hostname, snap.paths)))
        self._archives = None

    # ---- copies between repositories of any engine (borg_transfer)

    imports_tar = True

    def copy_clash(self, source: object) -> list[str]:
        # copy_from runs two processes, each with its own environment
        return [] if isinstance(source, BorgEngine) else ["another engine"]

    def dump_command(self, snapshot_id: str, path: str, archive: bool = False) -> run.Command:
        return transfer.dump_command(self, snapshot_id, path, archive)

    def backup_tar(self, producer: run.Command, paths: Sequence[str], *,
                   tags: Sequence[str], time: datetime, host: str,
                   compression: str = "auto") -> BackupSummary:
        return transfer.backup_tar(self, producer, paths, tags=tags, time=time, host=host)

    def backup_tree(self, root: Path, paths: Sequence[str], *, tags: Sequence[str],
                    time: datetime, host: str, compression: str = "auto") -> BackupSummary:
        return transfer.backup_tar(self, transfer.tar_command(root, paths), paths,
                                   tags=tags, time=time, host=host)

    # A borg repository has one passphrase, not a list of keys: `strongroom key` is
    # restic's for now, and says so instead of half-working here.
    def key_list(self) -> list[KeyInfo]:
        raise UsageError(_NO_KEYS)

    def key_add(self, new_password_file: Path, *, host: str | None = None,
                user: str | None = None) -> None:
        raise UsageError(_NO_KEYS)

    def key_remove(self, key_id: str) -> None:
        raise UsageError(_NO_KEYS)


class PendingArchive:
    """A stream archive made when its data is given. Unlike restic, borg create holds
    the repository's exclusive lock for its whole run: started early, it would lock
    out the parts the caller stores meanwhile."""

    def __init__(self, engine: BorgEngine, name: str, argv: list[str]) -> None:
        self.engine = engine
        self.name = name
        self.argv = argv

    def finish(self, data: bytes) -> BackupSummary:
        with self.engine.password.as_fd() as fd:
            try:
                completed = run.run(self.argv, env=self.engine._env(fd), pass_fds=(fd,),
                                    input_bytes=data)
            except run.CommandError as exc:
                raise self.engine._failure(exc.returncode, exc.stderr_tail) from None
        return self.engine._learn(output.summary_of(completed.stdout), self.name)

    def cancel(self) -> None:
        pass  # nothing runs yet


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


_NO_KEYS = ("strongroom key works on restic repositories only; a borg repository has one "
            "passphrase (change it with `borg key change-passphrase`, then update the "
            "profile's password source)")
