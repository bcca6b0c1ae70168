"""Export files: a fresh temp file beside the final name, its mode, and planted symlinks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.errors import ConflictError
from orchestrator.export.envelope import EnvelopeWriter
from orchestrator.export.targets import Output, open_output, parse_output, replacing
from orchestrator.export.unpack import decrypt_file


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def write(path: Path, data: bytes, force: bool = False, mode: int = 0o600) -> None:
    with open_output(Output("file", path), force, None, mode) as sink:
        sink.write(data)


def test_an_export_is_0600_under_umask_022(tmp_path: Path, umask_022: None) -> None:
    out = tmp_path / "new" / "a.zip"
    write(out, b"dump")
    assert out.read_bytes() == b"dump"
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.parent.stat().st_mode & 0o777 == 0o700
    write(out, b"again", force=True, mode=0o640)
    assert out.stat().st_mode & 0o777 == 0o640
    assert os.listdir(out.parent) == ["a.zip"]


def test_a_planted_partial_symlink_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    out = tmp_path / "a.zip"
    (tmp_path / ".a.zip.partial").symlink_to(victim)
    write(out, b"export")
    assert victim.read_bytes() == b"precious"
    assert not out.is_symlink() and out.read_bytes() == b"export"


def test_a_symlink_at_the_final_name_is_refused_even_with_force(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    out = tmp_path / "a.zip"
    out.symlink_to(victim)
    with pytest.raises(ConflictError, match="symlink"):
        write(out, b"export", force=True)
    assert victim.read_bytes() == b"precious" and out.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["a.zip", "victim"]


def test_an_existing_file_needs_force_and_a_failure_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "a.zip"
    out.write_bytes(b"old")
    with pytest.raises(ConflictError, match="--force"):
        write(out, b"new")
    with pytest.raises(RuntimeError), replacing(out, force=True) as handle:
        handle.write(b"half")
        raise RuntimeError("interrupted")
    assert out.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.zip"]


def test_a_symlink_planted_while_writing_is_not_replaced(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    out = tmp_path / "a.zip"
    with pytest.raises(ConflictError, match="symlink"), replacing(out, force=True) as handle:
        handle.write(b"export")
        out.symlink_to(victim)
    assert victim.read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == ["a.zip", "victim"]


def test_a_trailing_slash_names_a_folder(tmp_path: Path) -> None:
    assert parse_output(f"{tmp_path}/later/", "set.zip").path == tmp_path / "later" / "set.zip"


def test_decrypt_writes_aside_with_mode_0600(tmp_path: Path, umask_022: None) -> None:
    sealed = tmp_path / "a.zip.enc"
    with open(sealed, "wb") as handle:
        writer = EnvelopeWriter(handle, b"pw")
        writer.write(b"plain text")
        writer.close()
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / ".a.zip.partial").symlink_to(victim)
    decrypt_file(str(sealed), None, b"pw", force=False)
    plain = tmp_path / "a.zip"
    assert plain.read_bytes() == b"plain text" and plain.stat().st_mode & 0o777 == 0o600
    assert victim.read_bytes() == b"precious"
    plain.unlink()
    plain.symlink_to(victim)
    with pytest.raises(ConflictError, match="symlink"):
        decrypt_file(str(sealed), None, b"pw", force=True)
    assert victim.read_bytes() == b"precious"
