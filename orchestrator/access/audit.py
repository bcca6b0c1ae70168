"""The audit log: one JSON line per operation, each holding the sha256 of the line before.

    {"seq": 7, "time": …, "user": …, "uid": …, "role": …, "tool": …, "profile": …,
     "origin": "cli"|"mcp", "arguments": {… secrets redacted …}, "result": "ok"|"error",
     "error": …, "set": …, "duration": …, "prev": "<sha256 of line 6>"}

`seq` counts from 1 and `prev` of the first line is 64 zeros, so an edited, deleted,
inserted or reordered line breaks the chain at a line that `verify` names.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
SECRET_WORDS = ("password", "passphrase", "secret", "token", "key")
AUDIT_FILE = "audit.log"
HEAD_FILE = "audit.head"


def redact(value: Any, key: str = "") -> Any:
    if any(word in key.lower() for word in SECRET_WORDS) and value not in (None, "", False):
        return "***"
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _digest(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def append(state_dir: Path, entry: dict[str, Any]) -> None:
    """Append one line, chained to the last one; safe against concurrent writers."""
    path = state_dir / AUDIT_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        last = b""
        count = 0
        for line in handle:
            if line.strip():
                last, count = line, count + 1
        record = {"seq": count + 1, "time": datetime.now(UTC).isoformat(),
                  "user": _user(), "uid": os.getuid(), **entry,
                  "prev": _digest(last) if last else GENESIS}
        line = json.dumps(record, sort_keys=False, default=str).encode()
        handle.write(line + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
        # The head anchors the last line, which no later line's `prev` covers yet.
        head = path.with_name(HEAD_FILE)
        head.write_text(f"{record['seq']} {_digest(line)}\n")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def render(self) -> str:
        return f"line {self.line}: {self.message}"


def verify(state_dir: Path) -> tuple[int, list[Problem]]:
    """(lines read, problems): each break of the chain, named by its line."""
    path = state_dir / AUDIT_FILE
    if not path.exists():
        return 0, []
    problems: list[Problem] = []
    previous = b""
    expected_seq = 1
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except ValueError:
            problems.append(Problem(number, "is not JSON: the line was edited"))
            previous = line
            expected_seq += 1
            continue
        seq = record.get("seq")
        want = _digest(previous) if previous else GENESIS
        if seq != expected_seq:
            if isinstance(seq, int) and seq > expected_seq:
                what = f"lines {expected_seq}..{seq - 1} were deleted" if seq > expected_seq + 1 \
                    else f"line {expected_seq} was deleted"
            else:
                what = "it was inserted or moved"
            problems.append(Problem(number, f"sequence number {seq}, expected {expected_seq}: "
                                            f"{what}"))
        elif record.get("prev") != want:
            problems.append(Problem(number - 1 if number > 1 else number,
                                    "its content does not match the hash the next line holds: "
                                    "the line was edited"))
        previous = line
        expected_seq = (seq + 1) if isinstance(seq, int) else expected_seq + 1
    head = path.with_name(HEAD_FILE)
    if lines and head.exists():
        seq_text, _, digest = head.read_text().strip().partition(" ")
        if seq_text != str(len(lines)) and not problems:
            problems.append(Problem(len(lines), f"the log ends at line {len(lines)} but its head "
                                                f"records {seq_text} lines: lines were removed "
                                                "from the end"))
        elif digest != _digest(lines[-1]) and not problems:
            problems.append(Problem(len(lines), "does not match the recorded head: the last "
                                                "line was edited"))
    return len(lines), problems


def read(state_dir: Path, since: datetime | None = None) -> list[dict[str, Any]]:
    path = state_dir / AUDIT_FILE
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if since is not None:
            try:
                if datetime.fromisoformat(record.get("time", "")) < since:
                    continue
            except ValueError:
                continue
        entries.append(record)
    return entries
