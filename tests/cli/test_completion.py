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


def test_set_names_come_from_this_hosts_runs(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.sets.state import RunRecord, StateDir

    profile = tmp_path / "home.toml"
    profile.write_text(f'[repositories.local]\nurl = "{tmp_path}/a"\npassword_env = "PW"\n')
    profile.chmod(0o600)
    monkeypatch.setenv("PW", "x")
    monkeypatch.setenv("STRONGROOM_STATE_DIR", str(tmp_path / "state"))
    state = StateDir(tmp_path / "state")
    for name, status in (("nightly-20261201-020000", "complete"),
                         ("nightly-20261202-020000", "failed"),
                         ("weekly-20261129-010000", "complete")):
        state.save_run(RunRecord(set=name, repository="local", url=f"{tmp_path}/a",
                                 profile="home", type="full", started="2026-12-01T02:00:00+00:00",
                                 status=status))
    assert completions(["verify-backup", "-p", str(profile), "--backup"], "") == [
        "latest", "nightly-20261201-020000", "weekly-20261129-010000"]
    assert completions(["-p", str(profile), "restore-backup", "--backup"], "ni") == [
        "nightly-20261201-020000"]
