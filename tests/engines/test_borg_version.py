"""borg's version is asked of borg once per binary file and kept in the state folder."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.engines import borg_version as module


def fake_borg(folder: Path, version: str) -> Path:
    binary = folder / "borg"
    calls = folder / "calls"
    binary.write_text(f"#!/bin/sh\necho x >> {calls}\necho 'borg {version}'\n")
    binary.chmod(0o755)
    return binary


def calls(folder: Path) -> int:
    path = folder / "calls"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_the_version_is_asked_once_and_again_when_the_binary_changes(tmp_path: Path) -> None:
    binary = fake_borg(tmp_path, "1.2.4")
    state = tmp_path / "state"
    module._versions.clear()
    assert module.borg_version(str(binary), state).version == (1, 2, 4)
    module._versions.clear()  # a new strongroom run: read from the state folder
    assert module.borg_version(str(binary), state).version == (1, 2, 4)
    assert calls(tmp_path) == 1
    record = state / "cache" / "borg-version.json"
    assert oct(record.stat().st_mode & 0o777) == "0o600"

    fake_borg(tmp_path, "1.4.1")  # upgraded: another file, asked again
    os.utime(binary, ns=(1, 1))
    module._versions.clear()
    assert module.borg_version(str(binary), state).version == (1, 4, 1)
    assert calls(tmp_path) == 2

    record.write_text("{not json")  # a damaged record only costs one more question
    module._versions.clear()
    assert module.borg_version(str(binary), state).version == (1, 4, 1)
    assert calls(tmp_path) == 3
    module._versions.clear()
