"""The commands over backup sets: init, create-backup, backup-files, backup-database,
verify-backup, list-backups, restore-backup
(the exports are in exports.py).

Click options in, one tool call, rendered out; each command imports what it needs
when it runs, so that `strongroom --help` stays fast.
"""

from __future__ import annotations

import click

from orchestrator.cli.main import TYPES, common, guarded, main, split_list
from orchestrator.cli.progress import progress_option
from orchestrator.cli.repo import repo_options

MODES = ["full-rebuild", "config-only", "selective"]
SET_TYPES = [*TYPES, "files", "database", "containers", "vm"]


@main.command()
@click.option("--destination", "-d", metavar="REPO", help="Only this repository.")
@common
@guarded
def init(destination: str | None, profile_ref: str | None, as_json: bool, verbose: int) -> None:
    """Create the profile's repositories (idempotent: existing ones are checked)."""
    from orchestrator.cli import console
    from orchestrator.models import InitRequest
    from orchestrator.sets import create as service

    session = console.open_session(profile_ref, verbose)
    results = service.init(session, InitRequest(destination=destination))
    console.emit(results, as_json, console.render_init)


@main.command("create-backup")
@click.option("--type", "backup_type", type=click.Choice(TYPES), default="config",
              show_default=True, help="What the set holds.")
@click.option("--name", help="Set name; the set is NAME-YYYYMMDD-HHMMSS (UTC). A NAME "
              "already ending in today's -YYYYMMDD (UTC) gets only -HHMMSS.")
@click.option("--services", multiple=True, metavar="A,B|all",
              help="Only these services (all: every one).")
@click.option("--service", "service", multiple=True, metavar="NAME",
              help="Short for --type service --services NAME (repeatable).")
@click.option("--include-data", is_flag=True, help="With --type service: data paths too.")
@click.option("--destination", "-d", metavar="REPO", help="Repository (default: the first).")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Check every part is present and the manifest reads back.")
@click.option("--compress/--no-compress", default=True, show_default=True)
@click.option("--encrypt/--no-encrypt", default=True, show_default=True,
              help="Repositories are always encrypted; --no-encrypt is refused.")
@click.option("--schedule", metavar="NAME", help="Take type, services, destination and name "
              "from [schedules.NAME].")
@progress_option
@common
@guarded
def create_backup(
    backup_type: str, name: str | None, services: tuple[str, ...], service: tuple[str, ...],
    include_data: bool, destination: str | None, verify: bool, compress: bool, encrypt: bool,
    schedule: str | None, show_progress: bool, profile_ref: str | None, as_json: bool,
    verbose: int,
) -> None:
    """Back up the profile: one run makes one backup set."""
    from orchestrator.cli import console, progress
    from orchestrator.errors import UsageError
    from orchestrator.models import CreateBackupRequest

    if service:
        given = click.get_current_context().get_parameter_source("backup_type")
        if given is click.core.ParameterSource.COMMANDLINE and backup_type != "service":
            raise UsageError(f"--service means --type service, not --type {backup_type}: "
                             "give --services A,B for the services of another type")
        backup_type, services = "service", (*services, *service)

    session = console.open_session(profile_ref, verbose)
    names = split_list(services)
    if names == ["all"] and "all" not in session.profile.services:
        names = list(session.profile.services)  # `--services all`, as people write it
    request = console.build(
        CreateBackupRequest, type=backup_type, name=name, services=names,
        include_data=include_data, destination=destination, verify=verify, compress=compress,
        encrypt=encrypt, schedule=schedule,
    )
    with progress.shown(show_progress, as_json) as on_progress:
        result = console.call(session, "create-backup", request, on_progress)
    console.emit(result, as_json, console.render_created)


@main.command("backup-files")
@click.option("--path", "paths", multiple=True, required=True, metavar="PATH",
              help="File or directory (repeatable).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Exclude glob (repeatable).")
