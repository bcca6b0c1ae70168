"""An engine's version is asked of its binary once per binary file and kept in the state
folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from orchestrator.engines import versions
from orchestrator.engines.base import EngineVersion

ENGINES: list[tuple[str, str, Callable[[str, Path], EngineVersion]]] = [
    ("restic", "restic {} compiled with go1.19.8 on linux/amd64", versions.restic_version),
    ("borg", "borg {}", versions.borg_version),
]


def fake_binary(folder: Path, program: str, line: str) -> Path:
    binary = folder / program
    binary.write_text(f"#!/bin/sh\necho x >> {folder / 'calls'}\necho '{line}'\n")
    binary.chmod(0o755)
    return binary


def calls(folder: Path) -> int:
    path = folder / "calls"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.mark.parametrize(("program", "line", "asked"), ENGINES)
def test_the_version_is_asked_once_and_again_when_the_binary_changes(
    tmp_path: Path, program: str, line: str, asked: Callable[[str, Path], EngineVersion],
) -> None:
    binary = fake_binary(tmp_path, program, line.format("1.2.4"))
    state = tmp_path / "state"
    versions._versions.clear()
    assert asked(str(binary), state).version == (1, 2, 4)
    versions._versions.clear()  # a new strongroom run: read from the state folder
    assert asked(str(binary), state).version == (1, 2, 4)
    assert calls(tmp_path) == 1
    record = state / "cache" / f"{program}-version.json"
    assert oct(record.stat().st_mode & 0o777) == "0o600"

    fake_binary(tmp_path, program, line.format("1.4.1"))  # upgraded: another file
    os.utime(binary, ns=(1, 1))
    versions._versions.clear()
    assert asked(str(binary), state).version == (1, 4, 1)
    assert calls(tmp_path) == 2

    record.write_text("{not json")  # a damaged record only costs one more question
    versions._versions.clear()
    assert asked(str(binary), state).version == (1, 4, 1)
    assert calls(tmp_path) == 3
    versions._versions.clear()


def test_a_state_folder_that_cannot_take_the_record_only_asks_again(tmp_path: Path) -> None:
    binary = fake_binary(tmp_path, "restic", "restic 0.14.0 compiled with go1.19.8")
    blocked = tmp_path / "state"
    blocked.write_text("a file where the folder would be")
    for _ in range(2):
        versions._versions.clear()
        assert versions.restic_version(str(binary), blocked).version == (0, 14, 0)
    assert calls(tmp_path) == 2
    versions._versions.clear()


def test_a_version_told_in_passing_is_kept_for_the_next_run(tmp_path: Path) -> None:
    binary = fake_binary(tmp_path, "borg", "borg 9.9.9")
    state = tmp_path / "state"
    versions._versions.clear()
    versions.remember("borg", str(binary), state, EngineVersion("borg", (1, 2, 4)))
    versions._versions.clear()  # a new strongroom run: read from the state folder
    assert versions.borg_version(str(binary), state).version == (1, 2, 4)
    assert calls(tmp_path) == 0
    versions._versions.clear()


def test_a_binary_replaced_while_it_ran_is_not_recorded(tmp_path: Path) -> None:
    binary = fake_binary(tmp_path, "borg", "borg 1.4.1")
    state = tmp_path / "state"
    seen = versions.identity(str(binary))
    os.utime(binary, ns=(1, 1))  # upgraded while `borg init` ran
    versions._versions.clear()
    versions.remember("borg", str(binary), state, EngineVersion("borg", (1, 2, 4)), seen)
    assert not (state / "cache" / "borg-version.json").exists()
    assert versions.identity(str(tmp_path / "gone")) is None
    versions.remember("borg", str(tmp_path / "gone"), state, EngineVersion("borg", (1, 2, 4)))
    assert versions.borg_version(str(binary), state).version == (1, 4, 1)  # asked
    versions._versions.clear()
