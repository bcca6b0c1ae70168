"""`strongroom pitr setup|status|ship`, and the two commands PostgreSQL runs itself:
`wal-push` (archive_command) and `wal-fetch` (restore_command).

wal-push and wal-fetch run as the server's OS user, once per WAL file: they call their
operation directly, without the audit log or the profile lock (which belong to the
strongroom user), and answer PostgreSQL with an exit code alone.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from orchestrator.cli.main import common, guarded, main

# restore_command: non-zero is "not archived" (recovery ends there); above 125 is an
# error that stops recovery instead of promoting early.
FETCH_NOT_FOUND = 1
FETCH_FAILED = 126


@main.group()
def pitr() -> None:
    """Continuous backup of PostgreSQL: WAL archiving through the repository."""


@pitr.command("setup")
@click.option("--service", required=True, metavar="NAME",
              help="A service with a postgresql hook saying continuous = true.")
@click.option("--dry-run", is_flag=True, help="Print the settings and the unit; change nothing.")
@click.option("--install", type=click.Choice(["auto", "systemd", "none"]), default="auto",
              show_default=True, help="The shipper's systemd service unit: auto writes it "
              "where systemd runs.")
@click.option("--ship-every", type=float, metavar="SECONDS",
              help="The shipper's round (default: half the archive_timeout, 5 to 30 s).")
@common
@guarded
def pitr_setup(service: str, dry_run: bool, install: str, ship_every: float | None,
               profile_ref: str | None, as_json: bool, verbose: int) -> None:
    """Turn on WAL archiving into strongroom (ALTER SYSTEM), create the spool and install
    the shipper's service unit."""
    from orchestrator.cli import console
    from orchestrator.models import PitrSetupRequest

    session = console.open_session(profile_ref, verbose)
    request = console.build(PitrSetupRequest, service=service, dry_run=dry_run,
                            install=install, ship_every=ship_every)
    console.emit(console.call(session, "pitr-setup", request), as_json, render_setup)


@pitr.command("status")
@click.option("--service", required=True, metavar="NAME")
@click.option("--destination", "-d", metavar="REPO")
@common
@guarded
def pitr_status(service: str, destination: str | None, profile_ref: str | None,
                as_json: bool, verbose: int) -> None:
    """The archiver, the spool backlog, the last WAL stored and the RPO achieved."""
    from orchestrator.cli import console
    from orchestrator.models import PitrStatusRequest

    session = console.open_session(profile_ref, verbose)
    request = console.build(PitrStatusRequest, service=service, destination=destination)
    console.emit(console.call(session, "pitr-status", request), as_json, render_status)


@pitr.command("ship")
@click.option("--service", required=True, metavar="NAME")
@click.option("--destination", "-d", metavar="REPO")
@click.option("--batch-files", type=int, default=64, show_default=True,
              help="At most this many WAL files per engine run.")
@click.option("--every", type=float, metavar="SECONDS",
              help="Keep shipping, this often (the shipper as a service).")
@common
@guarded
def pitr_ship(service: str, destination: str | None, batch_files: int, every: float | None,
              profile_ref: str | None, as_json: bool, verbose: int) -> None:
    """Move the spooled WAL into the repository, one engine run per batch."""
    import time

    from orchestrator.cli import console
    from orchestrator.models import ShipRequest

    session = console.open_session(profile_ref, verbose)
    request = console.build(ShipRequest, service=service, destination=destination,
                            batch_files=batch_files)
    if every is None:
        console.emit(console.call(session, "pitr-ship", request), as_json, render_ship)
        return
    from orchestrator.errors import StrongroomError

    while True:  # a failed round (repository unreachable, locked) is retried next round
        try:
            console.emit(console.call(session, "pitr-ship", request), as_json, render_ship)
        except StrongroomError as exc:
            click.echo(f"strongroom: error: {exc.render()} (retrying in {every:g} s)", err=True)
        time.sleep(every)


@pitr.command("verify")
@click.option("--service", required=True, metavar="NAME")
@click.option("--destination", "-d", metavar="REPO")
@common
@guarded
def pitr_verify(service: str, destination: str | None, profile_ref: str | None,
                as_json: bool, verbose: int) -> None:
    """Check the WAL chain from each base backup; exit 1 on a gap."""
    verify_continuous(service, destination, profile_ref, as_json, verbose)


@pitr.command("prune")
@click.option("--service", required=True, metavar="NAME")
@click.option("--keep-bases", type=int, required=True, metavar="N",
              help="Keep the newest N base backups and the WAL they need.")