@click.option("--name", default="files", show_default=True, help="Set name.")
@click.option("--destination", "-d", metavar="REPO")
@click.option("--verify/--no-verify", default=True, show_default=True)
@progress_option
@common
@guarded
def backup_files(
    paths: tuple[str, ...], exclude: tuple[str, ...], name: str, destination: str | None,
    verify: bool, show_progress: bool, profile_ref: str | None, as_json: bool, verbose: int,
) -> None:
    """Back up ad-hoc files and directories as a set of their own."""
    from orchestrator.cli import console, progress
    from orchestrator.models import BackupFilesRequest

    session = console.open_session(profile_ref, verbose)
    request = console.build(BackupFilesRequest, paths=list(paths), exclude=list(exclude),
                            name=name, destination=destination, verify=verify)
    with progress.shown(show_progress, as_json) as on_progress:
        result = console.call(session, "backup-files", request, on_progress)
    console.emit(result, as_json, console.render_created)


@main.command("backup-database")
@click.option("--service", metavar="NAME", help="Dump this service's database hooks.")
@click.option("--database", "databases", multiple=True, metavar="NAME",
              help="Only this database (repeatable); with --type, the database to dump "
              "(a file path for sqlite).")
@click.option("--type", "db_type",
              type=click.Choice(["postgresql", "mysql", "mariadb", "sqlite", "mongodb"]),
              help="Dump a database the profile does not name.")
@click.option("--host", help="With --type: server host.")
@click.option("--port", type=int, help="With --type: server port.")
@click.option("--username", help="With --type: user name.")
@click.option("--password-file", metavar="FILE",
              help="With --type: file holding the password (for mongodb: the connection URI).")
@click.option("--name", help="Set name (default: SERVICE-db).")
@click.option("--destination", "-d", metavar="REPO")
@click.option("--verify/--no-verify", default=True, show_default=True)
@click.option("--base", is_flag=True, help="A continuous base backup (pg_basebackup) of the "
              "service's PostgreSQL cluster, for point-in-time recovery.")
@progress_option
@common
@guarded
def backup_database(
    service: str | None, databases: tuple[str, ...], db_type: str | None, host: str | None,
    port: int | None, username: str | None, password_file: str | None, name: str | None,
    destination: str | None, verify: bool, base: bool, show_progress: bool,
    profile_ref: str | None, as_json: bool, verbose: int,
) -> None:
    """Dump databases straight into the repository as a set of their own."""
    from orchestrator.cli import console, progress
    from orchestrator.models import BackupDatabaseRequest

    session = console.open_session(profile_ref, verbose)
    request = console.build(
        BackupDatabaseRequest, service=service, database=list(databases), type=db_type,
        host=host, port=port, username=username, password_file=password_file, name=name,
        destination=destination, verify=verify, base=base,
    )
    with progress.shown(show_progress, as_json) as on_progress:
        result = console.call(session, "backup-database", request, on_progress)
    if base:
        from orchestrator.cli.pitr import render_base

        console.emit(result, as_json, render_base)
        return
    console.emit(result, as_json, console.render_created)


@main.command("verify-backup")
@click.option("--backup", default="latest", show_default=True, metavar="NAME|ID|latest")
@click.option("--deep-check", is_flag=True,
              help="Also re-read every stream against its digest and test-restore the files.")
@click.option("--read-data-subset", metavar="N%|n/t|SIZE",
              help="Have restic check read this much of the pack data (e.g. 5%).")
@click.option("--destination", "-d", metavar="REPO")
@click.option("--service", metavar="NAME",
              help="With --backup continuous: the service whose WAL chain to check.")
@repo_options()
@common
@guarded
def verify_backup(backup: str, deep_check: bool, read_data_subset: str | None,
                  destination: str | None, service: str | None, repo: str | None,
                  password_file: str | None,
                  password_env: str | None, password_command: str | None,
                  repo_env: tuple[str, ...], profile_ref: str | None, as_json: bool,
                  verbose: int) -> None:
    """Check that a set is whole and the repository sound; exit 1 when anything failed.

    --backup continuous --service S checks the WAL chain from each base backup instead."""
    if backup == "continuous":
        from orchestrator.cli.pitr import verify_continuous

        return verify_continuous(service, destination, profile_ref, as_json, verbose)
    from orchestrator.cli import console
    from orchestrator.cli import repo as by_repo
    from orchestrator.models import VerifyBackupRequest

    session = by_repo.open_session(profile_ref, verbose, repo, password_file, password_command,
                                   password_env, repo_env)
    request = console.build(VerifyBackupRequest, backup=backup, deep_check=deep_check,
                            read_data_subset=read_data_subset, destination=destination)
    result = console.call(session, "verify-backup", request)
    console.emit(result, as_json, console.render_verify)
    if not result.ok:
        raise SystemExit(1)


