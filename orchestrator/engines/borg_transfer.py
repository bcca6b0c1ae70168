"""What a borg repository needs to take part in a copy between repositories of any
engine: its extract/export-tar as a Command of its own (own environment, own passphrase
pipe), and `borg import-tar` of a tar stream another process writes (a staged tree goes
the same way, through GNU tar: borg create walks from the root). The engine is typed Any:
naming its class here would close an import circle with borg.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator import run
from orchestrator.engines import borg_args as args
from orchestrator.engines import borg_output as output
from orchestrator.engines.base import BackupSummary, ProducerFailed


def dump_command(engine: Any, snapshot_id: str, path: str,
                 archive: bool = False) -> run.Command:
    """`borg extract --stdout` of a stored file (with archive: `borg export-tar`)."""
    name = engine._name(snapshot_id)
    argv = args.export_tar_args(name, path) if archive else args.dump_args(name, path)
    if engine.read_only:
        argv = args.without_lock(argv)
    env = engine._env(0)
    env["BORG_PASSPHRASE_FD"] = run.SECRET_FD
    return run.Command(tuple(argv), env, engine.password.secret())


def tar_command(root: Path, paths: Sequence[str]) -> run.Command:
    """GNU tar of `paths` (absolute, as the archive is to hold them) from below `root`:
    pax headers keep mtimes to the nanosecond and names of any length."""
    relative = [path.strip("/") or "." for path in paths]
    return run.Command(("tar", "--create", "--file=-", "--format=posix", "--numeric-owner",
                        f"--directory={root}", "--", *relative))


def backup_tar(
    engine: Any, producer: run.Command, paths: Sequence[str], *,
    tags: Sequence[str], time: datetime, host: str,
) -> BackupSummary:
    """producer's tar stream → `borg import-tar`: its members stored at their paths, the
    archive listing `paths`. A failed producer fails with ProducerFailed, the archive
    borg saved of the partial stream already deleted."""
    name = args.archive_name(tags, time)
    consumer = args.import_tar_args(name, comment=args.comment_of(
        tags, host, paths, placeholders=False), time=time)
    with engine.password.as_fd() as fd, \
            run.prepared(producer) as (producer_argv, producer_env, producer_fds):
        result = run.pipeline(
            producer_argv, consumer, producer_env=producer_env, consumer_env=engine._env(fd),
            producer_pass_fds=producer_fds, consumer_pass_fds=(fd,), check=False)
    saved: BackupSummary | None = None
    if result.consumer.returncode == 0:
        saved = engine._learn(output.summary_of(result.consumer.stdout), name)
    if result.producer.returncode != 0:
        if saved is not None:
            engine.forget([saved.snapshot_id])
        raise ProducerFailed(run.CommandError(
            producer_argv, result.producer.returncode,
            "\n".join(result.producer.stderr.strip().splitlines()[-15:])), None)
    if saved is None:
        raise engine._failure(result.consumer.returncode, result.consumer.stderr)
    return saved
