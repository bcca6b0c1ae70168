"""What the CLI shows: logging setup, rendering of results, progress, error messages.

stdout carries results only (one JSON document with --json); logs, progress and
errors go to stderr.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from pydantic import BaseModel, ValidationError

from orchestrator.engines.base import ProgressCallback
from orchestrator.errors import StrongroomError, UsageError

if TYPE_CHECKING:
    from orchestrator.models import (
        ApplyRetentionResult,
        CompareResult,
        CreateBackupResult,
        InitResult,
        ListBackupsResult,
        RestoreResult,
        VerifyResult,
    )

M = TypeVar("M", bound=BaseModel)
CONFLICTS_SHOWN = 20


def setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logger = logging.getLogger("strongroom")
    logger.setLevel(logging.DEBUG)
    if not any(getattr(h, "strongroom_console", False) for h in logger.handlers):
        handler: logging.Handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.strongroom_console = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    for handler in logger.handlers:
        if getattr(handler, "strongroom_console", False):
            handler.setLevel(level)


def open_session(profile_ref: str | None, verbose: int, access: Any = None) -> Any:
    """The session of the profile, or with `access` (--repo) of an in-memory one."""
    from orchestrator.profile.load import find_profile, load_profile
    from orchestrator.profile.repo_access import profile_free
    from orchestrator.sets.session import Session

    setup_logging(verbose)
    if access is not None:
        return Session(profile_free(access))
    return Session(load_profile(find_profile(profile_ref)))


def call(session: Any, tool: str, request: BaseModel,
         progress: ProgressCallback | None = None) -> Any:
    """Run a tool as the CLI: the --role given to `strongroom` applies, and it is audited."""
    from orchestrator.access.tools import invoke
    from orchestrator.cli.options import global_value

    role = global_value("role")
    return invoke(session, tool, request, role=role, origin="cli", progress=progress)


def build(model: type[M], **values: Any) -> M:
    """A request model from CLI values; a validation error is a usage error."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"--{'.'.join(str(p) for p in err['loc']).replace('_', '-')}: {_said(err)}"
            for err in exc.errors()
        )
        raise UsageError(problems) from None


def _said(error: Any) -> str:
    """A validation error for people: a pattern is explained, never printed as a regex."""
    from orchestrator.profile.locate import pattern_message

    if error.get("type") == "string_pattern_mismatch":
        given = f"{error.get('input')!r} is not allowed: "
        return given + pattern_message(str(error.get("ctx", {}).get("pattern", "")))
    return str(error["msg"])


def emit(result: Any, as_json: bool, render: Callable[[Any], str]) -> None:
    if as_json:
        if isinstance(result, list):
            payload = [item.model_dump(mode="json") for item in result]
            click.echo(json.dumps(payload, indent=2))
        else:
            echo_json(result)
    else:
        click.echo(render(result))


def echo_json(result: BaseModel, batch: int = 1000) -> None:
    """The result's JSON (indent 2), as model_dump_json writes it; a list of paths held
    on disk (a restore's conflicts: millions, maybe) is written as it is read back, not
    built as one list or one string first."""
    from orchestrator.models.spilled import SpilledPaths

    spilled = {name: value for name, value in result
               if isinstance(value, SpilledPaths) and len(value)}
    if not spilled:
        click.echo(result.model_dump_json(indent=2))
        return
    text = result.model_copy(update={name: SpilledPaths() for name in spilled}) \
        .model_dump_json(indent=2)
    done = 0
    for name, paths in spilled.items():  # in field order: the order of the text
        key = f"\n  {json.dumps(name)}: ["
        opening = text.index(key + "]", done) + len(key)  # just past the "["
        click.echo(text[done:opening], nl=False)
        lines: list[str] = []
        comma = ""
        for path in paths:
            lines.append(f"{comma}\n    {json.dumps(path, ensure_ascii=False)}")
            comma = ","
            if len(lines) >= batch:
                click.echo("".join(lines), nl=False)
                lines = []
        click.echo("".join(lines) + "\n  ", nl=False)
        done = opening  # the "]" and what follows
    click.echo(text[done:])


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"strongroom: error: {message}", err=True)
    sys.exit(code)


def report_exception(exc: Exception) -> NoReturn:
    if isinstance(exc, StrongroomError):
        fail(with_profile(exc.render()), exc.exit_code)
    if isinstance(exc, ValidationError):
        fail(str(exc), 2)
    if isinstance(exc, OSError):
        fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), 1)
    raise exc


