"""What the console prints: long conflict lists are cut with a count."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from orchestrator.cli.console import render_restore
from orchestrator.errors import UsageError
from orchestrator.models import RestoreResult


def restore_result(conflicts: int) -> RestoreResult:
    return RestoreResult(
        set="s-20241220-143022", id="abcd1234", mode="full-rebuild", target="/", dry_run=True,
        plan=[], files=0, bytes=0, restored=False, verified=False, duration=0.0,
        conflicts=[f"/srv/file{i}" for i in range(conflicts)],
        time=datetime(2024, 12, 20, tzinfo=UTC))


def test_conflicts_beyond_twenty_are_counted() -> None:
    text = render_restore(restore_result(29))
    assert "29 existing path(s) would be overwritten" in text
    assert "/srv/file19" in text and "/srv/file20" not in text
    assert "… and 9 more (--json lists them all)" in text


def test_twenty_conflicts_are_all_shown() -> None:
    text = render_restore(restore_result(20))
    assert "/srv/file19" in text and "more" not in text


def test_a_restore_plan_names_what_a_vault_it_cannot_read_holds() -> None:
    result = restore_result(0)
    result.unreadable = ["nc-vault: services/nextcloud/data (vault nc-vault cannot be opened)"]
    assert "    nc-vault: services/nextcloud/data (vault nc-vault cannot be opened)" in \
        render_restore(result)


def test_the_list_shows_the_keys_each_set_needs() -> None:
    from orchestrator.cli.console import render_list
    from orchestrator.models import BackupSetInfo, ListBackupsResult

    def info(name: str, repositories: list[str], status: str = "complete",
             problem: str | None = None) -> BackupSetInfo:
        return BackupSetInfo.model_validate({
            "set": name, "id": "abcd1234", "name": "full", "type": "full", "profile": "site",
            "host": "web1", "time": datetime(2024, 12, 20, tzinfo=UTC), "services": [],
            "parts": 1, "size": 10, "status": status, "problem": problem,
            "repositories": repositories})

    text = render_list(ListBackupsResult(destination="local", backups=[
        info("full-20241220-000000", ["local", "nc-vault"], "unchecked",
             "vault nc-vault cannot be opened: no key"),
        info("full-20241221-000000", ["local"])]))
    header, first, second = text.splitlines()[:3]
    assert header.split()[-3:] == ["KEYS", "STATUS", "DRILL"]
    assert first.split()[-3:] == ["local,nc-vault", "unchecked", "never"]
    assert second.split()[-3:] == ["local", "complete", "never"]
    assert "  full-20241220-000000: unchecked: vault nc-vault cannot be opened: no key" in text


def test_a_vault_password_is_asked_only_at_a_terminal(monkeypatch: Any) -> None:
    import click

    from orchestrator.cli import console

    monkeypatch.setattr(console.sys.stdin, "isatty", lambda: False, raising=False)
    assert console.vault_password_prompt() is None
    monkeypatch.setattr(console.sys.stdin, "isatty", lambda: True, raising=False)
    prompts: list[tuple[str, bool]] = []

    def prompt(text: str, hide_input: bool, **kwargs: Any) -> str:
        prompts.append((text, hide_input))
        return answers.pop(0)

    answers = ["s3cret", ""]
    monkeypatch.setattr(click, "prompt", prompt)
    ask = console.vault_password_prompt()
    assert ask is not None and ask("nc-vault") == "s3cret"
    assert prompts == [("password for vault nc-vault", True)]
    with pytest.raises(UsageError, match="the password is empty"):
        ask("nc-vault")


@pytest.mark.parametrize("count", [0, 1, 99, 100, 101, 2500])
def test_json_of_conflicts_held_on_disk_is_what_pydantic_writes(
        count: int, capsys: pytest.CaptureFixture[str]) -> None:
    from orchestrator.cli.console import echo_json

    odd = ['/srv/a "quoted" \\ back', "/srv/new\nline\ttab\x01\x7f", "/srv/ünï €\u2028"]
    result = restore_result(0)
    result.conflicts.extend(f"/srv/{i}" if i % 7 else odd[i % 3] for i in range(count))
    result.unreadable = ["vault: part (why)"]
    expected = result.model_copy(update={"conflicts": list(result.conflicts)}) \
        .model_dump_json(indent=2) + "\n"
    echo_json(result, batch=64)
    assert capsys.readouterr().out == expected
    assert len(result.conflicts) == count
