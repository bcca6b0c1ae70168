"""backup-encrypt --to: what is forgotten in the source, and when."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestrator.errors import StrongroomError, UsageError
from orchestrator.models import (
    BackupEncryptRequest,
    BackupSyncResult,
    VerifyCheck,
    VerifyResult,
)
from orchestrator.profile.schema import Profile
from orchestrator.sets import reencrypt


class FakeSession:
    def __init__(self, tmp_path: Path, vault_url: str | None = None) -> None:
        self.profile = Profile.model_validate({"name": "p", "repositories": {
            "local": {"url": str(tmp_path / "a"), "password_file": "/p"},
            "vault": {"url": vault_url or str(tmp_path / "b"), "password_file": "/q"}}})


@pytest.fixture
def forgotten(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []
    monkeypatch.setattr(reencrypt, "backup_sync", lambda session, request, **kwargs: BackupSyncResult(
        source="local", target="vault", created=True, copied=["good-1", "bad-1"], skipped=[],
        snapshots=4))

    def verify(session: Any, request: Any) -> VerifyResult:
        ok = request.backup.startswith("good")
        return VerifyResult(set=request.backup, ok=ok, checks=[
            VerifyCheck(check="stream digests", ok=ok, detail="x"),
            VerifyCheck(check="dependencies", ok=False, detail="not required here")])

    monkeypatch.setattr(reencrypt, "verify_backup", verify)
    monkeypatch.setattr(reencrypt, "_forget",
                        lambda session, source, names: calls.append(names) or names)
    return calls


def test_only_sets_checked_in_the_target_are_forgotten(
        tmp_path: Path, forgotten: list[list[str]]) -> None:
    request = BackupEncryptRequest(all=True, to="vault", forget_source=True)
    with pytest.raises(StrongroomError, match="bad-1: stream digests"):
        reencrypt.backup_encrypt_to(FakeSession(tmp_path), request)  # type: ignore[arg-type]
    assert forgotten == [["good-1"]]


def test_without_forget_source_nothing_is_forgotten(
        tmp_path: Path, forgotten: list[list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    request = BackupEncryptRequest(backup="good-1", to="vault")
    with pytest.raises(StrongroomError):
        reencrypt.backup_encrypt_to(FakeSession(tmp_path), request)  # type: ignore[arg-type]
    assert forgotten == []


@pytest.mark.parametrize("values, message", [
    ({"all": True}, "--to REPO"),
    ({"to": "vault"}, "exactly one of"),
    ({"to": "vault", "all": True, "since": "2026-01-01"}, "got --all, --since"),
    ({"to": "vault", "all": True, "inPlace": True}, "go with --archive"),
    ({"to": "local", "all": True}, "same repository"),
])
def test_bad_requests(tmp_path: Path, forgotten: list[list[str]], values: dict[str, Any],
                      message: str) -> None:
    with pytest.raises(UsageError, match=message):
        reencrypt.backup_encrypt_to(FakeSession(tmp_path),  # type: ignore[arg-type]
                                    BackupEncryptRequest.model_validate(values))
    assert forgotten == []
