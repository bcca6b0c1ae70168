"""backup-encrypt --archive: plain exports in, encrypted ones out, the same members inside."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from orchestrator.errors import ConflictError, UsageError
from orchestrator.export import envelope
from orchestrator.export.encrypt import encrypt_archive
from orchestrator.export.envelope import decrypt_stream
from orchestrator.models import BackupEncryptRequest
from tests.export.archives import PASSWORD, build, consume


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envelope, "SCRYPT", (10, 8, 1))


def request(archive: Path, **values: object) -> BackupEncryptRequest:
    return BackupEncryptRequest.model_validate(
        {"archive": str(archive), "password": SecretStr(PASSWORD.decode()), **values})


@pytest.mark.parametrize("fmt", ["zip", "std.zip"])
def test_a_zip_becomes_an_aes_zip_with_the_same_members(tmp_path: Path, fmt: str) -> None:
    plain = tmp_path / "export.zip"
    plain.write_bytes(build(fmt))
    result = encrypt_archive(request(plain))
    output = tmp_path / "export.encrypted.zip"
    assert result.output == str(output) and result.encryption == "aes-zip"
    assert output.stat().st_mode & 0o777 == 0o600
    members = consume(output)
    assert [m[:4] for m in members] == [m[:4] for m in consume(plain, None)]
    with pytest.raises(UsageError):
        consume(output, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.encrypted.zip", "export.zip"]


@pytest.mark.parametrize("fmt", ["tar.gz", "tar.xz", "tar"])
def test_a_tar_goes_whole_into_the_envelope(tmp_path: Path, fmt: str) -> None:
    plain = tmp_path / f"export.{fmt}"
    plain.write_bytes(build(fmt))
    result = encrypt_archive(request(plain))
    output = Path(str(plain) + ".enc")
    assert result.output == str(output) and result.encryption == "envelope"
    with open(output, "rb") as handle:
        assert b"".join(decrypt_stream(handle, PASSWORD)) == plain.read_bytes()


def test_in_place_replaces_the_archive(tmp_path: Path) -> None:
    plain = tmp_path / "export.tar.gz"
    original = build("tar.gz")
    plain.write_bytes(original)
    encrypt_archive(request(plain, inPlace=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.tar.gz"]
    with open(plain, "rb") as handle:
        assert b"".join(decrypt_stream(handle, PASSWORD)) == original


def test_refusals_leave_nothing_behind(tmp_path: Path) -> None:
    plain = tmp_path / "export.tar.gz"
    plain.write_bytes(build("tar.gz"))
    encrypted = tmp_path / "done.tar.gz.enc"
    encrypted.write_bytes(build("tar.gz.enc"))
    aes = tmp_path / "aes.zip"
    aes.write_bytes(build("aes.zip"))
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    with pytest.raises(ConflictError, match="encrypted already"):
        encrypt_archive(request(encrypted))
    with pytest.raises(ConflictError, match="encrypted already"):
        encrypt_archive(request(aes))
    with pytest.raises(UsageError, match="neither a ZIP nor a tar"):
        encrypt_archive(request(junk))
    with pytest.raises(UsageError, match="no archive"):
        encrypt_archive(request(tmp_path / "none.zip"))
    with pytest.raises(UsageError, match="--in-place"):
        encrypt_archive(request(plain, output=str(plain)))
    with pytest.raises(UsageError, match="not stdout"):
        encrypt_archive(request(plain, output="-"))
    with pytest.raises(UsageError, match="not both"):
        encrypt_archive(request(plain, output="x", inPlace=True))
    with pytest.raises(UsageError, match="password"):
        encrypt_archive(BackupEncryptRequest(archive=str(plain)))
    encrypt_archive(request(plain))
    with pytest.raises(ConflictError, match="exists"):
        encrypt_archive(request(plain))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "aes.zip", "done.tar.gz.enc", "export.tar.gz", "export.tar.gz.enc", "notes.txt"]
