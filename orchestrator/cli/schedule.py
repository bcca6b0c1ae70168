"""`strongroom schedule-backup` and `strongroom scheduler`: registered on main."""

from __future__ import annotations

from typing import Any

import click

from orchestrator.cli.main import TYPES, common, guarded, main, split_list


@main.command("schedule-backup")
@click.option("--name", metavar="NAME", help="The schedule's name ([schedules.NAME]).")
@click.option("--schedule", "cron", metavar="CRON",
              help="Cron expression ('0 3 * * *') or @hourly, @daily, @weekly, @monthly.")
@click.option("--type", "backup_type", type=click.Choice([*TYPES, "drill"]), default="config",
              show_default=True, help="What each run makes (drill: a restore rehearsal).")
@click.option("--services", multiple=True, metavar="A,B", help="With --type service: which.")
@click.option("--include-data", is_flag=True, help="With --type service: data paths too.")
@click.option("--destination", "-d", metavar="REPO", help="Repository (default: the first).")
@click.option("--retention", metavar="SPAN", help="Keep sets newer than 30d, 12w, 12m, 1y.")
@click.option("--keep-last", type=int, metavar="N")
@click.option("--keep-hourly", type=int, metavar="N")
@click.option("--keep-daily", type=int, metavar="N")
@click.option("--keep-weekly", type=int, metavar="N")
@click.option("--keep-monthly", type=int, metavar="N")
@click.option("--keep-yearly", type=int, metavar="N")
@click.option("--encrypt/--no-encrypt", default=True, show_default=True,
              help="Repositories are always encrypted; a schedule saying no is refused when "
              "it runs, as create-backup --no-encrypt is.")
@click.option("--randomized-delay", metavar="SPAN",
              help="Start up to this much later (systemd RandomizedDelaySec): 15min.")
@click.option("--sync-to", multiple=True, metavar="REPO",
              help="After each run, copy the set to this repository too (repeatable).")
@click.option("--install", type=click.Choice(["auto", "systemd", "cron", "none"]),
              default="auto", show_default=True,
              help="auto: systemd when it runs here, else cron.")
@click.option("--replace", is_flag=True, help="Replace a schedule of that name.")
@click.option("--dry-run", is_flag=True, help="Print what would be written; change nothing.")
@click.option("--list", "list_all", is_flag=True,
              help="Show every schedule: next runs, last run, last success.")
@click.option("--remove", metavar="NAME", help="Uninstall the schedule and delete it from "
              "the profile.")
@common
@guarded
def schedule_backup(
    name: str | None, cron: str | None, backup_type: str, services: tuple[str, ...],
    include_data: bool, destination: str | None, retention: str | None,
    keep_last: int | None, keep_hourly: int | None, keep_daily: int | None,
    keep_weekly: int | None, keep_monthly: int | None, keep_yearly: int | None,
    encrypt: bool, randomized_delay: str | None, sync_to: tuple[str, ...], install: str,
    replace: bool, dry_run: bool,
    list_all: bool, remove: str | None, profile_ref: str | None, as_json: bool, verbose: int,
) -> None:
    """Add a schedule to the profile and install it as a systemd timer or cron entry.

    The profile keeps its comments and layout. With only --name, the profile's
    schedule of that name is (re)installed as it is. Scheduled runs take the
    profile's lock, so two runs of one profile never overlap.
    """
    from orchestrator.cli import console
    from orchestrator.errors import UsageError
    from orchestrator.models import ScheduleBackupRequest

    if list_all and remove:
        raise UsageError("--list and --remove cannot be combined")
    action = "list" if list_all else "remove" if remove else "add"
    session = console.open_session(profile_ref, verbose)
    request = console.build(
        ScheduleBackupRequest, action=action, name=remove or name, schedule=cron,
        backup_type=backup_type, services=split_list(services), include_data=include_data,
        destination=destination, retention=retention, keep_last=keep_last,
        keep_hourly=keep_hourly, keep_daily=keep_daily, keep_weekly=keep_weekly,
        keep_monthly=keep_monthly, keep_yearly=keep_yearly, encrypt=encrypt,
        randomized_delay=randomized_delay, sync_to=split_list(sync_to), install=install,
        dry_run=dry_run, replace=replace)
    result = console.call(session, "schedule-backup", request)
    console.emit(result, as_json, render_schedule_result)


@main.command("scheduler")
@click.option("--max-runs", type=int, metavar="N", help="Exit after N runs.")
@common
@guarded
def scheduler(max_runs: int | None, profile_ref: str | None, as_json: bool,
              verbose: int) -> None:
    """Run the profile's schedules in the foreground (no systemd or cron needed).

    A schedule whose time passed while the scheduler was down runs once at start.
    Stop it with Ctrl-C or SIGTERM.
    """
    from orchestrator.cli import console
    from orchestrator.schedule.scheduler import serve_profile

    session = console.open_session(profile_ref, max(verbose, 1))
    serve_profile(session, max_runs)


def render_schedule_result(result: Any) -> str:
    lines: list[str] = []
    if result.action == "add":
        where = result.install if result.install != "none" else "not installed"
        lines.append(f"schedule {result.change} in {result.profile_file} ({where})"
                     if not result.dry_run else f"dry run: {where}")
    elif result.action == "remove" and result.change == "removed":
        lines.append(f"schedule removed from {result.profile_file}")
    for item in result.files:
        if result.dry_run:
            lines += [f"--- {item.path}", item.content.rstrip("\n")]
        else:
            lines.append(f"wrote {item.path}")
    lines += [f"ran {command}" for command in result.commands]
    lines += result.notes
    if result.action == "list" and not result.schedules:
        lines.append(f"profile {result.profile} has no schedules")
    for info in result.schedules:
        lines += _schedule_lines(info)
    return "\n".join(lines)


def _schedule_lines(info: Any) -> list[str]:
    def when(moment: Any) -> str:
        return moment.astimezone().strftime("%Y-%m-%d %H:%M %Z") if moment else "never"

    last = f"{when(info.last_run)} ({info.last_status})" if info.last_run else "never"
    return [
        f"{info.name}: {info.schedule}  {info.type} → {info.destination}, "
        f"retention {info.retention}",
        f"  installed: {', '.join(info.installed) or 'no'}",
        f"  next: {', '.join(when(moment) for moment in info.next_runs)}",
        f"  last run: {last}; last success: {when(info.last_success)}",
    ]
