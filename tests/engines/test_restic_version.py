"""restic's version is asked of restic once per binary file and kept in the state folder."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.engines import restic_version as module


def fake_restic(folder: Path, version: str) -> Path:
    binary = folder / "restic"
    calls = folder / "calls"
    binary.write_text(f"#!/bin/sh\necho x >> {calls}\necho 'restic {version} compiled with go1.19.8 on linux/amd64'\n")
    binary.chmod(0o755)
    return binary


def calls(folder: Path) -> int:
    path = folder / "calls"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_the_version_is_asked_once_and_again_when_the_binary_changes(tmp_path: Path) -> None:
    binary = fake_restic(tmp_path, "0.16.4")
    state = tmp_path / "state"
    module._versions.clear()
    assert module.restic_version(str(binary), state).version == (0, 16, 4)
    module._versions.clear()  # a new strongroom run: read from the state folder
    assert module.restic_version(str(binary), state).version == (0, 16, 4)
    assert calls(tmp_path) == 1
    record = state / "cache" / "restic-version.json"
    assert oct(record.stat().st_mode & 0o777) == "0o600"

    fake_restic(tmp_path, "0.17.3")  # upgraded: another file, asked again
    os.utime(binary, ns=(1, 1))
    module._versions.clear()
    assert module.restic_version(str(binary), state).version == (0, 17, 3)
    assert calls(tmp_path) == 2

    record.write_text("{not json")  # a damaged record only costs one more question
    module._versions.clear()
    assert module.restic_version(str(binary), state).version == (0, 17, 3)
    assert calls(tmp_path) == 3
    module._versions.clear()
