"""`strongroom completion SHELL` and what it completes: commands, profiles, repositories."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.shell_completion import BashComplete
from click.testing import CliRunner

from orchestrator.cli import main


@pytest.mark.parametrize(("shell", "words"), [
    ("bash", "_STRONGROOM_COMPLETE=bash_complete"),
    ("zsh", "compdef"),
    ("fish", "complete --no-files --command strongroom"),
])
def test_completion_scripts(shell: str, words: str) -> None:
    result = CliRunner().invoke(main, ["completion", shell])
    assert result.exit_code == 0 and words in result.output


def test_an_unknown_shell_is_a_usage_error() -> None:
    assert CliRunner().invoke(main, ["completion", "tcsh"]).exit_code == 2


def completions(args: list[str], incomplete: str) -> list[str]:
    completer = BashComplete(main, {}, "strongroom", "_STRONGROOM_COMPLETE")
    return [item.value for item in completer.get_completions(args, incomplete)]


def test_commands_profiles_and_repositories(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "profiles-here"
    folder.mkdir()
    for name in ("home", "work"):
        profile = folder / f"{name}.toml"
        profile.write_text(f'[repositories.local]\nurl = "{tmp_path}/a"\npassword_env = "PW"\n'
                           f'[repositories.offsite]\nurl = "{tmp_path}/b"\n'
                           'password_env = "PW"\n')
        profile.chmod(0o600)
    monkeypatch.setenv("STRONGROOM_PROFILE_DIR", str(folder))
    monkeypatch.setenv("PW", "x")
    monkeypatch.chdir(tmp_path)
    assert "list-backups" in completions([], "list-")
    assert completions(["-p"], "") == ["home", "work"]
    assert completions(["list-backups", "-p"], "w") == ["work"]
    assert completions(["-p", "home", "list-backups", "--destination"], "") == [
        "local", "offsite"]
    assert completions(["backup-sync", "-p", "home", "--to"], "off") == ["offsite"]
    assert completions(["list-backups", "--destination"], "") == []  # two profiles: none