def with_profile(text: str) -> str:
    """`strongroom CMD` in a message becomes `strongroom -p PROFILE CMD` when a profile was
    named: the hint is then a command to copy as it stands."""
    import re
    import shlex

    from orchestrator.cli.options import global_value

    ctx = click.get_current_context(silent=True)
    ref = global_value("profile_ref", ctx) if ctx is not None else None
    names = getattr(ctx.find_root().command, "commands", {}) if ctx is not None else {}
    if not ref or not names:
        return text
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.sub(rf"\bstrongroom (?=(?:{alternatives})\b)",
                  lambda _: f"strongroom -p {shlex.quote(ref)} ", text)


def human_bytes(count: int | None) -> str:
    from orchestrator.cli.progress import human_bytes as size

    return "-" if count is None else size(count)


def vault_password_prompt() -> Callable[[str], str] | None:
    """Asks for a vault's password at the terminal; None when stdin is not one."""
    if not sys.stdin.isatty():
        return None

    def ask(vault: str) -> str:
        secret = read_password(True, None, None, confirm=False,
                               prompt=f"password for vault {vault}")
        assert secret is not None  # wanted: a password or a usage error
        return secret

    return ask


def read_password(wanted: bool, password_file: str | None, password_env: str | None,
                  confirm: bool, prompt: str = "Password") -> str | None:
    """An archive password from a file, a variable or the terminal; never from argv."""
    import os
    from pathlib import Path

    if not wanted:
        if password_file or password_env:
            raise UsageError("--password-file/--password-env go with --encrypt")
        return None
    if password_file and password_env:
        raise UsageError("give --password-file or --password-env, not both")
    if password_file:
        try:
            lines = Path(password_file).read_text().splitlines()
        except OSError as exc:
            raise UsageError(
                f"cannot read --password-file {password_file}: {exc.strerror}") from None
        secret = lines[0] if lines else ""
    elif password_env:
        secret = os.environ.get(password_env, "")
        if not secret:
            raise UsageError(f"environment variable {password_env} is not set")
    else:
        if not sys.stdin.isatty():
            raise UsageError("no password: give --password-file or --password-env")
        secret = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm,
                              err=True)
    if not secret:
        raise UsageError("the password is empty")
    return secret


def render_download(result: Any) -> str:
    line = (f"exported {result.set} as {result.format}{' (encrypted)' if result.encrypted else ''}"
            f" to {result.output}: {result.entries} entries, {human_bytes(result.bytes)}, "
            f"{result.duration:.1f} s")
    return line + (f"\ndownload link: {result.url}" if result.url else "")


def render_migrated(result: Any) -> str:
    checked = [part.part for part in result.parts if part.digest]
    return (f"copied {result.set} from {result.source} to {result.target}"
            f"{' (created)' if result.created else ''}: {len(result.parts)} part(s), "
            f"{len(checked)} stream digest(s) checked against the manifest"
            f"{', files staged' if result.staged else ''}, {result.duration:.1f} s")


def render_init(results: Sequence[InitResult]) -> str:
    return "\n".join(
        f"{r.destination}: {'created' if r.created else 'exists, password ok'} ({r.url})"
        for r in results
    )


def render_created(result: CreateBackupResult) -> str:
    verified = "verified" if result.verified else "not verified"
    return (
        f"created {result.set} (id {result.id}) in {result.destination}: "
        f"{result.files} files, {human_bytes(result.bytes)}, "
        f"{human_bytes(result.bytes_added)} added, {result.duration:.1f} s, {verified}"
    ) + (f"\nretention removed {len(result.removed_by_retention)} set(s): "
         f"{', '.join(result.removed_by_retention)}" if result.removed_by_retention else "") + (
        f"\ncopied to {', '.join(result.synced_to)}" if result.synced_to else "")


def render_retention(result: ApplyRetentionResult) -> str:
    if not result.sets:
        return "no schedule with retention has sets yet"
    verb = "would remove" if result.dry_run else "removed"
    lines = []
    for item in result.sets:
        mark = "keep  " if item.keep else "REMOVE"
        lines.append(f"{mark}  {item.set}  ({item.schedule}, {item.destination}): "
                     f"{', '.join(item.reasons)}")
    lines.append(f"{verb} {result.removed} set(s)" + (
        f", forgot {result.forgotten_snapshots} snapshot(s), pruned "
        f"{', '.join(result.pruned)}" if result.pruned else ""))
    return "\n".join(lines)


