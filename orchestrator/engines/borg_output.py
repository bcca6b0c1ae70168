"""Reading what borg prints: JSON results, JSON lines, `--log-json` messages; failures
classified into the typed errors of `base`; finding live borg processes.

Archive comments come from a repository others may write: a comment that is not
strongroom's JSON leaves the archive without tags (listed, never part of a set).
"""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import UTC, datetime
from typing import Any

from orchestrator.engines.base import (
    AuthenticationDenied,
    BackupSummary,
    Change,
    EngineError,
    EngineVersion,
    Node,
    Progress,
    ProgressCallback,
    RepositoryLocked,
    RepositoryMissing,
    RepositoryReadOnly,
    Snapshot,
    Unreachable,
    WrongPassword,
)
from orchestrator.errors import StrongroomError

NODE_TYPES = {"-": "file", "d": "dir", "l": "symlink", "b": "dev", "c": "chardev",
              "p": "fifo", "s": "socket", "h": "file"}
# Warnings of `borg create` that do not make a file unreadable.
HARMLESS_WARNINGS = ("file changed while we backed it up",)


def parse_version(text: str) -> EngineVersion:
    match = re.search(r"borg[^\s]* (\d+)\.(\d+)\.(\d+)", text)
    if not match:
        raise EngineError(f"cannot read the borg version from {text.strip()!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return EngineVersion("borg", (major, minor, patch))


def parse_time(text: str) -> datetime:
    """borg prints local times without a zone; strongroom runs borg with TZ=UTC."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_comment(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(data, dict) or data.get("strongroom") != 1:
        return {}
    return data


def _strings(value: object) -> tuple[str, ...]:
    return tuple(item for item in value if isinstance(item, str)) if isinstance(
        value, list) else ()


def parse_archives(text: str) -> list[Snapshot]:
    """`borg list --json --format …` into snapshots, oldest first."""
    result: list[Snapshot] = []
    for item in json.loads(text or "{}").get("archives") or []:
        comment = parse_comment(str(item.get("comment") or ""))
        archive_id = str(item["id"])
        host = comment.get("host")
        result.append(Snapshot(
            id=archive_id,
            short_id=archive_id[:8],
            time=parse_time(str(item.get("start") or item["time"])),
            hostname=host if isinstance(host, str) else str(item.get("hostname") or ""),
            paths=_strings(comment.get("paths")),
            tags=_strings(comment.get("tags")),
        ))
    return sorted(result, key=lambda snap: snap.time)


def parse_archive_names(text: str) -> dict[str, str]:
    """Archive id → name, from the same listing."""
    return {str(item["id"]): str(item["name"])
            for item in json.loads(text or "{}").get("archives") or []}


def mode_bits(text: str) -> int:
    """`drwxr-sr-x` as st_mode bits."""
    if len(text) != 10:
        return 0
    bits = {"d": stat.S_IFDIR, "l": stat.S_IFLNK, "b": stat.S_IFBLK, "c": stat.S_IFCHR,
            "p": stat.S_IFIFO, "s": stat.S_IFSOCK}.get(text[0], stat.S_IFREG)
    for index, (flag, special) in enumerate(zip("rwxrwxrwx", (0, 0, stat.S_ISUID, 0, 0,
                                                             stat.S_ISGID, 0, 0,
                                                             stat.S_ISVTX), strict=True)):
        char = text[index + 1]
        if char == flag or char in "st":
            bits |= 1 << (8 - index)
        if special and char in "sStT":
            bits |= special
    return bits


def parse_ls(text: str) -> list[Node]:
    """`borg list --json-lines ::ARCHIVE`; paths made absolute as restic shows them."""
    nodes: list[Node] = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        item = json.loads(line)
        mode = str(item.get("mode") or "")
        kind = NODE_TYPES.get(str(item.get("type") or "-"), "file")
        nodes.append(Node(
            path="/" + str(item["path"]).lstrip("/"),
            type=kind,
            size=int(item.get("size") or 0),
            mode=mode_bits(mode),
            mtime=str(item.get("mtime") or ""),
            link_target=(str(item.get("linktarget") or item.get("source") or "") or None)
            if kind == "symlink" else None,
        ))
    return nodes


def parse_diff(text: str) -> list[Change]:
    """`borg diff --json-lines` as restic's modifiers: + - M, U for metadata alone."""
    changes: list[Change] = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        item = json.loads(line)
        kinds = [str(change.get("type") or "") for change in item.get("changes") or []]
        path = "/" + str(item["path"]).lstrip("/")
        if any(kind.startswith("added") for kind in kinds):
            modifier = "+"
        elif any(kind.startswith("removed") for kind in kinds):
            modifier = "-"
        elif any(kind in ("modified", "changed link") for kind in kinds):
            modifier = "M"
        else:
            modifier = "U"
        if any(kind.endswith("directory") for kind in kinds):
            path += "/"
        changes.append(Change(path, modifier))
    return changes


def summary_of(text: str) -> BackupSummary:
    """The JSON `borg create --json` / `import-tar --json` prints at the end."""
    try:
        archive = json.loads(text)["archive"]
    except (ValueError, KeyError, TypeError):
        raise EngineError("borg finished without reporting an archive") from None
    stats = archive.get("stats") or {}
    return BackupSummary(
        snapshot_id=str(archive["id"]),
        data_added=int(stats.get("deduplicated_size") or 0),
        total_files=int(stats.get("nfiles") or 0),
        total_bytes=int(stats.get("original_size") or 0),
        duration=float(archive.get("duration") or 0.0),
    )


def log_messages(stderr: str) -> list[dict[str, Any]]:
    """The `--log-json` lines of stderr (ssh and others may print plain lines too)."""
    found = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict):
                found.append(item)
    return found


