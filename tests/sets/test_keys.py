"""key rotate's steps against a repository model: interrupted before any step, the
repository opens with the old or the new password and the next rotate finishes."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from orchestrator.engines.base import KeyInfo
from orchestrator.errors import StrongroomError, UsageError
from orchestrator.models import KeyChangeRequest
from orchestrator.profile.schema import Profile
from orchestrator.sets import keys
from orchestrator.sets.state import StateDir

STEPS = ("choose_new", "add_key", "keep_previous", "install_new", "verify", "remove_old",
         "forget_previous")


class FakeRepository:
    """A repository's keys: id → password. Opening reads a password file as restic does."""

    def __init__(self, password: bytes) -> None:
        self.keys: dict[str, bytes] = {secrets.token_hex(4): password}

    def opens(self, password_file: Path) -> str | None:
        if not password_file.exists():
            return None
        secret = password_file.read_bytes().strip()
        return next((key for key, value in self.keys.items() if value == secret), None)


class FakeEngine:
    def __init__(self, repo: FakeRepository, password_file: Path) -> None:
        self.repo = repo
        self.password_file = password_file

    def key_list(self) -> list[KeyInfo]:
        current = self.repo.opens(self.password_file)
        if current is None:
            raise keys.WrongPassword("wrong password")
        return [KeyInfo(key, "u", "h", "2026-01-01 00:00:00", key == current)
                for key in self.repo.keys]

    def key_add(self, new_password_file: Path, **_: Any) -> None:
        self.key_list()
        self.repo.keys[secrets.token_hex(4)] = new_password_file.read_bytes().strip()

    def key_remove(self, key_id: str) -> None:
        assert self.repo.opens(self.password_file) != key_id, "restic refuses this"
        del self.repo.keys[key_id]


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, FakeRepository, Path]:
    password = tmp_path / "repo.pass"
    password.write_bytes(b"old secret\n")
    profile = Profile.model_validate({
        "name": "p", "repositories": {"local": {"url": str(tmp_path / "r"),
                                                "password_file": str(password)}}})
    repo = FakeRepository(b"old secret")

    class Session:
        def __init__(self) -> None:
            self.profile = profile
            self.state = StateDir(tmp_path / "state")

        def engine(self, name: str | None) -> tuple[str, FakeEngine]:
            return "local", FakeEngine(repo, password)

    monkeypatch.setattr(keys, "engine_with_password",
                        lambda session, name, repository, path: FakeEngine(repo, path))
    return Session(), repo, password


def test_rotate_replaces_the_password_and_removes_the_old_key(setup: Any) -> None:
    session, repo, password = setup
    (old_id,) = repo.keys
    result = keys.key_rotate(session, KeyChangeRequest())
    assert result.removed == [old_id] and result.added in repo.keys and not result.resumed
    assert list(repo.keys) == [result.added]
    new = password.read_bytes().strip()
    assert new != b"old secret" and len(new) == 44  # 32 bytes, base64
    assert password.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in password.parent.iterdir() if p.is_file()) == ["repo.pass"]


@pytest.mark.parametrize("step", STEPS)
def test_rotate_interrupted_before_each_step_is_finished_by_the_next(
        setup: Any, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    session, repo, password = setup

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(keys, step, killed)
        with pytest.raises(KeyboardInterrupt):
            keys.key_rotate(session, KeyChangeRequest())
    candidates = [password, keys.sibling(password, ".new"), keys.sibling(password, ".previous")]
    assert any(repo.opens(path) for path in candidates), step
    assert repo.opens(password) or repo.opens(keys.sibling(password, ".previous"))

    result = keys.key_rotate(session, KeyChangeRequest())
    assert result.resumed == (step != "choose_new")
    assert len(repo.keys) == 1 and repo.opens(password) == result.added
    assert password.read_bytes().strip() != b"old secret"
    assert sorted(p.name for p in password.parent.iterdir() if p.is_file()) == ["repo.pass"]


def test_rotate_takes_a_given_password_and_refuses_another_mid_rotation(
        setup: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    session, repo, password = setup
    given = tmp_path / "given"
    given.write_text("chosen one\n")
    other = tmp_path / "other"
    other.write_text("another\n")
    with monkeypatch.context() as patch:
        patch.setattr(keys, "install_new", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
        with pytest.raises(KeyboardInterrupt):
            keys.key_rotate(session, KeyChangeRequest(new_password_file=str(given)))
    with pytest.raises(UsageError, match="half done"):
        keys.key_rotate(session, KeyChangeRequest(new_password_file=str(other)))
    keys.key_rotate(session, KeyChangeRequest(new_password_file=str(given)))
    assert password.read_bytes().strip() == b"chosen one" and len(repo.keys) == 1


def test_rotate_refuses_a_password_that_does_not_open_and_an_unreadable_new_one(
        setup: Any, tmp_path: Path) -> None:
    session, repo, password = setup
    with pytest.raises(UsageError, match="cannot read"):
        keys.key_rotate(session, KeyChangeRequest(new_password_file=str(tmp_path / "none")))
    password.write_text("not the password\n")
    with pytest.raises(StrongroomError, match="does not open"):
        keys.key_rotate(session, KeyChangeRequest())
    assert not keys.sibling(password, ".new").exists() and len(repo.keys) == 1


def test_key_remove_refuses_the_key_in_use(setup: Any) -> None:
    session, repo, password = setup
    (old_id,) = repo.keys
    with pytest.raises(UsageError, match="cannot be removed"):
        keys.key_remove(session, KeyChangeRequest(key_id=old_id))
    with pytest.raises(UsageError, match="no key"):
        keys.key_remove(session, KeyChangeRequest(key_id="ffff0000"))


def test_rotate_refuses_a_password_file_that_is_a_symlink(setup: Any, tmp_path: Path) -> None:
    session, repo, password = setup
    real = tmp_path / "real.pass"
    password.rename(real)
    password.symlink_to(real)
    with pytest.raises(UsageError, match="symlink"):
        keys.key_rotate(session, KeyChangeRequest())
    assert password.is_symlink() and len(repo.keys) == 1
