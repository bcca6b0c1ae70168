"""Changing a profile file in place: the user's comments, order and layout survive.

tomlkit edits the parsed document; only the [schedules.NAME] table changes. The new
text is loaded and validated as a whole profile before it replaces the file, and the
replacement is atomic, so a bad edit never leaves a broken or half-written profile.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import InlineTable, Table

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
    changed key by key, so comments inside it and around it stay where they were; a new
    table goes after the last schedule (or at the end), before any comment that leads
    into the next table."""
    document = tomlkit.parse(text)
    schedules = document.get("schedules")
    if schedules is not None and key in schedules:
        table = schedules[key]
        for name in [name for name in table if name not in values]:
            del table[name]
        for name, value in values.items():
            if name not in table or table[name].unwrap() != value:
                table[name] = value
        return tomlkit.dumps(document)
    expected = document.unwrap()
    expected.setdefault("schedules", {})[key] = dict(values)
    lines = text.splitlines(keepends=True)
    spans = [_table_span(lines, index) for index, line in enumerate(lines)
             if _SCHEDULE_HEADER.match(line)]
    at = spans[-1][1] if spans else len(lines)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    candidate = "".join([*lines[:at], "\n", _rendered(key, values), *lines[at:]])
    if _parses_to(candidate, expected):
        return candidate
    # Schedules written in a form the line edit does not know (inline tables, dotted
    # keys): let tomlkit place the table; the values are right, the layout may move.
    if schedules is None:
        schedules = tomlkit.table(is_super_table=True)
        document.add(tomlkit.nl())
        document.add("schedules", schedules)
    if isinstance(schedules, InlineTable):
        inline = tomlkit.inline_table()
        inline.update(values)
        schedules[key] = inline
    else:
        schedules[key] = _table(values)
    return tomlkit.dumps(document)


def without_schedule(text: str, key: str) -> str:
    """The profile text without [schedules.KEY]: its header and keys go, the comments that
    lead into the next table stay."""
    document = tomlkit.parse(text)
    schedules = document.get("schedules")
    if schedules is None or key not in schedules:
        return text
    expected = document.unwrap()
    del expected["schedules"][key]
    if not expected["schedules"]:
        del expected["schedules"]
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        match = _SCHEDULE_HEADER.match(line)
        if match and match.group(2) == key:
            start, end = _table_span(lines, index)
            if start > 0 and not lines[start - 1].strip():
                start -= 1
            candidate = "".join(lines[:start] + lines[end:])
            if _parses_to(candidate, expected):
                return candidate
    del schedules[key]
    if isinstance(schedules, (Table, Container)) and not len(schedules):
        del document["schedules"]
    return tomlkit.dumps(document)


_SCHEDULE_HEADER = re.compile(r'^\s*\[\s*schedules\s*\.\s*(")?([A-Za-z0-9._-]+)(?(1)"|)\s*\]'
                              r"\s*(?:#.*)?$")


def _table_span(lines: list[str], header: int) -> tuple[int, int]:
    """The header line and the end of the table's own lines: up to the next table, less
    the blank and comment lines that lead into it."""
    end = next((index for index in range(header + 1, len(lines))
                if lines[index].lstrip().startswith("[")), len(lines))
    while end > header + 1 and (not lines[end - 1].strip()
                                or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return header, end


def _table(values: Mapping[str, Any]) -> Table:
    table = tomlkit.table()
    for name, value in values.items():
        table[name] = value
    return table


def _rendered(key: str, values: Mapping[str, Any]) -> str:
    document = tomlkit.document()
    schedules = tomlkit.table(is_super_table=True)
    schedules[key] = _table(values)
    document["schedules"] = schedules
    return tomlkit.dumps(document)


def _parses_to(text: str, expected: Any) -> bool:
    try:
        return bool(tomlkit.parse(text).unwrap() == expected)
    except TOMLKitError:
        return False


def replace_profile_text(path: Path, text: str) -> None:
    """Validate `text` as the profile at `path` (with its `extends`), then swap it in.

    The candidate is written beside the original so relative paths and `extends`
    resolve the same; on any problem it is removed and the original is untouched.
    """
    from orchestrator.profile.load import load_profile_with_warnings

    target = path.resolve()
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                suffix=".strongroom-new")
    candidate = Path(name)
    os.fchmod(fd, target.stat().st_mode & 0o7777)
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
