"""The audit log: one JSON line per operation, each holding the sha256 of the line before.

    {"seq": 7, "time": …, "user": …, "uid": …, "role": …, "tool": …, "profile": …,
     "origin": "cli"|"mcp", "arguments": {… secrets redacted …}, "result": "ok"|"error",
     "error": …, "set": …, "duration": …, "prev": "<sha256 of line 6>"[, "hmac": …]}

`seq` counts from 1 and `prev` of the first line is 64 zeros, so an edited, deleted,
inserted or reordered line breaks the chain at a line that `verify` names. With the
profile's `[audit] key_file`, `hmac` (always the last key) is the HMAC-SHA256, keyed by
the file's bytes, of the line's bytes before `, "hmac": …` with the closing brace.
`audit.head` holds "<seq> <sha256>" of the last line, which no later `prev` covers yet;
the anchors stored in backup sets (audit_anchors.py) cover the log off this host.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import hmac
import json
import os
import re
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from orchestrator.errors import StrongroomError
from orchestrator.run.tempfiles import write_atomic

GENESIS = "0" * 64
SECRET_WORDS = ("password", "passphrase", "secret", "token", "key")
AUDIT_FILE = "audit.log"
HEAD_FILE = "audit.head"
BLOCK = 64 * 1024
_SIGNED = re.compile(rb'^(?P<body>\{.*), "hmac": "(?P<mac>[0-9a-f]{64})"\}$', re.DOTALL)


def redact(value: Any, key: str = "") -> Any:
    if any(word in key.lower() for word in SECRET_WORDS) and value not in (None, "", False):
        return "***"
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def digest(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\n")).hexdigest()


def read_key(path: Path) -> bytes:
    """The bytes of `[audit] key_file`."""
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise StrongroomError(f"the audit key_file {path} cannot be read: "
                              f"{exc.strerror or exc}") from None
    if not key.strip():
        raise StrongroomError(f"the audit key_file {path} is empty")
    return key


def sign(body: bytes, key: bytes) -> bytes:
    """The line for a serialised record `body` ("{…}") with its hmac as the last key."""
    mac = hmac.new(key, body, hashlib.sha256).hexdigest()
    return body[:-1] + f', "hmac": "{mac}"}}'.encode()


def signature_ok(line: bytes, key: bytes) -> bool | None:
    """None: the line carries no hmac; otherwise whether its hmac is right for `key`."""
    match = _SIGNED.match(line.rstrip(b"\n"))
    if match is None:
        return None
    want = hmac.new(key, match["body"] + b"}", hashlib.sha256).hexdigest()
    return hmac.compare_digest(want.encode(), match["mac"])


def last_line(handle: BinaryIO) -> bytes:
    """The last non-blank line of an open file, read backwards in blocks from its end."""
    end = handle.seek(0, os.SEEK_END)
    tail = b""
    position = end
    while position > 0:
        size = min(BLOCK, position)
        position -= size
        handle.seek(position)
        tail = handle.read(size) + tail
        stripped = tail.rstrip()
        cut = stripped.rfind(b"\n")
        if cut >= 0:
            return stripped[cut + 1:]
    return tail.rstrip()


def _seq_of(line: bytes, handle: BinaryIO) -> int:
    try:
        seq = json.loads(line).get("seq")
    except (ValueError, AttributeError):
        seq = None
    if isinstance(seq, int) and not isinstance(seq, bool):
        return seq
    # A damaged last line (verify reports it): count the lines, once, to go on numbering.
    handle.seek(0)
    return sum(1 for item in handle if item.strip())


def append(state_dir: Path, entry: dict[str, Any], key: bytes | None = None) -> None:
    """Append one line, chained to the last one; safe against concurrent writers."""
    path = state_dir / AUDIT_FILE
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _private_folder(state_dir)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if os.fstat(fd).st_mode & 0o777 != 0o600:
            os.fchmod(fd, 0o600)
        last = last_line(handle)
        seq = _seq_of(last, handle) + 1 if last else 1
        record = {"seq": seq, "time": datetime.now(UTC).isoformat(),
                  "user": _user(), "uid": os.getuid(), **entry,
                  "prev": digest(last) if last else GENESIS}
        record.pop("hmac", None)
        line = json.dumps(record, sort_keys=False, default=str).encode()
        if key is not None:
            line = sign(line, key)
        ends_clean = handle.seek(0, os.SEEK_END) == 0 or _last_byte(handle) == b"\n"
        handle.write((b"" if ends_clean else b"\n") + line + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
        write_head(state_dir, seq, digest(line))


def _private_folder(folder: Path) -> None:
    """The state folder 0700 (its parents create it 0755 under umask 022); a sticky,
    shared folder such as /tmp, or one of another user, is left as it is."""
    info = os.stat(folder)
    if info.st_mode & 0o077 and not info.st_mode & stat.S_ISVTX and info.st_uid == os.geteuid():
        os.chmod(folder, stat.S_IMODE(info.st_mode) & 0o700)


def _last_byte(handle: BinaryIO) -> bytes:
    handle.seek(-1, os.SEEK_END)
    return handle.read(1)


def write_head(state_dir: Path, seq: int, line_digest: str) -> None:
    """audit.head, replaced atomically, mode 0600."""
    write_atomic(state_dir / HEAD_FILE, f"{seq} {line_digest}\n".encode(), 0o600)


def head(state_dir: Path) -> tuple[int, str]:
    """(seq, sha256) of the log's last line, read from the log itself; (0, GENESIS) when
    there is none."""
    path = state_dir / AUDIT_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return 0, GENESIS
    with os.fdopen(fd, "rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        last = last_line(handle)
        if not last:
            return 0, GENESIS
        return _seq_of(last, handle), digest(last)


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


@dataclass
class Report:
    """What verify found: the log's lines, its problems, and notes on what was not checked."""

    lines: list[bytes] | None  # None: there is no log file
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    anchors: int | None = None  # anchors checked; None: not checked