@main.command("list-backups")
@click.option("--destination", "-d", metavar="REPO")
@click.option("--name", help="Only sets of this name.")
@click.option("--type", "backup_type",
              type=click.Choice(SET_TYPES), help="Only sets of this type.")
@click.option("--service", help="Only sets holding this service.")
@click.option("--since", metavar="TIME", help="ISO 8601; a time without zone is local.")
@click.option("--until", metavar="TIME", help="ISO 8601; a time without zone is local.")
@click.option("--all", "show_all", is_flag=True, help="Include incomplete sets.")
@repo_options()
@common
@guarded
def list_backups(
    destination: str | None, name: str | None, backup_type: str | None, service: str | None,
    since: str | None, until: str | None, show_all: bool, repo: str | None,
    password_file: str | None, password_env: str | None, password_command: str | None,
    repo_env: tuple[str, ...], profile_ref: str | None, as_json: bool, verbose: int,
) -> None:
    """Show the backup sets in a repository (with --repo: of every profile), and the
    continuous family: base backups and the WAL archive of each continuous service."""
    from orchestrator.cli import console
    from orchestrator.cli import repo as by_repo
    from orchestrator.models import ListBackupsRequest
    from orchestrator.sets.naming import parse_timestamp

    session = by_repo.open_session(profile_ref, verbose, repo, password_file, password_command,
                                   password_env, repo_env)
    request = console.build(
        ListBackupsRequest, destination=destination, name=name, type=backup_type,
        service=service, since=parse_timestamp(since) if since else None,
        until=parse_timestamp(until) if until else None, all=show_all,
    )
    from orchestrator.cli.pitr import render_list_and_continuous

    result = console.call(session, "list-backups", request)
    if result.note and not as_json and not result.continuous:
        click.echo(result.note, err=True)  # not "no backups": other profiles have sets
        return
    console.emit(result, as_json, render_list_and_continuous)


@main.command("restore-backup")
@click.option("--backup", metavar="NAME|ID|latest",
              help="Full set name, a name (its latest set), latest, or a set id.")
@click.option("--timestamp", metavar="TIME", help="The latest complete set at or before TIME "
              "of the widest type there: disaster-recovery, then full, then any (ISO 8601; "
              "a time without zone is local time).")
@click.option("--name", help="With --timestamp: only sets of this name.")
@click.option("--type", "set_type", type=click.Choice([*SET_TYPES, *MODES]),
              help="With --timestamp or latest: only sets of this type. "
              "config-only, full-rebuild and selective are the --mode.")
@click.option("--mode", type=click.Choice(MODES), default="full-rebuild", show_default=True,
              help="full-rebuild: everything; config-only: configuration files, no data or "
              "databases; selective: what --services names.")
@click.option("--services", "--service", multiple=True, metavar="A,B",
              help="Only these services.")
@click.option("--target", metavar="DIR", help="Restore under DIR (DIR/original/path).")
@click.option("--destination", "-d", metavar="REPO", help="Repository to restore from.")
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@click.option("--verify", is_flag=True, help="Compare restored files with the backup.")
@click.option("--force", is_flag=True,
              help="Overwrite existing files and restore into non-empty databases.")
@click.option("--database", "databases", multiple=True, metavar="NAME",
              help="Only this database (repeatable).")
@click.option("--as-database", multiple=True, metavar="[OLD=]NEW",
              help="Restore a database under another name.")
@click.option("--with-globals", is_flag=True,
              help="Restore PostgreSQL roles and tablespaces (pg_dumpall --globals-only) first.")
@click.option("--vault-password-file", "vault_password_files", multiple=True,
              metavar="VAULT=FILE", help="The password of a service's own repository (vault) "
              "for this restore (repeatable). At a terminal without it, a vault whose "
              "password is missing is asked for.")
@click.option("--from-archive", metavar="FILE",
              help="Restore from an export made by download-backup instead of a repository.")
