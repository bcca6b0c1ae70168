"""Changing a profile file in place: the user's comments, order and layout survive.

tomlkit edits the parsed document; only the [schedules.NAME] table changes. The new
text is loaded and validated as a whole profile before it replaces the file, and the
replacement is atomic, so a bad edit never leaves a broken or half-written profile.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.items import Table

from orchestrator.errors import ProfileError, ProfileIssue


def schedule_values(text: str, key: str) -> dict[str, Any] | None:
    """[schedules.KEY] as plain values, or None when this file does not define it."""
    schedules = tomlkit.parse(text).get("schedules")
    if schedules is None or key not in schedules:
        return None
    value: dict[str, Any] = schedules[key].unwrap()
    return value


def with_schedule(text: str, key: str, values: Mapping[str, Any]) -> str:
    """The profile text with [schedules.KEY] holding exactly `values`. An existing table is
    changed key by key, so comments inside it and around it stay where they were."""
    document = tomlkit.parse(text)
    schedules = document.get("schedules")
    if schedules is None:
        schedules = tomlkit.table(is_super_table=True)
        document.add(tomlkit.nl())
        document.add("schedules", schedules)
    if key in schedules:
        table = schedules[key]
        for name in [name for name in table if name not in values]:
            del table[name]
        for name, value in values.items():
            if name not in table or table[name].unwrap() != value:
                table[name] = value
    else:
        table = tomlkit.table()
        for name, value in values.items():
            table[name] = value
        schedules[key] = table
    return tomlkit.dumps(document)


def without_schedule(text: str, key: str) -> str:
    document = tomlkit.parse(text)
    schedules = document.get("schedules")
    if schedules is not None and key in schedules:
        del schedules[key]
        if isinstance(schedules, (Table, Container)) and not len(schedules):
            del document["schedules"]
    return tomlkit.dumps(document)


def replace_profile_text(path: Path, text: str) -> None:
    """Validate `text` as the profile at `path` (with its `extends`), then swap it in.

    The candidate is written beside the original so relative paths and `extends`
    resolve the same; on any problem it is removed and the original is untouched.
    """
    from orchestrator.profile_source import load_profile_with_warnings

    target = path.resolve()
    candidate = target.with_name(f".{target.name}.strongroom-new")
    mode = target.stat().st_mode & 0o7777
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            load_profile_with_warnings(candidate)
        except ProfileError as exc:
            raise ProfileError([
                ProfileIssue(str(path) if issue.file == str(candidate) else issue.file,
                             issue.line, issue.column, issue.key_path, issue.message)
                for issue in exc.issues]) from None
        os.replace(candidate, target)
    finally:
        candidate.unlink(missing_ok=True)
