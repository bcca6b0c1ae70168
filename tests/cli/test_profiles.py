"""`profile validate` warns about profile paths that do not exist."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from orchestrator.cli import main


def test_validate_warns_about_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "here").mkdir()
    profile = tmp_path / "p.toml"
    profile.write_text(f"""\
[repositories.local]
url = "{tmp_path}/repo"
password_env = "PW"

[config]
here = ["{tmp_path}/here"]
gone = {{ paths = ["{tmp_path}/gone"], missing = "warn" }}
quiet = {{ paths = ["{tmp_path}/quiet"], missing = "skip" }}

[services.web]
data = ["{tmp_path}/web-data"]
""")
    profile.chmod(0o600)
    result = CliRunner(env={"PW": "x"}).invoke(main, ["profile", "validate", str(profile)])
    assert result.exit_code == 0, result.output
    assert f"warning: {tmp_path}/gone (config/gone) does not exist: a backup leaves it out" \
        in result.output
    assert f"warning: {tmp_path}/web-data (services/web/data) does not exist: a backup " \
        "fails" in result.output
    assert "quiet" not in result.output and f"{tmp_path}/here (" not in result.output
    assert f"{profile}: ok" in result.output


def test_a_bad_missing_policy_is_a_profile_error(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text(f'[repositories.local]\nurl = "{tmp_path}/r"\npassword_env = "PW"\n'
                       f'[config]\netc = {{ paths = ["/etc"], missing = "ignore" }}\n')
    profile.chmod(0o600)
    result = CliRunner(env={"PW": "x"}).invoke(main, ["profile", "validate", str(profile)])
    assert result.exit_code == 2 and "missing" in result.output