def render_list(result: ListBackupsResult) -> str:
    if not result.backups:
        return f"no backups in {result.destination}"
    header: tuple[str, ...] = ("SET", "ID", "TYPE", "TIME (UTC)", "SERVICES", "PARTS", "SIZE",
                               "KEYS", "STATUS", "DRILL")
    rows = [header] + [
        (b.set, b.id or "-", b.type, b.time.strftime("%Y-%m-%d %H:%M:%S"),
         ",".join(b.services) or "-", str(b.parts), human_bytes(b.size),
         ",".join(b.repositories) or result.destination, b.status, b.drill)
        for b in result.backups
    ]
    if result.all_profiles:
        rows = [(row[0], "PROFILE" if index == 0 else result.backups[index - 1].profile,
                 *row[1:]) for index, row in enumerate(rows)]
        header = rows[0]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    for b in result.backups:
        if b.problem:
            lines.append(f"  {b.set}: {b.status}: {b.problem}")
    return "\n".join(lines)


def render_verify(result: VerifyResult) -> str:
    lines = [f"verify {result.set}: {'passed' if result.ok else 'FAILED'}"]
    width = max((len(check.check) for check in result.checks), default=0)
    for check in result.checks:
        mark = "ok    " if check.ok else "FAILED"
        detail = check.detail.replace("\n", "\n" + " " * (width + 12))
        lines.append(f"  {check.check.ljust(width)}  {mark}  {detail}")
    if result.log_part:
        lines.append(f"  (stored in the set as {result.log_part})")
    return "\n".join(lines)


def render_compare(result: CompareResult, show_files: bool = False) -> str:
    lines = [f"A {result.a}", f"B {result.b}"]
    for part in result.parts:
        if part.status in ("only-in-a", "only-in-b"):
            detail = part.status.replace("-", " ")
        elif part.kind == "stream":
            size = f"{human_bytes(part.size_a)} -> {human_bytes(part.size_b)}"
            detail = f"{part.status}: {size}" + (", digest changed"
                                                 if part.digest_a != part.digest_b else "")
        elif part.status == "same":
            detail = "same"
        else:
            detail = (f"+{part.added} ({human_bytes(part.bytes_added)}), -{part.removed} "
                      f"({human_bytes(part.bytes_removed)}), ~{part.modified} "
                      f"({human_bytes(part.bytes_modified)})")
        lines.append(f"  {part.part}: {detail}")
        if show_files:
            marks = {"added": "+", "removed": "-", "modified": "M"}
            lines += [f"      {marks[c.change]} {c.path}" for c in part.changes]
    lines.append(result.summary)
    return "\n".join(lines)


def render_restore(result: RestoreResult) -> str:
    verb = "would restore" if result.dry_run else "restored"
    origin = f"id {result.id}, " if result.id else ""
    lines = [f"{verb} {result.set} ({origin}{result.mode}) to {result.target}:"]
    if result.reason:
        lines.append(f"  why this set: {result.reason}")
    for entry in result.plan:
        if entry.kind == "database":
            lines.append(f"  {entry.logical}: database {entry.source} -> {entry.target} "
                         f"({human_bytes(entry.bytes)})")
            continue
        lines.append(f"  {entry.logical}: {entry.source} -> {entry.target} "
                     f"({entry.files} files, {human_bytes(entry.bytes)})")
    lines.append(f"  total: {result.files} files, {human_bytes(result.bytes)}")
    if result.conflicts:
        what = "would be overwritten" if not result.restored else "overwritten"
        lines.append(f"  {len(result.conflicts)} existing path(s) {what}:")
        lines += [f"    {path}" for path in result.conflicts[:CONFLICTS_SHOWN]]
        if len(result.conflicts) > CONFLICTS_SHOWN:
            lines.append(f"    … and {len(result.conflicts) - CONFLICTS_SHOWN} more "
                         "(--json lists them all)")
    if result.unreadable:
        lines.append("  cannot be read (a service's own repository):")
        lines += [f"    {line}" for line in result.unreadable]
    if result.verified:
        lines.append("  verified: restored contents match the backup")
    return "\n".join(lines)


@contextmanager
def spinner(quiet: bool, what: str) -> Iterator[None]:
    if quiet or not sys.stderr.isatty():
        yield
        return
    with _stderr_console().status(what):
        yield


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