def read_lines(state_dir: Path) -> list[bytes] | None:
    """The log's non-blank lines; None when there is no log file."""
    try:
        data = (state_dir / AUDIT_FILE).read_bytes()
    except FileNotFoundError:
        return None
    return [line for line in data.splitlines() if line.strip()]


def verify_chain(state_dir: Path, key: bytes | None = None) -> Report:
    """Each break of the chain, of the head and (with `key`) of the hmacs, by line."""
    found = read_lines(state_dir)
    lines = found or []
    report = Report(found)
    problems = report.problems
    previous = b""
    expected_seq = 1
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
            seq = record.get("seq") if isinstance(record, dict) else None
        except ValueError:
            problems.append(Problem(number, "is not JSON: the line was edited"))
            previous = line
            expected_seq += 1
            continue
        want = digest(previous) if previous else GENESIS
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
    _check_head(state_dir, lines, found is None, problems)
    if key is not None:
        _check_hmacs(lines, key, problems)
    elif any(_SIGNED.match(line) for line in lines):
        report.notes.append("hmacs not checked: the profile sets no [audit] key_file")
    return report


def _check_head(state_dir: Path, lines: list[bytes], missing: bool,
                problems: list[Problem]) -> None:
    try:
        text = (state_dir / HEAD_FILE).read_text()
    except FileNotFoundError:
        if lines:
            problems.append(Problem(len(lines), f"{HEAD_FILE} is missing: it was deleted"))
        return
    seq_text, _, recorded = text.strip().partition(" ")
    if not lines:
        if seq_text != "0":
            what = "missing" if missing else "empty"
            number = int(seq_text) if seq_text.isdigit() else 1
            problems.append(Problem(number, f"the log is {what} but {HEAD_FILE} records "
                                            f"{seq_text} line(s): the log was deleted or "
                                            "emptied"))
    elif problems:
        return  # the chain's own problems already say where
    elif seq_text != str(len(lines)):
        problems.append(Problem(len(lines), f"the log ends at line {len(lines)} but "
                                            f"{HEAD_FILE} records {seq_text} lines: lines were "
                                            "removed from the end or added after it"))
    elif recorded != digest(lines[-1]):
        problems.append(Problem(len(lines), f"does not match the recorded head ({HEAD_FILE}): "
                                            "the last line was edited"))


def _check_hmacs(lines: list[bytes], key: bytes, problems: list[Problem]) -> None:
    """From the first line with an hmac on, every line needs a right one; the last line
    needs one too, so a log rewritten without any hmac does not pass as never keyed."""
    keyed = False
    for number, line in enumerate(lines, start=1):
        state = signature_ok(line, key)
        if state is False:
            problems.append(Problem(number, "its hmac is wrong for [audit] key_file: the line "
                                            "was written or changed without the key"))
        elif state is None and (keyed or number == len(lines)):
            problems.append(Problem(number, "carries no hmac although [audit] key_file is set:"
                                            " the line was written without the key (or no "
                                            "operation was audited since the key was set)"))
        keyed = keyed or state is not None


def read(state_dir: Path, since: datetime | None = None) -> list[dict[str, Any]]:
    entries = []
    for line in read_lines(state_dir) or []:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if since is not None:
            try:
                if datetime.fromisoformat(record.get("time", "")) < since:
                    continue
            except (TypeError, ValueError):
                continue
        entries.append(record)
    return entries
