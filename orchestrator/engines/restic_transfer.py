"""What a restic repository needs to take part in a copy between repositories of any
engine: its dump as a Command of its own (own environment, own password pipe), and a
backup of a staged tree that stores the tree's paths as they were at the source.

restic 0.14 cannot import a tar stream and has no way to set a snapshot's paths, but it
stores relative targets from its working folder: run in ROOT, `restic backup srv/data`
stores /srv/data. The snapshot's paths then read ROOT/srv/data; the `root=ROOT` tag
names that prefix, and parse_snapshots takes it off again.

The engine is typed Any: naming its class here would close an import circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator import run
from orchestrator.engines import restic_args as args
from orchestrator.engines.base import BackupSummary
from orchestrator.engines.restic_output import BackupOutput


def dump_command(engine: Any, snapshot_id: str, path: str,
                 archive: bool = False) -> run.Command:
    """`restic dump` of a stored file (with archive: a tar of a folder) to stdout."""
    argv = args.dump_args(snapshot_id, path)
    if archive:
        argv[2:2] = ["--archive", "tar"]
    argv = engine.with_options(engine._locking(argv))
    password_file = engine.repository.password_file
    if password_file is not None:
        return run.Command(tuple(argv), engine.backend_env(str(password_file)))
    return run.Command(tuple(argv), engine.backend_env(f"/dev/fd/{run.SECRET_FD}"),
                       engine.password.secret())


def backup_tree(
    engine: Any, root: Path, paths: Sequence[str], *, tags: Sequence[str],
    time: datetime, host: str, compression: str = "auto",
) -> BackupSummary:
    """`paths` (absolute, as the snapshot is to list them) backed up from below `root`."""
    reader = BackupOutput(None)
    engine.forget_listings()
    relative = [path.strip("/") or "." for path in paths]
    argv = engine.with_options(engine._locking(args.backup_args(
        relative, tags=[*tags, args.root_tag(root)], time=time, host=host,
        compression=compression)))
    with engine.password.as_file() as (password_file, fds):
        try:
            run.run(argv, env=engine.backend_env(password_file), pass_fds=fds,
                    on_line=reader.feed, cwd=str(root))
        except run.CommandError as exc:
            raise args.classify_failure(engine.repository_name, engine.url, exc.returncode,
                                        exc.stderr_tail) from None
    return reader.result()


def env_clash(engine: Any, source: Any) -> list[str]:
    """The variables (and -o options) both repositories set to different values: one
    `restic copy` run cannot hold both."""
    mine = {**engine.destination.env, **engine.secrets()}
    theirs = {**source.destination.env, **source.secrets()}
    clash = sorted(key for key in theirs if key in mine and mine[key] != theirs[key])
    options = dict(option.split("=", 1) for option in engine.destination.options)
    clash += sorted(key for key, value in (option.split("=", 1) for option in
                                           source.destination.options)
                    if options.get(key, value) != value)
    return clash
