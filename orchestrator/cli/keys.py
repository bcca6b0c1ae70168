"""`strongroom key list|add|remove|rotate`: the keys (passwords) of a repository."""

from __future__ import annotations

from typing import Any

import click

from orchestrator.cli.main import common, guarded, main

DESTINATION = click.option("--destination", "-d", metavar="REPO",
                           help="Repository (default: the profile's first).")


@main.group()
def key() -> None:
    """List, add, remove and rotate a repository's keys (its passwords).

    A key wraps the repository's master key: rotating it changes the password, not the
    encryption of the data (for that: backup-encrypt --to)."""


@key.command("list")
@DESTINATION
@common
@guarded
def key_list(destination: str | None, profile_ref: str | None, as_json: bool,
             verbose: int) -> None:
    """The keys: id, user, host, creation time; * marks the one the profile opens with."""
    from orchestrator.cli import console
    from orchestrator.models import KeyListRequest

    session = console.open_session(profile_ref, verbose)
    request = console.build(KeyListRequest, destination=destination)
    console.emit(console.call(session, "key-list", request), as_json, _render_list)


@key.command("add")
@DESTINATION
@click.option("--new-password-file", metavar="FILE", required=True,
              help="File holding the password of the new key.")
@click.option("--host", help="Host name recorded with the key.")
@click.option("--user", help="User name recorded with the key.")
@common
@guarded
def key_add(destination: str | None, new_password_file: str, host: str | None,
            user: str | None, profile_ref: str | None, as_json: bool, verbose: int) -> None:
    """Add a key (a second password for the same repository)."""
    from orchestrator.cli import console
    from orchestrator.models import KeyChangeRequest

    session = console.open_session(profile_ref, verbose)
    request = console.build(KeyChangeRequest, action="add", destination=destination,
                            new_password_file=new_password_file, host=host, user=user)
    console.emit(console.call(session, "key-change", request), as_json, _render_change)


@key.command("remove")
@click.argument("key_id", metavar="ID")
@DESTINATION
@common
@guarded
def key_remove(key_id: str, destination: str | None, profile_ref: str | None, as_json: bool,
               verbose: int) -> None:
    """Remove a key (never the one the profile's password opens)."""
    from orchestrator.cli import console
    from orchestrator.models import KeyChangeRequest

    session = console.open_session(profile_ref, verbose)
    request = console.build(KeyChangeRequest, action="remove", destination=destination,
                            key_id=key_id)
    console.emit(console.call(session, "key-change", request), as_json, _render_change)


@key.command("rotate")
@DESTINATION
@click.option("--new-password-file", metavar="FILE",
              help="The new password (default: 32 random bytes, base64). Needed when the "
                   "password comes from password_command or password_env.")
@common
@guarded
def key_rotate(destination: str | None, new_password_file: str | None,
               profile_ref: str | None, as_json: bool, verbose: int) -> None:
    """Replace the repository's password: add a key for the new one, write it to the
    password_file (the old one kept as FILE.previous until its key is removed), prove it
    opens the repository, remove the old key. An interrupted rotate is finished by the
    next one."""
    from orchestrator.cli import console
    from orchestrator.models import KeyChangeRequest

    session = console.open_session(profile_ref, verbose)
    request = console.build(KeyChangeRequest, action="rotate", destination=destination,
                            new_password_file=new_password_file)
    console.emit(console.call(session, "key-change", request), as_json, _render_change)


def _render_list(result: Any) -> str:
    lines = [f"keys of {result.repository}:", f"  {'ID':10} {'USER':12} {'HOST':20} CREATED"]
    for entry in result.keys:
        mark = "*" if entry.current else " "
        lines.append(f"{mark} {entry.id:10} {entry.user:12} {entry.host:20} {entry.created}")
    return "\n".join(lines)


def _render_change(result: Any) -> str:
    lines = []
    if result.resumed:
        lines.append(f"{result.repository}: finished a rotation interrupted earlier")
    if result.added:
        lines.append(f"{result.repository}: key {result.added} "
                     f"{'added' if result.pending else 'opens it now'}")
    for key_id in result.removed:
        lines.append(f"{result.repository}: key {key_id} removed")
    if result.password_file:
        lines.append(f"{result.repository}: the password is in {result.password_file}")
    lines += [f"{result.repository}: {note}" for note in result.notes]
    return "\n".join(lines) or f"{result.repository}: nothing to do"


@main.command("backup-encrypt")
@click.option("--archive", metavar="FILE", help="A plain export (ZIP or tar.*) to encrypt.")
@click.option("--output", "-o", metavar="PATH", help="With --archive: where the encrypted "
              "file goes (default: FILE.enc for tar, NAME.encrypted.zip for ZIP).")
@click.option("--in-place", is_flag=True, help="With --archive: replace it, atomically.")
@click.option("--force", is_flag=True, help="Replace an existing --output.")
@click.option("--password-file", metavar="FILE", help="With --archive: the password.")
@click.option("--password-env", metavar="VAR", help="With --archive: the password.")
@click.option("--backup", metavar="NAME", help="With --to: this set.")
@click.option("--all", "all_sets", is_flag=True, help="With --to: every complete set.")
@click.option("--since", metavar="TIME", help="With --to: the complete sets since TIME.")
@click.option("--destination", "-d", metavar="REPO", help="With --to: the source repository "
              "(default: the profile's first).")
@click.option("--to", metavar="REPO", help="Move the sets under this repository's master key.")
@click.option("--forget-source", is_flag=True, help="With --to: forget the sets in the source "
              "(then prune) once every part is checked in the target.")
@common
@guarded
def backup_encrypt(archive: str | None, output: str | None, in_place: bool, force: bool,
                   password_file: str | None, password_env: str | None, backup: str | None,
                   all_sets: bool, since: str | None, destination: str | None, to: str | None,
                   forget_source: bool, profile_ref: str | None, as_json: bool,
                   verbose: int) -> None:
    """Encrypt an existing plain export (--archive), or move sets under another
    repository's master key (--to): a leaked master key is fixed only by the second;
    a leaked password by `strongroom key rotate`."""
    from orchestrator.cli import console
    from orchestrator.errors import UsageError
    from orchestrator.models import BackupEncryptRequest

    if archive is None and (password_file or password_env):
        raise UsageError("--password-file/--password-env go with --archive")
    session = console.open_session(profile_ref, verbose)
    password = console.read_password(archive is not None, password_file, password_env,
                                     confirm=True)
    request = console.build(BackupEncryptRequest, archive=archive, output=output,
                            in_place=in_place, force=force, password=password, backup=backup,
                            all=all_sets, since=since, destination=destination, to=to,
                            forget_source=forget_source)
    console.emit(console.call(session, "backup-encrypt", request), as_json, _render_encrypt)


def _render_encrypt(result: Any) -> str:
    if result.output is not None:
        return (f"encrypted {result.archive} ({result.encryption}) to {result.output}: "
                f"{result.bytes} bytes, {result.duration:.1f} s")
    lines = [f"copied to {result.target}: {', '.join(result.copied) or 'nothing new'}",
             f"checked in {result.target}: {', '.join(result.verified) or 'none'}"]
    if result.forgotten:
        lines.append(f"forgotten in {result.source} (and pruned): {', '.join(result.forgotten)}")
    return "\n".join(lines)
