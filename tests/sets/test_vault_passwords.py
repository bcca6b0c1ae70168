"""A vault's password given for one restore: --vault-password-file pairs, the profile copy
that reads it, and the terminal's answer when the profile's own source yields nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orchestrator.engines.base import Snapshot
from orchestrator.engines.passwords import PasswordSource
from orchestrator.errors import UsageError
from orchestrator.profile.schema import Profile
from orchestrator.sets import vault_check, vault_passwords
from orchestrator.sets.naming import group_sets, set_tags
from orchestrator.sets.session import Session
from orchestrator.sets.vault_passwords import (
    ask_for_vaults,
    parse_vault_password_files,
    password_missing,
    with_password_files,
)

NAME = "nightly-20261201-030000"
T0 = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def profile(tmp_path: Path) -> Profile:
    return Profile.model_validate({
        "repositories": {"local": {"url": str(tmp_path / "r"),
                                   "password_file": str(tmp_path / "main.pass")},
                         "nc-vault": {"url": str(tmp_path / "v"),
                                      "password_env": "NC_VAULT_PASSWORD_UNSET"}},
        "services": {"nextcloud": {"data": ["/srv/nc"], "repository": "nc-vault"}},
        "state_dir": str(tmp_path / "state"),
    })


def test_pairs_are_vault_equals_file() -> None:
    assert parse_vault_password_files(["nc-vault=/k/nc.pass", " b = c "]) == {
        "nc-vault": "/k/nc.pass", "b": "c"}
    assert parse_vault_password_files([]) == {}
    for bad, message in [("nc-vault", "give VAULT=FILE"), ("=/k", "give VAULT=FILE"),
                         ("nc-vault=", "give VAULT=FILE")]:
        with pytest.raises(UsageError, match=message):
            parse_vault_password_files([bad])
    with pytest.raises(UsageError, match="nc-vault is given twice"):
        parse_vault_password_files(["nc-vault=a", "nc-vault=b"])


def test_a_password_file_replaces_the_vaults_source_for_this_run(tmp_path: Path) -> None:
    given = tmp_path / "nc.pass"
    given.write_text("open sesame\n")
    original = profile(tmp_path)
    changed = with_password_files(original, {"nc-vault": str(given)})
    vault = changed.repositories["nc-vault"]
    assert vault.password_file == given and vault.password_env is None
    assert PasswordSource("nc-vault", vault).secret() == b"open sesame"
    assert original.repositories["nc-vault"].password_env == "NC_VAULT_PASSWORD_UNSET"
    assert changed.repositories["local"] == original.repositories["local"]
    with pytest.raises(UsageError, match="local is not a service's own repository"):
        with_password_files(original, {"local": str(given)})
    with pytest.raises(UsageError, match="is not a readable file"):
        with_password_files(original, {"nc-vault": str(tmp_path / "gone")})


def test_a_missing_password_is_asked_once_and_the_vault_looked_at_again(
        tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("NC_VAULT_PASSWORD_UNSET", raising=False)
    session = Session(profile(tmp_path))
    assert password_missing(session.profile, "nc-vault")
    final = Snapshot("a" * 16, "a" * 2, T0, "web1", ("/x",),
                     tuple(set_tags(NAME, "files", "full", "site", ["nextcloud"])
                           + ["vault=nc-vault"]))
    (entry,) = group_sets([final])
    entry.unchecked = "vault nc-vault cannot be opened: password_env is not set"
    vault_final = Snapshot("b" * 16, "b" * 2, T0, "web1", ("/x",),
                           tuple(set_tags(NAME, "vault", "full", "site")))
    secrets: list[bytes] = []

    def parts(prof: Profile, *args: object) -> dict[str, dict[str, Snapshot]]:
        secrets.append(PasswordSource("nc-vault", prof.repositories["nc-vault"]).secret())
        return {NAME: {"vault": vault_final}}

    monkeypatch.setattr(vault_check, "vault_parts", parts)
    asked: list[str] = []
    opened = ask_for_vaults(session, entry, lambda vault: asked.append(vault) or "typed")
    assert asked == ["nc-vault"] and secrets == [b"typed"]
    assert entry.unchecked is None and entry.vault_parts == {"nc-vault": {"vault": vault_final}}
    assert opened is not session and opened.profile.repositories["nc-vault"].password_env is None
    assert session.profile.repositories["nc-vault"].password_env == "NC_VAULT_PASSWORD_UNSET"
    # Read now: nothing is asked again; without a prompt (not a terminal) nothing is asked.
    assert ask_for_vaults(opened, entry, lambda vault: asked.append(vault) or "x") is opened
    assert asked == ["nc-vault"]
    assert ask_for_vaults(session, entry, None) is session


def test_a_vault_that_fails_for_another_reason_is_not_asked_for(
        tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("NC_VAULT_PASSWORD_UNSET", "present")
    session = Session(profile(tmp_path))
    final = Snapshot("a" * 16, "a" * 2, T0, "web1", ("/x",),
                     tuple(set_tags(NAME, "files", "full", "site", ["nextcloud"])
                           + ["vault=nc-vault"]))
    (entry,) = group_sets([final])
    entry.unchecked = "vault nc-vault cannot be opened: repository does not exist"
    monkeypatch.setattr(vault_passwords, "check_vaults", pytest.fail)
    assert ask_for_vaults(session, entry, lambda vault: pytest.fail("asked")) is session
