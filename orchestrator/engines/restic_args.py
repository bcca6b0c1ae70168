"""restic argv and environment builders and output parsers: pure functions, no processes.

Baseline is restic 0.14.0 (Debian 12). restic 0.14 exits 1 for a wrong password, a
missing repository and a bad flag alike, so failures are told apart from stderr;
newer restic's dedicated exit codes (10, 11, 12) are understood too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.engines.base import (
    AuthenticationDenied,
    BackupSummary,
    BucketMissing,
    Change,
    EngineError,
    EngineVersion,
    KeyInfo,
    Node,
    Progress,
    RepositoryLocked,
    RepositoryMissing,
    RepositoryReadOnly,
    Snapshot,
    Unreachable,
    WrongPassword,
)
from orchestrator.errors import StrongroomError

RESTIC = "restic"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Variables a user may have set for their own restic use; they must not leak into ours.
INHERITED_RESTIC_VARS = (
    "RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND",
    "RESTIC_REPOSITORY", "RESTIC_REPOSITORY_FILE", "RESTIC_KEY_HINT",
)


# Subcommands that only read: on a read-only repository they run without a lock.
READ_COMMANDS = frozenset({"snapshots", "ls", "dump", "restore", "check", "stats", "diff",
                           "cat", "find"})
NO_LOCK = "--no-lock"


def reads_only(argv: Sequence[str]) -> bool:
    return len(argv) > 1 and argv[1] in READ_COMMANDS


def without_lock(argv: Sequence[str]) -> list[str]:
    """A read command with restic's global --no-lock after the subcommand."""
    if not reads_only(argv) or NO_LOCK in argv:
        return list(argv)
    return [*argv[:2], NO_LOCK, *argv[2:]]


def read_only_error(repository_name: str, url: str) -> RepositoryReadOnly:
    return RepositoryReadOnly(
        f"repository {repository_name!r} ({url}) is read-only: restic cannot create a lock "
        f"in it, so nothing can be written there",
        hint="listing, restoring, exporting and verifying work; back up to a writable "
             "repository")


def base_env(repository: str, cache_dir: Path, password_file: str) -> dict[str, str | None]:
    env: dict[str, str | None] = {name: None for name in INHERITED_RESTIC_VARS}
    env.update(
        RESTIC_REPOSITORY=repository,
        RESTIC_PASSWORD_FILE=password_file,
        RESTIC_CACHE_DIR=str(cache_dir),
        RESTIC_PROGRESS_FPS="2",
        # restic reads and prints times in the local zone; UTC everywhere keeps --time exact.
        TZ="UTC",
    )
    return env


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def tag_args(tags: Sequence[str]) -> list[str]:
    args: list[str] = []
    for tag in tags:
        if "," in tag:
            raise ValueError(f"a restic tag cannot hold a comma: {tag!r}")
        args += ["--tag", tag]
    return args