SHOW_VERSION = "borg.output.show-version"  # the logger of --show-version's line


def logged_version(stderr: str) -> EngineVersion | None:
    """The version `--show-version` logged (`borgbackup version 1.2.4`), if it did."""
    for item in log_messages(stderr):
        if item.get("name") == SHOW_VERSION:
            told = re.fullmatch(r"borgbackup version (\d+)\.(\d+)\.(\d+)\S*",
                                str(item.get("message") or "").strip())
            if told is None:
                return None
            major, minor, patch = (int(part) for part in told.groups())
            return EngineVersion("borg", (major, minor, patch))
    return None


def plain_text(stderr: str) -> str:
    """stderr as words: each JSON log line by its message."""
    lines = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            try:
                item = json.loads(line)
            except ValueError:
                item = None
            if isinstance(item, dict):
                if item.get("type") == "log_message" and item.get("name") != SHOW_VERSION:
                    lines.append(_message(str(item.get("message") or "")))
                continue
        lines.append(line)
    return "\n".join(line for line in lines if line.strip())


def _message(text: str) -> str:
    """A log message; of a crash report, only the exception it ends with (the rest is a
    traceback and a description of the host)."""
    if text == "Local Exception":
        return ""
    if "Traceback (most recent call last)" not in text:
        return text
    before = text.split("\nPlatform:", 1)[0]
    lines = [line for line in before.splitlines() if line.strip()]
    return lines[-1].strip() if lines else text


class CreateOutput:
    """Reads `borg create --log-json --progress` stderr: progress, unreadable files."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self.on_progress = on_progress
        self.unreadable: list[str] = []

    def feed(self, line: str) -> None:
        if not line.startswith("{"):
            return
        try:
            item = json.loads(line)
        except ValueError:
            return
        if not isinstance(item, dict):
            return
        if item.get("type") == "archive_progress" and self.on_progress is not None \
                and not item.get("finished"):
            self.on_progress(Progress(0.0, int(item.get("nfiles") or 0), 0,
                                      int(item.get("original_size") or 0), 0))
        elif item.get("type") == "log_message" and item.get("levelname") == "WARNING":
            message = str(item.get("message") or "")
            if not any(sign in message for sign in HARMLESS_WARNINGS):
                self.unreadable.append(message)


def classify_failure(
    repository_name: str, url: str, returncode: int, stderr: str
) -> StrongroomError:
    """One clear error for a failed borg run, by the msgid of its JSON log lines, else
    by what ssh printed."""
    where = f"repository {repository_name!r} ({url})"
    ids = {str(item.get("msgid") or "") for item in log_messages(stderr)}
    words = plain_text(stderr)
    text = words.lower()
    last = _last_line(words)
    if "PassphraseWrong" in ids:
        return WrongPassword(
            f"wrong password for {where}",
            hint="check the repository's password_file / password_command / password_env")
    if ids & {"LockTimeout", "LockErrorT", "LockError"}:
        return RepositoryLocked(f"{where} is locked by another process: {last}")
    if "LockFailed" in ids or "read-only file system" in text:
        return RepositoryReadOnly(
            f"repository {repository_name!r} ({url}) is read-only: borg cannot create a "
            "lock in it, so nothing can be written there",
            hint="listing, restoring, exporting and verifying work; back up to a writable "
                 "repository")
    if ids & {"Repository.DoesNotExist", "Repository.InvalidRepository",
              "Repository.ParentPathDoesNotExist"}:
        return RepositoryMissing(
            f"no borg repository at {where}",
            hint=f"create it with: strongroom init --destination {repository_name}")
    if "Repository.AlreadyExists" in ids or "already exists" in text:
        return EngineError(f"{where}: a repository already exists there ({last})")
    if "Cache.CacheInitAbortedError" in ids or "unencrypted" in text:
        return EngineError(
            f"{where} is unencrypted and unknown to this host: refused",
            hint="strongroom only uses encrypted borg repositories it created or has seen")
    if "permission denied (publickey" in text:
        return AuthenticationDenied(f"{where} refused the ssh key: {last}",
                                    hint=f"check identity_file of [repositories."
                                         f"{repository_name}]")
    if any(sign in text for sign in UNREACHABLE) or ids & {"ConnectionClosed",
                                                           "ConnectionClosedWithHint"}:
        return Unreachable(f"cannot reach {where}: {last}")
    if "Archive.DoesNotExist" in ids:
        return EngineError(f"borg found no such archive in {where}: {last}")
    if "permission denied" in text:
        return EngineError(f"cannot read {where}: permission denied ({last})")
    return EngineError(f"borg failed on {where} (exit {returncode}): {last}")


UNREACHABLE = ("connection refused", "could not resolve hostname", "no route to host",
               "connection timed out", "host key verification failed",
               "connection closed by remote host", "remote: borg: command not found")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no message"


def live_borg_on(location: str) -> int | None:
    """The pid of a running borg working on this repository, if any."""
    import psutil  # only when a lock is found: not at every command's start

    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.pid == os.getpid():
                continue
            cmdline = proc.info["cmdline"] or []
            if proc.info["name"] != "borg" and not any(
                    part.endswith("/borg") for part in cmdline[:2]):
                continue
            if any(location in part for part in cmdline):
                return proc.pid
            if proc.environ().get("BORG_REPO") == location:
                return proc.pid
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None
