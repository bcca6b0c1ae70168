"""A vault's password given for one restore: a file named with --vault-password-file, or
typed at the terminal when the profile's own source for it yields nothing.

Either way the password replaces the vault's password source in a copy of the profile
for this run only, so it reaches the engine the way every repository password does (a
file path, or a pipe for an inline secret): never argv, never the environment."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from pydantic import SecretStr

from orchestrator.engines.passwords import PasswordSource
from orchestrator.errors import StrongroomError, UsageError
from orchestrator.profile.schema import Profile
from orchestrator.profile.vaults import vault_names
from orchestrator.sets.naming import BackupSet
from orchestrator.sets.session import Session
from orchestrator.sets.vault_check import check_vaults

AskPassword = Callable[[str], str]
NO_SOURCE = {"password_command": None, "password_env": None, "password": None,
             "password_file": None}


def parse_vault_password_files(values: Sequence[str]) -> dict[str, str]:
    """`VAULT=FILE` pairs, one per vault."""
    found: dict[str, str] = {}
    for value in values:
        vault, sep, path = value.partition("=")
        if not sep or not vault.strip() or not path.strip():
            raise UsageError(f"--vault-password-file {value!r}: give VAULT=FILE")
        if vault.strip() in found:
            raise UsageError(f"--vault-password-file: {vault.strip()} is given twice")
        found[vault.strip()] = path.strip()
    return found


def with_password_files(profile: Profile, files: Mapping[str, str]) -> Profile:
    """The profile with each named vault reading its password from the given file."""
    known = vault_names(profile)
    for vault, path in files.items():
        if vault not in known:
            shown = ", ".join(sorted(known)) or "none"
            raise UsageError(f"--vault-password-file: {vault} is not a service's own "
                             f"repository (vaults of this profile: {shown})")
        file = Path(path).expanduser().absolute()
        if not file.is_file():
            raise UsageError(f"--vault-password-file: {file} is not a readable file")
        profile = _with_source(profile, vault, {"password_file": file})
    return profile


def with_secret(profile: Profile, vault: str, secret: str) -> Profile:
    return _with_source(profile, vault, {"password": SecretStr(secret)})


def _with_source(profile: Profile, vault: str, source: Mapping[str, object]) -> Profile:
    """A copy of the profile whose vault takes its password from `source` alone."""
    repositories = dict(profile.repositories)
    repositories[vault] = repositories[vault].model_copy(update={**NO_SOURCE, **source})
    return profile.model_copy(update={"repositories": repositories})


def password_missing(profile: Profile, vault: str) -> bool:
    """Whether the profile's source for a vault's password yields nothing (a file that is
    gone, a variable not set, a command that fails)."""
    try:
        PasswordSource(vault, profile.repositories[vault]).secret()
    except StrongroomError:
        return True
    return False


def session_with(session: Session, profile: Profile) -> Session:
    """The session for this run with another profile; the caller's session is unchanged."""
    changed = copy.copy(session)
    changed.profile = profile
    return changed


def ask_for_vaults(session: Session, chosen: BackupSet, ask: AskPassword | None) -> Session:
    """Once per vault of the chosen set that could not be opened for want of its password:
    ask for it, then look at the set's vault parts again with the answers."""
    if ask is None:
        return session
    profile = session.profile
    asked = False
    for vault in chosen.vaults:
        home = chosen.home(vault)
        if vault in chosen.vault_parts or home not in profile.repositories:
            continue
        if password_missing(profile, home):
            profile, asked = with_secret(profile, home, ask(home)), True
    if not asked:
        return session
    chosen.unchecked, chosen.vault_parts = None, {}
    check_vaults(profile, session.state.root, [chosen], chosen.vault_homes)
    return session_with(session, profile)