@click.option("--destination", "-d", metavar="REPO")
@click.option("--dry-run", is_flag=True, help="Only say what would be forgotten.")
@common
@guarded
def pitr_prune(service: str, keep_bases: int, destination: str | None, dry_run: bool,
               profile_ref: str | None, as_json: bool, verbose: int) -> None:
    """Retention of the continuous family: forget older base backups and their WAL."""
    from orchestrator.cli import console
    from orchestrator.models import PitrPruneRequest

    session = console.open_session(profile_ref, verbose)
    request = console.build(PitrPruneRequest, service=service, keep_bases=keep_bases,
                            destination=destination, dry_run=dry_run)
    console.emit(console.call(session, "pitr-prune", request), as_json, render_prune)


def verify_continuous(service: str | None, destination: str | None, profile_ref: str | None,
                      as_json: bool, verbose: int) -> None:
    """pitr verify, and verify-backup --backup continuous."""
    from orchestrator.cli import console
    from orchestrator.errors import UsageError
    from orchestrator.models import PitrVerifyRequest

    if not service:
        raise UsageError("--backup continuous needs --service")
    session = console.open_session(profile_ref, verbose)
    request = console.build(PitrVerifyRequest, service=service, destination=destination)
    result = console.call(session, "pitr-verify", request)
    console.emit(result, as_json, render_verify)
    if not result.ok:
        sys.exit(1)


def _profile_given(profile_ref: str | None) -> None:
    """PostgreSQL runs these commands: the profile is named, never discovered."""
    if not profile_ref:
        raise click.UsageError("-p PATH is required (the profile, as a file)")


@main.command("wal-push")
@click.option("--service", required=True, metavar="NAME")
@click.argument("path")
@guarded
def wal_push(profile_ref: str | None, service: str, path: str) -> None:
    """archive_command: copy the WAL file PATH (%p) durably into the spool."""
    from orchestrator.cli import console
    from orchestrator.pitr.ship import wal_push as push

    _profile_given(profile_ref)
    session = console.open_session(profile_ref, 0)
    push(session, service, path)


@main.command("wal-fetch")
@click.option("--service", required=True, metavar="NAME")
@click.option("--cache", metavar="DIR", help="The restore's cache of fetched batches.")
@click.option("--destination", "-d", metavar="REPO")
@click.argument("name")
@click.argument("path")
def wal_fetch(profile_ref: str | None, service: str, cache: str | None, destination: str | None,
              name: str, path: str) -> None:
    """restore_command: the WAL file NAME (%f) into PATH (%p); exit 1 when not archived."""
    from pathlib import Path

    from orchestrator.cli import console
    from orchestrator.errors import StrongroomError
    from orchestrator.pitr.fetch import WalNotFound
    from orchestrator.pitr.fetch import wal_fetch as fetch

    _profile_given(profile_ref)
    try:
        session = console.open_session(profile_ref, 0)
        fetch(session, service, name, Path(path).absolute(), Path(cache) if cache else None,
              destination)
    except WalNotFound as exc:
        click.echo(f"strongroom: {exc.message}", err=True)
        sys.exit(FETCH_NOT_FOUND)
    except (StrongroomError, OSError) as exc:
        message = exc.render() if isinstance(exc, StrongroomError) else str(exc)
        click.echo(f"strongroom: error: cannot fetch {name}: {message}", err=True)
        sys.exit(FETCH_FAILED)


def render_setup(result: Any) -> str:
    lines = [f"{'applied' if result.applied else 'would run'}:"]
    lines += [f"  {statement};" for statement in result.statements]
    lines.append(f"spool: {result.spool}")
    if result.wal_segment_size:
        lines.append(f"WAL segment size: {result.wal_segment_size // 1024} KiB")
    for item in result.files:
        lines.append(f"{'wrote' if result.applied else 'would write'} {item.path}:")
        lines += [f"  {line}" for line in item.content.splitlines()]
    lines += [f"ran: {command}" for command in result.commands]
    if result.restart_needed:
        lines.append("restart PostgreSQL to start archiving (archive_mode changes need it)")
    elif result.applied:
        lines.append("archiving is on (no restart needed)")
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines)


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def render_status(result: Any) -> str:
    rpo = f"{result.rpo_seconds:.0f} s" if result.rpo_seconds is not None else "-"
    lines = [
        f"archiver: {result.archived_count if result.archived_count is not None else '?'} "
        f"archived, last {result.last_archived_wal or '-'} at "
        f"{_when(result.last_archived_time)}; {result.failed_count or 0} failed"
        + (f", last {result.last_failed_wal} at {_when(result.last_failed_time)}"
           if result.last_failed_wal else ""),
        f"spool: {result.spool_files} file(s), {result.spool_bytes} bytes, oldest "
        f"{_when(result.oldest_spooled)}",
        f"repository: last WAL {result.last_stored_wal or '-'} archived at "
        f"{_when(result.last_stored_time)}; {result.base_backups} base backup(s)",
        f"RPO achieved: {rpo}",
        f"shipper: {result.shipper}" + (f" ({result.shipper_unit})" if result.shipper_unit
                                        else ""),
    ]
    return "\n".join(lines + [f"note: {note}" for note in result.notes])


