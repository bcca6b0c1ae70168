"""`--repo URL` and its password options: the read commands on a repository without its
profile. CLI only: the MCP request models have no such fields, so an MCP caller can neither
point strongroom at another repository nor have it run a password command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def repo_options(passwords: bool = True) -> Callable[[F], F]:
    """--repo, --password-command, --repo-env; and --password-file/--password-env unless
    the command has them already (restore-backup, download-backup share theirs)."""

    def decorate(fn: F) -> F:
        fn = click.option("--repo-env", "repo_env", multiple=True, metavar="NAME=FILE",
                          help="With --repo: backend credential NAME read from FILE into "
                          "restic's environment (repeatable).")(fn)
        fn = click.option("--password-command", metavar="CMD",
                          help="With --repo: the repository password is its stdout.")(fn)
        if passwords:
            fn = click.option("--password-env", metavar="VAR",
                              help="With --repo: the repository password's variable.")(fn)
            fn = click.option("--password-file", metavar="FILE",
                              help="With --repo: the repository password's file.")(fn)
        fn = click.option("--repo", metavar="URL",
                          help="Read this repository without a profile (sets of every "
                          "profile); needs one password option. A borg repository: "
                          "borg:URL (a local one is recognised without it).")(fn)
        return fn

    return decorate


def open_session(profile_ref: str | None, verbose: int, repo: str | None,
                 password_file: str | None, password_command: str | None,
                 password_env: str | None, repo_env: tuple[str, ...]) -> Any:
    """The profile's session, or with --repo one over an in-memory profile."""
    from orchestrator.cli import console
    from orchestrator.profile.repo_access import repo_access

    access = repo_access(repo, profile_ref, password_file, password_command, password_env,
                         repo_env)
    return console.open_session(profile_ref, verbose, access)