def escape_pattern(path: str) -> str:
    """A literal path as a restic include/exclude pattern (glob characters escaped)."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", path)


def init_args() -> list[str]:
    return [RESTIC, "init", "--repository-version", "2"]


def backup_args(
    paths: Sequence[str],
    *,
    tags: Sequence[str],
    time: datetime,
    host: str,
    excludes: Sequence[str] = (),
    compression: str = "auto",
) -> list[str]:
    args = [RESTIC, "backup", "--json", "--host", host, "--time", format_time(time)]
    args += ["--compression", compression]
    args += tag_args(tags)
    for pattern in excludes:
        args += ["--exclude", pattern]
    return args + ["--", *paths]


def stream_backup_args(
    filename: str, *, tags: Sequence[str], time: datetime, host: str, compression: str = "auto"
) -> list[str]:
    args = [RESTIC, "backup", "--json", "--stdin", "--stdin-filename", filename]
    args += ["--host", host, "--time", format_time(time), "--compression", compression]
    return args + tag_args(tags)


def stdin_path(filename: str) -> str:
    """The path a `--stdin --stdin-filename FILENAME` snapshot lists."""
    return "/" + filename.lstrip("/")


def snapshots_args(tags: Sequence[str]) -> list[str]:
    args = [RESTIC, "snapshots", "--json"]
    if tags:
        args += ["--tag", ",".join(tags)]
    return args


def diff_args(snapshot_a: str, snapshot_b: str) -> list[str]:
    return [RESTIC, "diff", "--json", snapshot_a, snapshot_b]


def parse_diff(text: str) -> list[Change]:
    changes = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        item = json.loads(line)
        if item.get("message_type") == "change":
            changes.append(Change(str(item["path"]), str(item["modifier"])))
    return changes


def ls_args(snapshot_id: str, paths: Sequence[str] = ()) -> list[str]:
    """Every node below `paths` (all nodes when none are given)."""
    return [RESTIC, "ls", "--json", "--long", *(["--recursive"] if paths else []), snapshot_id,
            *paths]


def restore_args(
    snapshot_id: str,
    target: Path,
    *,
    includes: Sequence[str] = (),
    excludes: Sequence[str] = (),
    verify: bool = False,
) -> list[str]:
    args = [RESTIC, "restore", snapshot_id, "--target", str(target)]
    for pattern in includes:
        args += ["--include", pattern]
    for pattern in excludes:
        args += ["--exclude", pattern]
    if verify:
        args.append("--verify")
    return args


def dump_args(snapshot_id: str, path: str) -> list[str]:
    return [RESTIC, "dump", snapshot_id, path]


def forget_args(snapshot_ids: Sequence[str]) -> list[str]:
    return [RESTIC, "forget", *snapshot_ids]


def tag_add_args(snapshot_ids: Sequence[str], tags: Sequence[str]) -> list[str]:
    args = [RESTIC, "tag"]
    for tag in tags:
        args += ["--add", tag]
    return args + list(snapshot_ids)


def key_list_args() -> list[str]:
    return [RESTIC, "key", "list", "--json"]


def key_add_args(new_password_file: Path, host: str | None = None,
                 user: str | None = None) -> list[str]:
    """`restic key add`: the new password is read from a file, never given on argv."""
    argv = [RESTIC, "key", "add", "--new-password-file", str(new_password_file)]
    if host:
        argv += ["--host", host]
    if user:
        argv += ["--user", user]
    return argv


def key_remove_args(key_id: str) -> list[str]:
    if not re.fullmatch(r"[0-9a-f]{1,64}", key_id):
        raise StrongroomError(f"not a key id: {key_id!r} (hexadecimal, as `key list` shows)")
    return [RESTIC, "key", "remove", key_id]


def parse_keys(text: str) -> list[KeyInfo]:
    return [KeyInfo(id=str(item["id"]), user=str(item.get("userName", "")),
                    host=str(item.get("hostName", "")), created=str(item.get("created", "")),
                    current=bool(item.get("current")))
            for item in json.loads(text or "[]") or []]


def check_args(read_data_subset: str | None = None) -> list[str]:
    """`restic check`; with a subset (`5%`, `1/10`, `500M`), that much pack data is read."""
    subset = [f"--read-data-subset={read_data_subset}"] if read_data_subset else []
    return [RESTIC, "check", *subset]


def parse_version(text: str) -> EngineVersion:
    match = re.search(r"restic (\d+)\.(\d+)\.(\d+)", text)
    if not match:
        raise EngineError(f"cannot read the restic version from {text.strip()!r}")
    major, minor, patch = (int(part) for part in match.groups())
    return EngineVersion("restic", (major, minor, patch))


def parse_time(text: str) -> datetime:
    """restic's RFC 3339 times carry nanoseconds; Python takes microseconds."""
    text = text.replace("Z", "+00:00")
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    return datetime.fromisoformat(text)


ROOT_TAG = "root"


def root_tag(root: Path) -> str:
    """The tag naming the folder a staged tree was backed up from (restic_transfer)."""
    return f"{ROOT_TAG}={root}"


def unrooted(paths: Sequence[str], tags: Sequence[str]) -> tuple[str, ...]:
    """A snapshot's paths without the prefix its `root=` tag names, as they were at the
    source; unchanged without the tag."""
    prefix = next((tag[len(ROOT_TAG) + 1:] for tag in tags
                   if tag.startswith(ROOT_TAG + "=")), "").rstrip("/")
    if not prefix:
        return tuple(paths)
    return tuple(path[len(prefix):] or "/" if path == prefix or path.startswith(prefix + "/")
                 else path for path in paths)


def parse_snapshots(text: str) -> list[Snapshot]:
    return snapshots_of(json.loads(text or "[]") or [])


def snapshots_of(items: Sequence[dict[str, Any]]) -> list[Snapshot]:
    """The snapshots of `restic snapshots --json`'s items, oldest first."""
    result: list[Snapshot] = []
    for item in items:
        summary = item.get("summary") or {}
        tags = tuple(item.get("tags") or ())
        result.append(
            Snapshot(
                id=item["id"],
                short_id=item.get("short_id", item["id"][:8]),
                time=parse_time(item["time"]),
                hostname=item.get("hostname", ""),
                paths=unrooted(item.get("paths") or (), tags),
                tags=tags,
                total_bytes=summary.get("total_bytes_processed"),
            )
        )
    return sorted(result, key=lambda snap: (snap.time, snap.id))  # ties: one order for all


def parse_ls(text: str) -> list[Node]:
    return [node for node in map(parse_node, text.splitlines()) if node is not None]


def parse_node(line: str) -> Node | None:
    """One line of `restic ls --json`: a node, or None for the snapshot line."""
    if not line.startswith("{"):
        return None
    item = json.loads(line)
    if item.get("struct_type") != "node":
        return None
    return Node(
        path=item["path"],
        type=item["type"],
        size=int(item.get("size") or 0),
        mode=int(item.get("mode") or 0),
        mtime=item.get("mtime", ""),
        link_target=item.get("linktarget"),
    )


