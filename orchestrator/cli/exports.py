"""The exports of backup sets: download-backup, backup-migrate, decrypt.

Click options in, one tool call, rendered out; each command imports what it needs
when it runs, so that `strongroom --help` stays fast.
"""

from __future__ import annotations

import click

from orchestrator.cli.main import common, guarded, main, split_list
from orchestrator.cli.progress import progress_option
from orchestrator.cli.repo import repo_options


@main.command("download-backup")
@click.option("--backup", default="latest", show_default=True, metavar="NAME|ID|latest")
@click.option("--format", "fmt", type=click.Choice(["zip", "tar.gz", "tar.xz"]), default="zip",
              help="The archive format.",
              show_default=True)
@click.option("--encrypt", is_flag=True, help="zip: AES-256 (WinZip AE-2; opens in 7-Zip, not "
              "in plain unzip). tar: an AES-256-GCM envelope, opened by `strongroom decrypt`.")
@click.option("--password-file", metavar="FILE", help="Encryption password from a file.")
@click.option("--password-env", metavar="VAR", help="Encryption password from a variable.")
@click.option("--output", "-o", metavar="PATH|-|s3://BUCKET/KEY",
              help="Default: ./SET.EXT. '-' is stdout. s3:// uploads (AWS environment).")
@click.option("--services", multiple=True, metavar="A,B", help="Only these services.")
@click.option("--presign", type=int, metavar="SECONDS",
              help="With s3://: print an HTTPS download link valid this long.")
@click.option("--destination", "-d", metavar="REPO")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@repo_options(passwords=False)
@progress_option
@common
@guarded
def download_backup(
    backup: str, fmt: str, encrypt: bool, password_file: str | None, password_env: str | None,
    output: str | None, services: tuple[str, ...], presign: int | None,
    destination: str | None, force: bool, repo: str | None, password_command: str | None,
    repo_env: tuple[str, ...], show_progress: bool, profile_ref: str | None, as_json: bool,
    verbose: int,
) -> None:
    """Export a backup set as one archive in its logical layout (metadata.json first).

    With --repo, --password-file/--password-env are the repository's password and an
    --encrypt password is asked on the terminal."""
    from orchestrator.cli import console
    from orchestrator.cli import repo as by_repo
    from orchestrator.models import DownloadBackupRequest

    session = by_repo.open_session(
        profile_ref, verbose, repo, password_file if repo else None, password_command,
        password_env if repo else None, repo_env)
    if repo:  # the password options were the repository's
        password_file = password_env = None
    password = console.read_password(encrypt, password_file, password_env, confirm=True)
    request = console.build(
        DownloadBackupRequest, backup=backup, format=fmt, encrypt=encrypt, password=password,
        output=output, services=split_list(services), presign=presign,
        destination=destination, force=force,
    )
    from orchestrator.cli import progress

    with progress.shown(show_progress, as_json) as on_progress:
        result = console.call(session, "download-backup", request, on_progress)
    console.emit(result, as_json, console.render_download)


@main.command("backup-migrate")
@click.option("--backup", default="latest", show_default=True, metavar="NAME|ID|latest")
@click.option("--to-format", "fmt", type=click.Choice(["zip", "tar.gz", "tar.xz"]),
              help="Convert the set to this archive format.")
@click.option("--to", "to", metavar="REPO", help="Copy the set into this repository (any "
              "engine); or, with --from-archive, import the archive there.")
@click.option("--from-archive", metavar="FILE", help="An export (any format, encrypted or "
              "not) or a plain zip/tar to import as a set (with --to).")
@click.option("--name", metavar="NAME", help="With --from-archive: the imported set's name.")
@click.option("--archive-password-file", metavar="FILE",
              help="With --from-archive: the password of an encrypted export.")
@click.option("--output", "-o", metavar="PATH|-|s3://BUCKET/KEY")
@click.option("--destination", "-d", metavar="REPO", help="The repository the set is in.")
@click.option("--force", is_flag=True)
@progress_option
@common
@guarded
def backup_migrate(
    backup: str, fmt: str | None, to: str | None, from_archive: str | None, name: str | None,
    archive_password_file: str | None, output: str | None, destination: str | None,
    force: bool, show_progress: bool, profile_ref: str | None, as_json: bool, verbose: int,
) -> None:
    """Convert a backup set to an archive format (the same conversion as download-backup),
    copy it into another repository (--to REPO), or import an archive (--from-archive)."""
    from orchestrator.cli import console, progress
    from orchestrator.errors import UsageError
    from orchestrator.models import BackupMigrateRequest

    session = console.open_session(profile_ref, verbose)
    if fmt is None and to is None:
        raise UsageError("say where the set goes: --to-format zip|tar.gz|tar.xz or --to REPO")
    password = console.read_password(True, archive_password_file, None, confirm=False) \
        if archive_password_file else None
    request = console.build(BackupMigrateRequest, backup=backup, to_format=fmt, to=to,
                            from_archive=from_archive, name=name, archive_password=password,
                            output=output, destination=destination, force=force)
    with progress.shown(show_progress, as_json) as on_progress:
        result = console.call(session, "backup-migrate", request, on_progress)
    console.emit(result, as_json, console.render_download if to is None else
                 console.render_migrated)


@main.command("decrypt")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--output", "-o", metavar="PATH|-", help="Default: FILE without .enc.")
@click.option("--password-file", metavar="FILE")
@click.option("--password-env", metavar="VAR")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
@guarded
def decrypt(file: str, output: str | None, password_file: str | None,
            password_env: str | None, force: bool) -> None:
    """Open an encrypted tar export (.tar.gz.enc, .tar.xz.enc)."""
    from orchestrator.cli import console
    from orchestrator.export.unpack import decrypt_file

    password = console.read_password(True, password_file, password_env, confirm=False)
    assert password is not None
    decrypt_file(file, output, password.encode(), force)
