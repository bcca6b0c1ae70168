"""The exit-code table (README "Exit codes"), walked through the refusals the CLI makes.

0 ok, 1 failure, 2 bad usage/profile/input, 3 would overwrite, 4 refused by access
rules, 75 locked, 130/143 interrupted. No repository is needed: each refusal comes
before one would be opened."""

from __future__ import annotations

import fcntl
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.run.signals import Terminated

PROFILE = """\
lock_wait = "0s"

[repositories.local]
url = "{root}/repo"
password_env = "TINY_PW"

[config.etc]
paths = ["{root}/src"]

[services.web]
config = ["{root}/src"]

[access.roles.reader]
tools = ["list-backups"]
"""


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a").write_text("a\n")
    profile = tmp_path / "tiny.toml"
    profile.write_text(PROFILE.format(root=tmp_path))
    profile.chmod(0o600)
    monkeypatch.setenv("TINY_PW", "secret")
    monkeypatch.setenv("STRONGROOM_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    return profile


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def code_and_text(result: Any) -> tuple[int, str]:
    return result.exit_code, result.output


# (what, arguments, exit code, words in the message); {p} is the tiny profile
REFUSALS: list[tuple[str, list[str], int, str]] = [
    ("unknown option", ["list-backups", "--nosuch"], 2, "No such option"),
    ("unknown command", ["list-backup"], 2, "No such command"),
    ("bad choice", ["-p", "{p}", "create-backup", "--type", "nosuch"], 2, "nosuch"),
    ("bad boolean word", ["-p", "{p}", "restore-backup", "--dry-run=maybe"], 2,
     "give true or false"),
    ("missing profile name", ["-p", "nosuch", "list-backups"], 2, "no profile named 'nosuch'"),
    ("missing profile file", ["-p", "./nosuch.toml", "list-backups"], 2, "no profile file"),
    ("unknown destination", ["-p", "{p}", "init", "--destination", "nosuch"], 2,
     "no repository named 'nosuch'"),
    ("unknown service", ["-p", "{p}", "create-backup", "--service", "nosuch"], 2,
     "unknown service"),
    ("bad set name", ["-p", "{p}", "create-backup", "--name", "a b"], 2,
     "may hold only letters"),
    ("include-data without service type", ["-p", "{p}", "create-backup", "--services", "web",
                                           "--include-data"], 2, "--type service"),
    ("--service with another type", ["-p", "{p}", "create-backup", "--type", "full",
                                     "--service", "web"], 2, "--service means --type service"),
    ("--type mode against --mode", ["-p", "{p}", "restore-backup", "--type", "config-only",
                                    "--mode", "selective"], 2, "--mode selective"),
    ("refused by the role", ["-p", "{p}", "--role", "reader", "create-backup"], 4,
     "may not use create-backup"),
    ("role given after the command", ["-p", "{p}", "create-backup", "--role", "reader"], 4,
     "may not use create-backup"),
    ("missing repository", ["-p", "{p}", "list-backups"], 1, "no restic repository"),
]


@pytest.mark.parametrize(("args", "code", "words"), [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_refusal_codes(tiny: Path, args: list[str], code: int, words: str) -> None:
    exit_code, output = code_and_text(run(*[a.format(p=tiny) for a in args]))
    assert exit_code == code, output
    assert words in output
    assert "Traceback" not in output


def test_bad_profile_is_2(tiny: Path) -> None:
    tiny.write_text("[repositories.local]\nurl = 3\n")
    exit_code, output = code_and_text(run("-p", str(tiny), "list-backups"))
    assert exit_code == 2 and "the profile has" in output


def test_would_overwrite_is_3(tiny: Path) -> None:
    (tiny.parent / "x.tar.gz.enc").write_bytes(b"not really")
    (tiny.parent / "x.tar.gz").write_text("there already")
    (tiny.parent / "pw").write_text("pw\n")
    exit_code, output = code_and_text(run("decrypt", "x.tar.gz.enc", "--password-file", "pw"))
    assert exit_code == 3 and "--force" in output
    assert (tiny.parent / "x.tar.gz").read_text() == "there already"


def test_locked_is_75(tiny: Path) -> None:
    lock = tiny.parent / "state" / "locks" / "tiny.lock"
    lock.parent.mkdir(parents=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, b"4242\n")
        exit_code, output = code_and_text(run("-p", str(tiny), "create-backup"))
    finally:
        os.close(fd)
    assert exit_code == 75 and "in progress (PID 4242)" in output


@pytest.mark.parametrize(("stop", "code", "words"), [
    (KeyboardInterrupt(), 130, "interrupted"),
    (Terminated(signal.SIGTERM), 143, "terminated by SIGTERM"),
])
def test_interrupted(tiny: Path, monkeypatch: pytest.MonkeyPatch, stop: BaseException,
                     code: int, words: str) -> None:
    from orchestrator.cli import console

    def stopped(*args: Any, **kwargs: Any) -> Any:
        raise stop

    monkeypatch.setattr(console, "open_session", stopped)
    exit_code, output = code_and_text(run("-p", str(tiny), "list-backups"))
    assert exit_code == code and words in output


def test_ok_is_0(tiny: Path) -> None:
    assert run("-p", str(tiny), "profile", "validate").exit_code == 0


def test_hints_name_the_profile(tiny: Path) -> None:
    output = run("list-backups", "-p", str(tiny)).output
    assert f"hint: create it with: strongroom -p {tiny} init --destination local" in output
    output = run("list-backups", "-p", str(tiny), "--role", "reader").output
    assert f"strongroom -p {tiny} init" in output
