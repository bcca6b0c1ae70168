"""An engine binary's version, kept in the state directory: asking it is a process per
command (for borg a Python start, ~0.4 s), and every set records the engine's version in
its manifest."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from orchestrator import run
from orchestrator.engines.base import EngineError, EngineVersion
from orchestrator.engines.borg_output import parse_version as parse_borg
from orchestrator.engines.restic_args import parse_version as parse_restic
from orchestrator.run.tempfiles import replace_quietly

_versions: dict[str, EngineVersion] = {}


def restic_version(binary: str, state_dir: Path) -> EngineVersion:
    return kept_version("restic", ["version"], parse_restic, binary, state_dir)


def borg_version(binary: str, state_dir: Path) -> EngineVersion:
    return kept_version("borg", ["--version"], parse_borg, binary, state_dir)


def kept_version(program: str, asking: Sequence[str], parse: Callable[[str], EngineVersion],
                 binary: str, state_dir: Path) -> EngineVersion:
    """The version of `binary`, asked once for as long as it is the same file (its
    resolved path, size and mtime); a missing or damaged record asks again."""
    if binary in _versions:
        return _versions[binary]
    record = _record(program, state_dir)
    key = _identity(binary)
    try:
        known = json.loads(record.read_text())
        if known.get("binary") == key:
            _versions[binary] = parse(f"{program} {known['version']}")
            return _versions[binary]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, EngineError):
        pass
    found = parse(run.run([binary, *asking]).stdout)
    remember(program, binary, state_dir, found, key)
    return found


def remember(program: str, binary: str, state_dir: Path, found: EngineVersion,
             seen: str | None = None) -> None:
    """Keep a version the binary told (borg's --show-version on init). `seen`: the
    binary's identity before it ran; a binary replaced meanwhile (an upgrade) is not
    recorded under the version the old one told. Only a cache: nothing here fails."""
    try:
        current = _identity(binary)
    except OSError:
        return
    if seen is not None and seen != current:
        return
    _versions[binary] = found
    replace_quietly(_record(program, state_dir), json.dumps(
        {"binary": current, "version": ".".join(map(str, found.version))}).encode())


def identity(binary: str) -> str | None:
    """What changes when the binary file is replaced (path, mtime, size); None if gone."""
    try:
        return _identity(binary)
    except OSError:
        return None


def _record(program: str, state_dir: Path) -> Path:
    return state_dir / "cache" / f"{program}-version.json"


def _identity(binary: str) -> str:
    stat = os.stat(binary)
    return f"{os.path.realpath(binary)}:{stat.st_mtime_ns}:{stat.st_size}"
