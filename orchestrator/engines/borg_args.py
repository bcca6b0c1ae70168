"""borg argv and environment builders: pure functions, no processes.

Baseline is borg 1.2 (Debian 12). The repository goes in BORG_REPO and every command
names an archive as `::NAME`, so argv holds no location; the passphrase reaches borg
through BORG_PASSPHRASE_FD, a pipe the child inherits, never argv or a plain variable.

Archive names are `<set>.<part>.<6 hex>`: borg needs them unique, and a part such as
the verification log may be stored more than once. What restic keeps in tags, host and
paths rides in the archive comment as JSON (`comment_of`, read back by `borg_output`).
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from orchestrator.errors import UsageError
from orchestrator.profile.schema import Repository
from orchestrator.profile.urls import check_borg_url

BORG = "borg"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"
# Variables a user may have set for their own borg use; they must not leak into ours.
INHERITED_BORG_VARS = (
    "BORG_PASSPHRASE", "BORG_PASSCOMMAND", "BORG_PASSPHRASE_FD", "BORG_NEW_PASSPHRASE",
    "BORG_REPO", "BORG_RSH", "BORG_KEY_FILE", "BORG_BASE_DIR", "BORG_REMOTE_PATH",
)
COMPRESSION = {"auto": "lz4", "off": "none", "max": "zstd,19"}
# Subcommands that only read: on a read-only repository they run with --bypass-lock.
READ_COMMANDS = frozenset({"list", "info", "extract", "export-tar", "diff", "check"})
BYPASS_LOCK = "--bypass-lock"


def base_env(location: str, state_dir: Path, passphrase_fd: int,
             rsh: str | None) -> dict[str, str | None]:
    """borg's environment. An unencrypted repository seen for the first time is refused
    (it could be anyone's); a known repository at a new location is accepted, since its
    key identifies it. Prompts are answered no: nothing waits on a terminal."""
    env: dict[str, str | None] = {name: None for name in INHERITED_BORG_VARS}
    env.update(
        BORG_REPO=location,
        BORG_PASSPHRASE_FD=str(passphrase_fd),
        BORG_CACHE_DIR=str(state_dir / "cache" / "borg"),
        BORG_SECURITY_DIR=str(state_dir / "security" / "borg"),
        BORG_CONFIG_DIR=str(state_dir / "config" / "borg"),
        BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK="no",
        BORG_RELOCATED_REPO_ACCESS_IS_OK="yes",
        BORG_CHECK_I_KNOW_WHAT_I_AM_DOING="NO",
        BORG_DELETE_I_KNOW_WHAT_I_AM_DOING="NO",
        BORG_DISPLAY_PASSPHRASE="no",
        BORG_HOSTNAME_IS_UNIQUE="yes",
        TZ="UTC",
    )
    if rsh is not None:
        env["BORG_RSH"] = rsh
    return env


def location_of(name: str, repo: Repository) -> tuple[str, str | None, tuple[str, int] | None]:
    """borg's repository location for a profile URL, the ssh command (BORG_RSH) and the
    address to probe: a local path, `ssh://user@host[:port]/path` or `user@host:path`."""
    url = repo.url
    try:
        check_borg_url(url)
    except UsageError as exc:
        raise UsageError(f"repository {name!r}: {exc.message}") from None
    if url.startswith("ssh://"):
        parts = urlsplit(url)
        if not parts.hostname:
            raise UsageError(f"repository {name!r}: {url!r} names no host: "
                             "ssh://user@host[:port]/path")
        path = unquote(parts.path) or "/"
        login = f"{parts.username}@{parts.hostname}" if parts.username else parts.hostname
        port = parts.port or 22
        return f"ssh://{login}:{port}{path}", ssh_command(repo), (parts.hostname, port)
    scp = re.fullmatch(r"(?:([^@/:]+)@)?([^/:@]+):(.+)", url)
    if scp is not None and not url.startswith(("local:", "file:")):
        return url, ssh_command(repo), (scp.group(2), 22)  # borg's own user@host:path
    if url.startswith("local:") or url.startswith("file://"):
        url = url.removeprefix("local:").removeprefix("file://")
    if re.match(r"^[a-z0-9+]+:", url):
        raise UsageError(
            f"repository {name!r}: borg cannot use {url!r}",
            hint="a borg repository is a local path or ssh://user@host[:port]/path; "
                 "S3, Azure, GCS, REST and rclone URLs need engine = \"restic\"")
    return str(Path(url).expanduser().absolute()), None, None


def ssh_command(repo: Repository) -> str:
    """The ssh borg starts (BORG_RSH, split by borg like a shell, not run by one): never
    asks for a password; the profile's key and known_hosts when given."""
    argv = ["ssh", "-o", "BatchMode=yes"]
    if repo.identity_file:
        argv += ["-i", str(repo.identity_file), "-o", "IdentitiesOnly=yes"]
    if repo.known_hosts_file:
        argv += ["-o", f"UserKnownHostsFile={repo.known_hosts_file}",
                 "-o", "StrictHostKeyChecking=yes"]
    return shlex.join(argv)


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def archive_name(tags: Sequence[str], time: datetime) -> str:
    """`<set>.<part>.<6 hex>`, readable in `borg list` and unique in the repository."""
    values = dict(tag.split("=", 1) for tag in tags if "=" in tag)
    set_name = values.get("set") or "strongroom-" + time.astimezone(UTC).strftime(
        "%Y%m%d-%H%M%S")
    return f"{archive_stem(set_name, values.get('part', ''))}.{secrets.token_hex(3)}"


def archive_stem(set_name: str, part: str) -> str:
    """What every archive of one set's part is named before its random suffix."""
    stem = f"{set_name}.{part}" if part else set_name
    return re.sub(r"[^A-Za-z0-9._@+-]", "_", stem)[:180]


def comment_of(tags: Sequence[str], host: str, paths: Sequence[str],
               placeholders: bool = True) -> str:
    """The archive comment: tags, host and paths as JSON. borg 1.2 expands {placeholders}
    in the comments of create and recreate (so braces are doubled), not of import-tar."""
    text = json.dumps({"strongroom": 1, "tags": list(tags), "host": host,
                       "paths": list(paths)}, sort_keys=True, separators=(",", ":"))
    return text.replace("{", "{{").replace("}", "}}") if placeholders else text


def glob_to_borg(pattern: str) -> str:
    """A restic-style glob (the protocol's patterns: `\\` escapes, `*`, `**`, `?`, `[]`)
    as a borg `sh:` pattern, which has no escapes: an escaped character goes in brackets."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            following = pattern[index + 1]
            out.append(f"[{following}]" if following in "*?[]" else following)
            index += 2
            continue
        out.append(char)
        index += 1
    return "sh:" + "".join(out).lstrip("/")


def literal_of(pattern: str) -> str | None:
    """The literal path a restic-style pattern stands for, or None when it globs."""
    out, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(pattern[index + 1])
            index += 2
            continue
        if char in "*?[":
            return None
        out.append(char)
        index += 1
    return "".join(out)


def init_args() -> list[str]:
    """`--show-version`: the version is logged in passing and kept, so the first backup
    does not start `borg --version` (a Python start of its own, ~0.2 s)."""
    return [BORG, "init", "--log-json", "--show-version", "--encryption", "repokey-blake2",
            "--make-parent-dirs"]


def ancestors(paths: Sequence[str]) -> list[str]:
    """The folders above the paths, without the root, each once, shallowest first."""
    found: dict[str, None] = {}
    for path in paths:
        parts = path.strip("/").split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            found.setdefault("/".join(parts[:depth]), None)
    return sorted(found, key=lambda item: (item.count("/"), item))


def selection_args(paths: Sequence[str]) -> list[str]:
    """borg patterns choosing exactly `paths` with everything below them, and the folders
    above them as items of their own (their modes and times, as restic keeps them)."""
    args: list[str] = []
    for path in paths:
        args.append("--pattern=+pp:" + path.strip("/"))
    for folder in ancestors(paths):
        args.append("--pattern=+re:^" + re.escape(folder) + "$")
    return args


def create_args(
    paths: Sequence[str],
    *,
    name: str,
    comment: str,
    time: datetime,
    excludes: Sequence[str] = (),
    compression: str = "auto",
    progress: bool = False,
) -> list[str]:
    """`borg create` walking from the root, kept by patterns to `paths` and the folders
    above them (nothing else is descended into: `!` excludes do not recurse)."""
    args = [BORG, "create", "--log-json", "--json", "--comment", comment,
            "--timestamp", format_time(time), "--compression", COMPRESSION[compression]]
    if progress:
        args.append("--progress")
    for pattern in excludes:
        args += ["--exclude", glob_to_borg(pattern)]
    args += [*selection_args(paths), "--pattern=!re:."]
    return [*args, "--", f"::{name}", "/"]


def stream_create_args(
    filename: str, *, name: str, comment: str, time: datetime, compression: str = "auto"
) -> list[str]:
    return [BORG, "create", "--log-json", "--json", "--comment", comment,
            "--timestamp", format_time(time), "--compression", COMPRESSION[compression],
            "--stdin-name", filename.lstrip("/"), "--", f"::{name}", "-"]


def list_args() -> list[str]:
    return [BORG, "list", "--log-json", "--json", "--format",
            "{name}{id}{start}{hostname}{comment}"]


def ls_args(name: str, paths: Sequence[str] = ()) -> list[str]:
    return [BORG, "list", "--log-json", "--json-lines", "--", f"::{name}",
            *(f"pp:{path.lstrip('/')}" for path in paths)]


def diff_args(name_a: str, name_b: str) -> list[str]:
    return [BORG, "diff", "--log-json", "--json-lines", "--", f"::{name_a}", name_b]


def extract_args(
    name: str, *, includes: Sequence[str] = (), excludes: Sequence[str] = ()
) -> list[str]:
    """`borg extract` of the whole archive, or of what `includes` names (literal paths
    with the folders above them, globs as sh: patterns), into the working folder."""
    args = [BORG, "extract", "--log-json", "--sparse"]
    for pattern in excludes:
        args += ["--exclude", glob_to_borg(pattern)]
    literals = [literal_of(pattern) for pattern in includes]
    if not includes or any(literal is not None and not literal.strip("/")
                           for literal in literals):
        return [*args, "--", f"::{name}"]  # the root: everything
    args += selection_args([literal for literal in literals if literal is not None])
    for pattern, literal in zip(includes, literals, strict=True):
        if literal is None:
            args.append("--pattern=+" + glob_to_borg(pattern))
    return [*args, "--pattern=-re:.", "--", f"::{name}"]


def dump_args(name: str, path: str) -> list[str]:
    return [BORG, "extract", "--log-json", "--stdout", "--", f"::{name}", path.lstrip("/")]


def export_tar_args(name: str, path: str = "/") -> list[str]:
    inner = path.strip("/")
    return [BORG, "export-tar", "--log-json", "--", f"::{name}", "-", *([inner] if inner else [])]


def import_tar_args(name: str, *, comment: str, time: datetime) -> list[str]:
    return [BORG, "import-tar", "--log-json", "--json", "--comment", comment,
            "--timestamp", format_time(time), "--", f"::{name}", "-"]


def delete_args(names: Sequence[str]) -> list[str]:
    """One archive per run: borg 1.2's delete takes one ::ARCHIVE or a glob."""
    return [BORG, "delete", "--log-json", "--", f"::{names[0]}", *names[1:]]


def compact_args() -> list[str]:
    return [BORG, "compact", "--log-json"]


def check_args(deep: bool) -> list[str]:
    return [BORG, "check", "--log-json", *(["--verify-data"] if deep else [])]


def recreate_comment_args(name: str, comment: str) -> list[str]:
    return [BORG, "recreate", "--log-json", "--comment", comment, "--", f"::{name}"]


def break_lock_args() -> list[str]:
    return [BORG, "break-lock", "--log-json"]


def reads_only(argv: Sequence[str]) -> bool:
    return len(argv) > 1 and argv[1] in READ_COMMANDS


def without_lock(argv: Sequence[str]) -> list[str]:
    if not reads_only(argv) or BYPASS_LOCK in argv:
        return list(argv)
    return [*argv[:2], BYPASS_LOCK, *argv[2:]]
