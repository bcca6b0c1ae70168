"""The set commands read the request's own spellings: --service, --type MODE, --flag=BOOL."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from orchestrator.cli import console, main


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, BaseModel]]:
    """Each tool call's request; the call itself ends the command."""
    seen: list[tuple[str, BaseModel]] = []

    def call(session: Any, tool: str, request: BaseModel, progress: Any = None) -> Any:
        seen.append((tool, request))
        raise SystemExit(0)

    monkeypatch.setattr(console, "open_session", lambda *args, **kwargs: SESSION)
    monkeypatch.setattr(console, "call", call)
    return seen


SESSION = SimpleNamespace(ask_vault_password=None)


def run(args: list[str]) -> Any:
    return CliRunner().invoke(main, args)


def test_create_backup_service_means_type_service(calls: list[tuple[str, Any]]) -> None:
    result = run(["create-backup", "--service=nextcloud", "--include-data=true",
                  "--encrypt=true", "--verify=true"])
    assert result.exit_code == 0, result.output
    request = calls[0][1]
    assert (request.type, request.services, request.include_data) == (
        "service", ["nextcloud"], True)


def test_create_backup_service_with_another_type_is_refused(calls: list[Any]) -> None:
    result = run(["create-backup", "--type", "full", "--service", "nextcloud"])
    assert result.exit_code == 2 and "--service means --type service" in result.output
    assert not calls


def test_create_backup_flag_false(calls: list[tuple[str, Any]]) -> None:
    assert run(["create-backup", "--verify=false", "--compress=no"]).exit_code == 0
    request = calls[0][1]
    assert (request.verify, request.compress) == (False, False)


@pytest.mark.parametrize("mode", ["config-only", "full-rebuild", "selective"])
def test_restore_type_mode_is_the_mode(calls: list[tuple[str, Any]], mode: str) -> None:
    result = run(["restore-backup", f"--type={mode}", "--backup=disaster-recovery-20241201",
                  "--dry-run=true"])
    assert result.exit_code == 0, result.output
    request = calls[0][1]
    assert (request.mode, request.type, request.backup, request.dry_run) == (
        mode, None, "disaster-recovery-20241201", True)


def test_restore_type_and_other_mode_is_refused(calls: list[Any]) -> None:
    result = run(["restore-backup", "--type", "config-only", "--mode", "selective"])
    assert result.exit_code == 2 and "--mode selective was given too" in result.output


def test_restore_set_type_still_filters(calls: list[tuple[str, Any]]) -> None:
    assert run(["restore-backup", "--type", "full", "--timestamp",
                "2024-12-20T10:00:00Z"]).exit_code == 0
    assert calls[0][1].type == "full" and calls[0][1].mode == "full-rebuild"


def test_bad_name_is_explained(calls: list[Any]) -> None:
    result = run(["create-backup", "--name", "my backup"])
    assert result.exit_code == 2
    assert "may hold only letters, digits" in result.output and "^[" not in result.output


def test_services_all_is_every_service(calls: list[tuple[str, Any]],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    session = SimpleNamespace(profile=SimpleNamespace(services={"web": 1, "db": 2}))
    monkeypatch.setattr(console, "open_session", lambda *args, **kwargs: session)
    assert run(["create-backup", "--type=full", "--services=all"]).exit_code == 0
    assert calls[0][1].services == ["web", "db"]


def test_vault_password_files_reach_the_request_and_no_prompt_is_set(
        calls: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "vault_password_prompt", lambda: pytest.fail("prompt set"))
    result = run(["restore-backup", "--backup=latest", "--vault-password-file",
                  "nc-vault=/k/nc.pass", "--vault-password-file=b-vault=/k/b.pass"])
    assert result.exit_code == 0, result.output
    assert calls[0][1].vault_password_files == {"nc-vault": "/k/nc.pass", "b-vault": "/k/b.pass"}


def test_without_vault_password_files_a_terminal_prompt_is_set(
        calls: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    def ask(vault: str) -> str:
        return "typed"

    session = SimpleNamespace(ask_vault_password=None)
    monkeypatch.setattr(console, "open_session", lambda *args, **kwargs: session)
    monkeypatch.setattr(console, "vault_password_prompt", lambda: ask)
    assert run(["restore-backup", "--backup=latest"]).exit_code == 0
    assert session.ask_vault_password is ask and calls[0][1].vault_password_files == {}


@pytest.mark.parametrize("value", ["nc-vault", "=x", "nc-vault="])
def test_a_bad_vault_password_file_is_a_usage_error(calls: list[Any], value: str) -> None:
    result = run(["restore-backup", "--backup=latest", "--vault-password-file", value])
    assert result.exit_code == 2 and "give VAULT=FILE" in result.output and not calls