@click.option("--password-file", metavar="FILE", help="With --from-archive: its password.")
@click.option("--password-env", metavar="VAR", help="With --from-archive: its password.")
@click.option("--trust-archive", is_flag=True,
              help="With --from-archive: replay dumps whose client could run commands from "
              "the stream (psql plain SQL, command hooks) although the archive is not "
              "authenticated. Only for archives you made and nobody could change.")
@click.option("--max-bytes", metavar="SIZE", help="With --from-archive: refuse archives whose "
              "files hold more (e.g. 20G; default: the target's free space less 64 MiB).")
@click.option("--pgdata", metavar="DIR", help="With --backup continuous: the data directory "
              "to lay the cluster out in (default: the hook's data_directory).")
@click.option("--start", is_flag=True, help="With --backup continuous: start the server and "
              "wait until recovery reaches the time.")
@click.option("--pg-port", type=int, metavar="PORT",
              help="With --backup continuous: the port the restored server listens on.")
@repo_options(passwords=False)
@progress_option
@common
@guarded
def restore_backup(
    backup: str | None, timestamp: str | None, name: str | None, set_type: str | None,
    mode: str, services: tuple[str, ...], target: str | None, destination: str | None,
    dry_run: bool, verify: bool, force: bool,
    databases: tuple[str, ...], as_database: tuple[str, ...], with_globals: bool,
    vault_password_files: tuple[str, ...], from_archive: str | None,
    password_file: str | None, password_env: str | None,
    trust_archive: bool, max_bytes: str | None, repo: str | None,
    password_command: str | None, repo_env: tuple[str, ...], pgdata: str | None, start: bool,
    pg_port: int | None, show_progress: bool, profile_ref: str | None, as_json: bool,
    verbose: int,
) -> None:
    """Restore a backup set, by name or by time. Never overwrites without --force.

    --backup continuous --service S --timestamp T restores a PostgreSQL cluster to the
    second T from its base backup and archived WAL."""
    if backup == "continuous":
        from orchestrator.cli.pitr import restore_continuous

        return restore_continuous(services[0] if len(services) == 1 else None, timestamp,
                                  pgdata, force, start, pg_port, destination, profile_ref,
                                  as_json, verbose)
    from orchestrator.cli import console
    from orchestrator.cli import repo as by_repo
    from orchestrator.errors import UsageError
    from orchestrator.models import RestoreBackupRequest
    from orchestrator.profile.sizes import parse_size
    from orchestrator.sets.vault_passwords import parse_vault_password_files

    if set_type in MODES:  # `--type config-only`, as people write it: the mode
        given = click.get_current_context().get_parameter_source("mode")
        if given is click.core.ParameterSource.COMMANDLINE and mode != set_type:
            raise UsageError(f"--type {set_type} is --mode {set_type}, but --mode {mode} "
                             "was given too")
        mode, set_type = set_type, None
    if repo and from_archive:
        raise UsageError("give --repo or --from-archive, not both")
    if not repo and not from_archive and (password_file or password_env):
        raise UsageError("--password-file/--password-env: only with --repo URL or "
                         "--from-archive FILE")
    session = by_repo.open_session(
        profile_ref, verbose, repo, password_file if repo else None, password_command,
        password_env if repo else None, repo_env)
    if repo:  # the password options were the repository's
        password_file = password_env = None
    vault_files = parse_vault_password_files(vault_password_files)
    if not vault_files:
        session.ask_vault_password = console.vault_password_prompt()
    request = console.build(
        RestoreBackupRequest, backup=backup, timestamp=timestamp, name=name, type=set_type,
        mode=mode,
        services=split_list(services), target=target, destination=destination,
        dry_run=dry_run, verify=verify, force=force, databases=list(databases), confirm=True,
        as_database=list(as_database), with_globals=with_globals, from_archive=from_archive,
        vault_password_files=vault_files,
        archive_password=console.read_password(
            bool(password_file or password_env), password_file, password_env, confirm=False),
        trust_archive=trust_archive,
        max_bytes=parse_size(max_bytes, "--max-bytes") if max_bytes else None,
    )
    from orchestrator.cli import progress

    with progress.shown(show_progress and not request.dry_run, as_json) as on_progress:
        result = console.call(session, "restore-backup", request, on_progress)
    console.emit(result, as_json, console.render_restore)
