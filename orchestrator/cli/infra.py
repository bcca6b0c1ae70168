"""`strongroom backup-containers`, `backup-vm-snapshot`, `apply-retention`, `backup-sync` and
`backup-compare`: registered on main."""

from __future__ import annotations

from typing import Any

import click

from orchestrator.cli.main import common, guarded, main
from orchestrator.cli.repo import repo_options


@main.command("backup-containers")
@click.option("--service", metavar="NAME", help="Only this service's containers hooks.")
@click.option("--image", "images", multiple=True, metavar="NAME",
              help="Save this image (repeatable) instead of the profile's.")
@click.option("--volume", "volumes", multiple=True, metavar="NAME",
              help="Export this volume (repeatable) instead of the profile's.")
@click.option("--name", help="Set name (default: containers).")
@click.option("--destination", "-d", metavar="REPO")
@click.option("--verify/--no-verify", default=True, show_default=True)
@common
@guarded
def backup_containers(
    service: str | None, images: tuple[str, ...], volumes: tuple[str, ...], name: str | None,
    destination: str | None, verify: bool, profile_ref: str | None, as_json: bool,
    verbose: int,
) -> None:
    """Save container images and export volumes into the repository as a set."""
    from orchestrator.cli import console
    from orchestrator.models import BackupContainersRequest

    session = console.open_session(profile_ref, verbose)
    request = console.build(
        BackupContainersRequest, service=service, image=list(images), volume=list(volumes),
        name=name, destination=destination, verify=verify,
    )
    result = console.call(session, "backup-containers", request)
    console.emit(result, as_json, console.render_created)


@main.command("backup-vm-snapshot")
@click.option("--disk", metavar="PATH", help="A disk image (qcow2, raw, …).")
@click.option("--vm", metavar="NAME", help="A VM the profile declares (all its disks).")
@click.option("--name", help="Set name (default: vm-NAME).")
@click.option("--destination", "-d", metavar="REPO")
@click.option("--verify/--no-verify", default=True, show_default=True)
@common
@guarded
def backup_vm_snapshot(
    disk: str | None, vm: str | None, name: str | None, destination: str | None,
    verify: bool, profile_ref: str | None, as_json: bool, verbose: int,
) -> None:
    """Snapshot VM disks and stream them into the repository as raw images."""
    from orchestrator.cli import console
    from orchestrator.models import BackupVmSnapshotRequest

    session = console.open_session(profile_ref, verbose)
    request = console.build(BackupVmSnapshotRequest, disk=disk, vm=vm, name=name,
                            destination=destination, verify=verify)
    result = console.call(session, "backup-vm-snapshot", request)
    console.emit(result, as_json, console.render_created)


@main.command("apply-retention")
@click.option("--schedule", metavar="NAME", help="Only this schedule (default: all with rules).")
@click.option("--dry-run", is_flag=True, help="Only show what would be kept and removed.")
@common
@guarded
def apply_retention(schedule: str | None, dry_run: bool, profile_ref: str | None,
                    as_json: bool, verbose: int) -> None:
    """Keep what each schedule's retention keeps; forget the other sets and prune."""
    from orchestrator.cli import console
    from orchestrator.models import ApplyRetentionRequest

    session = console.open_session(profile_ref, verbose)
    request = console.build(ApplyRetentionRequest, schedule=schedule, dry_run=dry_run)
    result = console.call(session, "apply-retention", request)
    console.emit(result, as_json, console.render_retention)


@main.command("backup-compare")
@click.argument("a")
@click.argument("b")
@click.option("--destination", "-d", metavar="REPO")
@click.option("--files", "show_files", is_flag=True, help="List every changed file.")
@repo_options()
@common
@guarded
def backup_compare(a: str, b: str, destination: str | None, show_files: bool,
                   repo: str | None, password_file: str | None, password_env: str | None,
                   password_command: str | None, repo_env: tuple[str, ...],
                   profile_ref: str | None, as_json: bool, verbose: int) -> None:
    """Compare two backup sets (names, ids or latest) part by part."""
    from functools import partial

    from orchestrator.cli import console
    from orchestrator.cli import repo as by_repo
    from orchestrator.models import BackupCompareRequest

    session = by_repo.open_session(profile_ref, verbose, repo, password_file, password_command,
                                   password_env, repo_env)
    request = console.build(BackupCompareRequest, a=a, b=b, destination=destination)
    result = console.call(session, "backup-compare", request)
    console.emit(result, as_json, partial(console.render_compare, show_files=show_files))


@main.command("backup-sync")
@click.option("--from", "source", required=True, metavar="REPO", help="Repository to copy from.")
@click.option("--to", "target", required=True, metavar="REPO", help="Repository to copy to.")
@click.option("--backup", metavar="SET", help="Only this set (name, id or latest), or "
              "`continuous`: only the continuous PostgreSQL family.")
@click.option("--all", "all_sets", is_flag=True, help="Every complete set and the continuous "
              "family (the default).")
@click.option("--since", metavar="TIME", help="Only sets made at or after this time.")
@common
@guarded
def backup_sync(source: str, target: str, backup: str | None, all_sets: bool,
                since: str | None, profile_ref: str | None, as_json: bool,
                verbose: int) -> None:
    """Copy sets to another repository (for example off-site); idempotent."""
    from orchestrator.cli import console
    from orchestrator.models import BackupSyncRequest

    session = console.open_session(profile_ref, verbose)
    request = console.build(BackupSyncRequest, **{"from": source}, to=target, backup=backup,
                            all=all_sets, since=since)
    result = console.call(session, "backup-sync", request)
    console.emit(result, as_json, _render_sync)


def _render_sync(result: Any) -> str:
    lines = [f"created {result.target} with the chunker parameters of {result.source}"
             ] if result.created else []
    lines += [f"copied  {name}" for name in result.copied]
    lines += [f"present {name}" for name in result.skipped]
    lines.append(f"{result.source} → {result.target}: {len(result.copied)} set(s) copied "
                 f"({result.snapshots} snapshot(s)), {len(result.skipped)} already there")
    if result.continuous_copied or result.continuous_present:
        lines.append(f"continuous family: {result.continuous_copied} snapshot(s) copied, "
                     f"{result.continuous_present} already there")
    return "\n".join(lines)
