"""The global options go before or after every command; boolean flags take =BOOL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.cli.main import COMMANDS as FAMILY_OF
from orchestrator.cli.main import load_families
from orchestrator.cli.options import StrongroomGroup, bool_values, global_value


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found += _commands(command, path)
    return found


load_families()
COMMANDS = _commands(main)
GLOBALS = ["-p", "home", "-v", "--json", "--role", "operator"]


def test_every_command_is_listed() -> None:
    assert ("list-backups",) in COMMANDS and ("profile", "validate") in COMMANDS
    assert len(COMMANDS) > 30


def test_an_unknown_name_loads_every_family_for_the_suggestions() -> None:
    code = ("import click\nfrom orchestrator.cli import main\n"
            "from orchestrator.cli.main import COMMANDS\n"
            "assert main.get_command(click.Context(main), 'downlod-backup') is None\n"
            "print(sorted(main.commands) == sorted(COMMANDS))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.split() == ["True"]


def test_each_command_is_in_the_module_the_table_names() -> None:
    defined = {name: command.callback.__module__ if command.callback else ""
               for name, command in main.commands.items()}
    assert defined == {name: f"orchestrator.cli.{family}" for name, family in FAMILY_OF.items()}


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("before", [True, False], ids=["before", "after"])
def test_global_options_in_both_positions(path: tuple[str, ...], before: bool) -> None:
    args = [*GLOBALS, *path, "--help"] if before else [*path, *GLOBALS, "--help"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "No such option" not in result.output


@pytest.mark.parametrize("path", [p for p in COMMANDS if not isinstance(
    main.commands[p[0]], click.Group) or len(p) > 1], ids=" ".join)
def test_global_options_shown_once(path: tuple[str, ...]) -> None:
    output = CliRunner().invoke(main, [*path, "--help"]).output
    assert output.count("-p, --profile") == 1 and output.count("--role NAME") == 1
    assert "Global options" in output


def _probe_group() -> click.Group:
    @click.group(cls=StrongroomGroup)
    def probe() -> None:
        pass

    @probe.command()
    @click.option("--force", is_flag=True)
    @click.option("--verify/--no-verify", default=True)
    @click.argument("things", nargs=-1)
    def show(force: bool, verify: bool, things: tuple[str, ...], profile_ref: str | None,
             verbose: int, as_json: bool) -> None:
        click.echo(f"{profile_ref} {verbose} {as_json} {global_value('role')} "
                   f"{force} {verify} {list(things)}")

    return probe


@pytest.mark.parametrize(("args", "shown"), [
    (["show"], "None 0 False None False True []"),
    (["-p", "a", "show"], "a 0 False None False True []"),
    (["show", "-p", "a"], "a 0 False None False True []"),
    (["-p", "a", "show", "-p", "b"], "b 0 False None False True []"),
    (["-v", "show", "-vv"], "None 3 False None False True []"),
    (["--json", "--role", "r", "show"], "None 0 True r False True []"),
    (["show", "--json", "--role", "r"], "None 0 True r False True []"),
    (["show", "--force=true", "--verify=no"], "None 0 False None True False []"),
    (["show", "--force=0", "--verify=YES"], "None 0 False None False True []"),
    (["show", "--no-verify=false"], "None 0 False None False True []"),
    (["show", "--no-verify=1"], "None 0 False None False False []"),
    (["--json=false", "show", "--json=1"], "None 0 True None False True []"),
    (["--json", "show", "--json=false"], "None 0 False None False True []"),
    (["--json", "show", "--no-json"], "None 0 False None False True []"),
    (["show", "--force", "x", "--", "--force=false"],
     "None 0 False None True True ['x', '--force=false']"),
])
def test_merged_values(args: list[str], shown: str) -> None:
    result = CliRunner().invoke(_probe_group(), args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == shown


def test_environment_loses_to_the_command_line() -> None:
    env = {"STRONGROOM_PROFILE": "env", "STRONGROOM_ROLE": "env-role"}
    result = CliRunner(env=env).invoke(_probe_group(), ["show"])
    assert result.output.strip() == "env 0 False env-role False True []"
    result = CliRunner(env=env).invoke(_probe_group(), ["-p", "cli", "show", "--role", "r"])
    assert result.output.strip() == "cli 0 False r False True []"


def test_bad_bool_word_is_a_usage_error() -> None:
    result = CliRunner().invoke(_probe_group(), ["show", "--force=maybe"])
    assert result.exit_code == 2
    assert "--force=maybe: give true or false" in result.output


def test_a_value_option_keeps_a_bool_looking_value() -> None:
    params = [click.Option(["--name"]), click.Option(["--force"], is_flag=True)]
    assert bool_values(params, ["--name", "--force=true", "--force=no"], False) == [
        "--name", "--force=true"]


@pytest.mark.parametrize("before", [True, False])
def test_profile_show_in_both_positions(tmp_path: Path, before: bool) -> None:
    profile = tmp_path / "tiny.toml"
    profile.write_text(f'[repositories.local]\nurl = "{tmp_path}/repo"\n'
                       'password_env = "TINY_PW"\n')
    profile.chmod(0o600)
    opts = ["-p", str(profile), "--json"]
    args = [*opts, "profile", "show"] if before else ["profile", "show", *opts]
    result = CliRunner(env={"TINY_PW": "secret"}).invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f'"url": "{tmp_path}/repo"' in result.output


@pytest.mark.parametrize("path", [p for p in COMMANDS if not isinstance(
    main.commands[p[0]], click.Group) or len(p) > 1], ids=" ".join)
def test_both_positions_behave_the_same(path: tuple[str, ...], tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Run for real with a profile that does not exist: the same outcome either way."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STRONGROOM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path))
    options = ["-p", "./nosuch.toml", "--role", "reader"]
    before = CliRunner().invoke(main, [*options, *path])
    after = CliRunner().invoke(main, [*path, *options])
    assert (before.exit_code, before.output) == (after.exit_code, after.output)
    assert before.exit_code != 0 or path == ("profile", "schema")
    if before.exit_code == 2 and "Usage:" not in before.output:
        assert "no profile file at ./nosuch.toml" in before.output


@pytest.mark.parametrize(("args", "hint"), [
    (["restore-backup", "--mode", "confg-only"], "Did you mean 'config-only'?"),
    (["download-backup", "--format", "tar.zx"], "Did you mean 'tar.xz'?"),
])
def test_a_near_miss_value_gets_the_nearest_choice(args: list[str], hint: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert hint in result.output


def test_a_value_near_nothing_gets_no_guess() -> None:
    result = CliRunner().invoke(main, ["download-backup", "--format", "qqqqqq"])
    assert result.exit_code == 2
    assert "is not one of" in result.output and "Did you mean" not in result.output


def test_every_option_of_every_command_says_what_it_does() -> None:
    ctx = click.Context(main)
    bare: list[str] = []

    def walk(group: click.Group, path: str) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            if isinstance(command, click.Group):
                walk(command, f"{path}{name} ")
                continue
            bare.extend(f"{path}{name} {param.opts[0]}" for param in command.params
                        if isinstance(param, click.Option) and not param.help)

    walk(main, "")
    assert bare == []
