"""The set commands read the request's own spellings: --service, --type MODE, --flag=BOOL."""

from __future__ import annotations

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

    monkeypatch.setattr(console, "open_session", lambda *args, **kwargs: object())
    monkeypatch.setattr(console, "call", call)
    return seen


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
    from types import SimpleNamespace

    session = SimpleNamespace(profile=SimpleNamespace(services={"web": 1, "db": 2}))
    monkeypatch.setattr(console, "open_session", lambda *args, **kwargs: session)
    assert run(["create-backup", "--type=full", "--services=all"]).exit_code == 0
    assert calls[0][1].services == ["web", "db"]
