"""Every argv of continuous backup, and the two shell strings PostgreSQL runs
(archive_command, restore_command), built in pure functions.

PostgreSQL hands archive_command and restore_command to /bin/sh after replacing %p, %f
and %%: every part is quoted with shlex.quote, and every literal % doubled so that no
part can smuggle a placeholder in.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from hooks.postgresql import PostgresqlConfig, connection_args, tool
from orchestrator.errors import UsageError


def psql_argv(config: PostgresqlConfig, statements: Sequence[str]) -> list[str]:
    """psql running each statement on its own (ALTER SYSTEM refuses a transaction)."""
    argv = [tool(config, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            *connection_args(config), "--no-password", "-d", "postgres"]
    for statement in statements:
        argv += ["-c", statement]
    return argv


def basebackup_argv(config: PostgresqlConfig, label: str) -> list[str]:
    return [tool(config, "pg_basebackup"), *connection_args(config), "--no-password",
            "--format=tar", "--wal-method=none", "--checkpoint=fast", f"--label={label}",
            "--pgdata=-"]


def batch_tar_argv(spool: Path, names: Sequence[str]) -> list[str]:
    """A ustar of these spool files on stdout (names are checked WAL names)."""
    return ["tar", "--create", "--file=-", "--format=ustar", f"--directory={spool}",
            "--no-recursion", "--", *names]


def as_owner(argv: list[str], owner: str | None) -> list[str]:
    """argv run as `owner` (pg_ctl refuses root); None runs it as we are."""
    return argv if owner is None else ["runuser", "-u", owner, "--", *argv]


def pg_ctl_argv(config: PostgresqlConfig, action: str, pgdata: Path, logfile: Path,
                wait_seconds: int = 600) -> list[str]:
    return [tool(config, "pg_ctl"), action, "-D", str(pgdata), "-l", str(logfile), "-w",
            "-t", str(wait_seconds)]


def _part(text: str) -> str:
    if any(char in text for char in "\n\r\0"):
        raise UsageError(f"cannot put {text!r} in a PostgreSQL command: it holds a line break")
    return shlex.quote(text).replace("%", "%%")


def server_command(program: Sequence[str], profile: Path, service: str,
                   verb: Sequence[str], placeholders: Sequence[str]) -> str:
    """`PROGRAM -p PROFILE --service S VERB… %p…` as the shell string PostgreSQL runs."""
    if not profile.is_absolute() or not profile.is_file():
        raise UsageError(f"the profile must be an existing file given by absolute path, not "
                         f"{str(profile)!r}: PostgreSQL runs the command from its own folder")
    parts = [_part(item) for item in (*program, *verb[:1], "-p", str(profile),
                                      "--service", service, *verb[1:])]
    return " ".join([*parts, *placeholders])


def archive_command(program: Sequence[str], profile: Path, service: str) -> str:
    return server_command(program, profile, service, ["wal-push"], ["%p"])


def restore_command(program: Sequence[str], profile: Path, service: str, cache: Path) -> str:
    return server_command(program, profile, service, ["wal-fetch", "--cache", str(cache)],
                          ["%f", "%p"])