def render_ship(result: Any) -> str:
    text = (f"shipped {result.files} WAL file(s) in {result.batches} batch(es) to "
            f"{result.repository}")
    return text + (f" ({result.note})" if result.note else "")


def render_verify(result: Any) -> str:
    lines = []
    for chain in result.bases:
        state = "ok" if chain.usable and not chain.gaps else "BROKEN"
        lines.append(f"{chain.base}: {state}, WAL {chain.start_wal} … "
                     f"{chain.chain_end or '(none)'} without a gap"
                     + (f"; missing {', '.join(chain.gaps)}" if chain.gaps else "")
                     + ("" if chain.usable else f"; needs at least {chain.stop_wal}"))
    lines += [f"note: {note}" for note in result.notes]
    lines.append("WAL chain ok" if result.ok else "WAL chain NOT ok")
    return "\n".join(lines)


def render_list_and_continuous(result: Any) -> str:
    """list-backups: the sets, then per continuous service its base backups and WAL."""
    from orchestrator.cli.console import human_bytes, render_list

    if not result.continuous:
        return render_list(result)
    lines = [render_list(result)] if result.backups else []
    for family in result.continuous:
        owner = f" of profile {family.profile}" if result.all_profiles else ""
        lines += ["", f"continuous backup of service {family.service}{owner}: "
                  f"{len(family.bases)} base backup(s), {family.wal_batches} WAL batch(es) "
                  f"holding {family.wal_segments} segment(s)"]
        if family.bases:
            lines.append(f"  recoverable to any second from {_when(family.recoverable_from)} "
                         f"to {_when(family.last_archived)}" if family.last_archived else
                         "  recoverable to the end of a base backup (no WAL stored yet)")
        if family.first_wal:
            lines.append(f"  WAL archive: {family.first_wal} … {family.last_wal}, archived "
                         f"{_when(family.first_archived)} to {_when(family.last_archived)}")
        rows = [("BASE", "FINISHED (UTC)", "TIMELINE", "WAL", "SIZE")] + [
            (base.base, base.time.strftime("%Y-%m-%d %H:%M:%S"), str(base.timeline),
             f"{base.start_wal} … {base.stop_wal}", human_bytes(base.size))
            for base in family.bases]
        if family.bases:
            widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
            lines += ["  " + "  ".join(cell.ljust(width) for cell, width in
                                       zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines).lstrip("\n")


def render_prune(result: Any) -> str:
    verb = "would forget" if result.dry_run else "forgot"
    return (f"kept {len(result.kept_bases)} base backup(s); {verb} "
            f"{len(result.forgotten_bases)} base backup(s) and {result.forgotten_batches} WAL "
            f"batch(es); {result.kept_batches} batch(es) stay")


def render_base(result: Any) -> str:
    return (f"base backup {result.base} ({result.snapshot_id[:8]}) in {result.repository}: "
            f"timeline {result.timeline}, WAL {result.start_lsn} ({result.start_wal}) to "
            f"{result.stop_lsn} ({result.stop_wal}), {result.bytes} bytes")


def render_restore(result: Any) -> str:
    lines = [f"laid out base backup {result.base} in {result.pgdata}"]
    if result.to_end:
        lines.append("recovery target: the end of the archived WAL")
    else:
        lines.append(f"recovery target: {result.recovery_target_time.isoformat()}")
    lines += [f"note: {note}" for note in result.notes]
    if result.started:
        lines.append(f"started and promoted; recovered up to {result.reached or 'the end'}")
    else:
        lines += result.instructions
    return "\n".join(lines)


def restore_continuous(service: str | None, timestamp: str | None, pgdata: str | None,
                       force: bool, start: bool, port: int | None, destination: str | None,
                       profile_ref: str | None, as_json: bool, verbose: int) -> None:
    """restore-backup --backup continuous (called by that command)."""
    from orchestrator.cli import console
    from orchestrator.errors import UsageError
    from orchestrator.models import PitrRestoreRequest

    if not service or not timestamp:
        raise UsageError("--backup continuous needs --service and --timestamp")
    session = console.open_session(profile_ref, verbose)
    request = console.build(PitrRestoreRequest, service=service, timestamp=timestamp,
                            pgdata=pgdata, force=force, start=start, port=port,
                            destination=destination, confirm=True)
    console.emit(console.call(session, "restore-continuous", request), as_json, render_restore)