def progress_from(message: dict[str, object]) -> Progress:
    def number(key: str) -> int:
        value = message.get(key) or 0
        return int(value) if isinstance(value, (int, float)) else 0

    fraction = message.get("percent_done") or 0.0
    remaining = message.get("seconds_remaining")
    return Progress(
        fraction=float(fraction) if isinstance(fraction, (int, float)) else 0.0,
        files_done=number("files_done"),
        total_files=number("total_files"),
        bytes_done=number("bytes_done"),
        total_bytes=number("total_bytes"),
        seconds_remaining=float(remaining) if isinstance(remaining, (int, float)) else None,
    )


def summary_from(message: dict[str, object]) -> BackupSummary:
    def number(key: str) -> int:
        value = message.get(key) or 0
        return int(value) if isinstance(value, (int, float)) else 0

    duration = message.get("total_duration") or 0.0
    return BackupSummary(
        snapshot_id=str(message.get("snapshot_id") or ""),
        files_new=number("files_new"),
        files_changed=number("files_changed"),
        files_unmodified=number("files_unmodified"),
        data_added=number("data_added"),
        total_files=number("total_files_processed"),
        total_bytes=number("total_bytes_processed"),
        duration=float(duration) if isinstance(duration, (int, float)) else 0.0,
    )


def classify_failure(
    repository_name: str, url: str, returncode: int, stderr: str
) -> StrongroomError:
    """One clear error for a failed restic run, told apart by exit code and stderr."""
    where = f"repository {repository_name!r} ({url})"
    text = stderr.lower()
    # Retry lines are what restic saw on the way, not why it gave up: leave them out
    # of the search for causes, which come after the exit codes that say it exactly.
    settled = "\n".join(line for line in text.splitlines() if "retrying after" not in line)
    if returncode == 12 or "wrong password" in settled:
        return WrongPassword(
            f"wrong password for {where}",
            hint="check the repository's password_file / password_command / password_env",
        )
    if returncode == 11 or "repository is already locked" in settled:
        return RepositoryLocked(f"{where} is locked by another process: {_last_line(stderr)}")
    if "unable to create lock" in settled:
        return read_only_error(repository_name, url)
    if any(sign in settled for sign in AUTHENTICATION_DENIED):
        return AuthenticationDenied(
            f"{where} refused the credentials: {_last_line(_fatal(stderr))}",
            hint=f"check the keys in [repositories.{repository_name}.env] (or the ssh key)")
    if any(sign in settled for sign in BUCKET_MISSING):
        return BucketMissing(
            f"the bucket or container of {where} does not exist",
            hint=f"strongroom init --destination {repository_name} creates it")
    if returncode != 10 and any(sign in settled for sign in UNREACHABLE):
        return Unreachable(f"cannot reach {where}: {_last_line(_fatal(stderr))}")
    if "permission denied" in text:
        return EngineError(f"cannot read {where}: permission denied ({_last_line(stderr)})")
    if returncode == 10 or "is there a repository at the following location" in text or (
        "unable to open config file" in text
    ):
        return RepositoryMissing(
            f"no restic repository at {where}",
            hint=f"create it with: strongroom init --destination {repository_name}",
        )
    if "unknown flag" in text or "unknown shorthand flag" in text:
        return EngineError(
            f"restic rejected a flag ({_last_line(stderr)}); is restic older than 0.14?"
        )
    if "no snapshot found" in text or "no matching id found" in text:
        return EngineError(f"restic found no such snapshot in {where}")
    return EngineError(f"restic failed on {where} (exit {returncode}): {_last_line(stderr)}"
                       + _damaged_items(stderr))


def _damaged_items(stderr: str, shown: int = 5) -> str:
    """The items restic could not read back (`ignoring error for PATH: …`), named."""
    found = [line.strip() for line in stderr.splitlines() if "error for " in line.lower()]
    if not found:
        return ""
    more = f"\n  … and {len(found) - shown} more" if len(found) > shown else ""
    return "".join(f"\n  {line}" for line in found[:shown]) + more


# restic passes on what the storage said; these are the signs of each cause.
AUTHENTICATION_DENIED = (
    "does not exist in our records", "signaturedoesnotmatch",
    "signature we calculated does not match", "invalidaccesskeyid", "access denied",
    "accessdenied", "permission denied (publickey", "authenticationfailed",
    "authorizationfailure", "server signature", "403 forbidden",
)
BUCKET_MISSING = ("specified bucket does not exist", "nosuchbucket",
                  "specified container does not exist", "containernotfound")
UNREACHABLE = ("connection refused", "could not resolve hostname", "no route to host",
               "connection timed out", "no such host", "i/o timeout",
               "host key verification failed", "connection closed by remote host")


def _fatal(text: str) -> str:
    """The Fatal: lines restic printed, else everything (ssh speaks before restic)."""
    lines = [line for line in text.splitlines() if line.startswith("Fatal:")]
    return "\n".join(lines) or text


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no message"
