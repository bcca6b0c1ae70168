"""Reading a repository without its profile: `--repo URL` and a password source, as
`restic -r` takes them.

The options become an in-memory Profile with one repository named "repo", no config, no
services, and its profile-free flag set. Every operation (list, restore, verify, export,
compare) then runs unchanged on it: they all start from a profile's repository, and the
URL goes through the same table (profile/urls.py, engines/destinations.py) and password
handling as a profile's. Listing differs only in not filtering by `profile=`.

A borg repository is named `borg:PATH` or `borg:ssh://user@host[:port]/path`; a local
folder that holds a borg repository (its `config` opens with `[repository]`) is known
as one without the prefix.

The options are the CLI's alone: an MCP caller never reaches this module, so it cannot
point strongroom at another repository or have it run a password command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from orchestrator.errors import UsageError
from orchestrator.profile.schema import Profile, Repository, SecretSource
from orchestrator.profile.urls import check_borg_url, kind_of

REPO_NAME = "repo"
PROFILE_NAME = "repo"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class RepoAccess:
    url: str
    password_file: Path | None = None
    password_command: str | None = None
    password_env: str | None = None
    env: tuple[tuple[str, Path], ...] = ()
    engine: str = "restic"


def repo_access(
    repo: str | None, profile_ref: str | None, password_file: str | None = None,
    password_command: str | None = None, password_env: str | None = None,
    repo_env: tuple[str, ...] = (),
) -> RepoAccess | None:
    """The checked `--repo` options, or None when they are not used (a profile is)."""
    passwords = {"--password-file": password_file, "--password-command": password_command,
                 "--password-env": password_env}
    given = [option for option, value in passwords.items() if value]
    if repo is None:
        if given or repo_env:
            what = ", ".join(given + (["--repo-env"] if repo_env else []))
            raise UsageError(f"{what}: only with --repo URL")
        return None
    if profile_ref:
        raise UsageError("give --repo or --profile, not both (--repo reads a repository "
                         "without a profile; STRONGROOM_PROFILE counts as --profile)")
    if len(given) != 1:
        raise UsageError("--repo needs exactly one of --password-file, --password-command, "
                         f"--password-env{' (got ' + ', '.join(given) + ')' if given else ''}")
    engine, url = engine_of(repo)
    return RepoAccess(
        engine=engine, url=url, password_file=Path(password_file) if password_file else None,
        password_command=password_command or None, password_env=password_env or None,
        env=tuple(_env_entry(entry) for entry in repo_env),
    )


def engine_of(repo: str) -> tuple[str, str]:
    """The engine and URL `--repo` names; a URL no engine takes is a usage error, said
    once."""
    if repo.startswith("borg:"):
        url = repo.removeprefix("borg:")
        check_borg_url(url)
        return "borg", url
    if kind_of(repo) == "local":
        config = Path(repo.removeprefix("local:").removeprefix("file://")).expanduser() / \
            "config"
        try:
            with config.open("rb") as handle:
                if handle.read(12) == b"[repository]":
                    return "borg", repo
        except OSError:
            pass
    return "restic", repo


def _env_entry(entry: str) -> tuple[str, Path]:
    name, sep, file = entry.partition("=")
    if not sep or not ENV_NAME.match(name) or not file:
        raise UsageError(f"--repo-env {entry!r}: give NAME=FILE (the file holds the value)")
    return name, Path(file)


def profile_free(access: RepoAccess) -> Profile:
    """A profile holding only the repository; its flag lists sets of every profile."""
    repository = Repository(
        engine="borg" if access.engine == "borg" else "restic",
        url=access.url, password_file=access.password_file,
        password_command=access.password_command, password_env=access.password_env,
        env={name: SecretSource(file=file) for name, file in access.env},
    )
    profile = Profile(name=PROFILE_NAME, repositories={REPO_NAME: repository})
    profile._profile_free = True
    return profile
