"""`strongroom recover`: rebuild a host from a disaster-recovery set; registered on main.

Without --yes it shows the plan (a dry run of the same tool) on stderr and asks on the
terminal; with no terminal it refuses. The exit code is 1 when a step failed.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from orchestrator.cli.main import common, guarded, main, split_list
from orchestrator.cli.repo import repo_options

PARTS = "files,databases,containers,vms,schedules"


@main.command("recover")
@click.option("--backup", metavar="NAME|ID|latest", help="The disaster-recovery set (default: "
              "the latest complete one).")
@click.option("--timestamp", metavar="TIME", help="The latest disaster-recovery set at or "
              "before TIME (ISO 8601; a time without zone is local time).")
@click.option("--target", metavar="DIR", help="Restore under DIR (DIR/original/path); "
              "schedules are then not installed.")
@click.option("--destination", "-d", metavar="REPO", help="With --profile: the repository.")
@click.option("--only", multiple=True, metavar=PARTS, help="Only these parts (the profile "
              "files always come first).")
@click.option("--skip", multiple=True, metavar=PARTS, help="Not these parts.")
@click.option("--install", type=click.Choice(["auto", "systemd", "cron", "none"]),
              default="auto", show_default=True, help="How schedules are reinstalled "
              "(auto: as the set's inventory says the host had them; without one, systemd "
              "when it runs here, else cron).")
@click.option("--wait", type=click.FloatRange(0, 3600), default=60.0, show_default=True,
              metavar="SECONDS", help="How long to wait for each database server.")
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before writing.")
@click.option("--force", is_flag=True,
              help="Overwrite existing files and restore into non-empty databases.")
@repo_options()
@common
@guarded
def recover(
    backup: str | None, timestamp: str | None, target: str | None, destination: str | None,
    only: tuple[str, ...], skip: tuple[str, ...], install: str, wait: float, dry_run: bool,
    yes: bool, force: bool, repo: str | None, password_file: str | None,
    password_env: str | None, password_command: str | None, repo_env: tuple[str, ...],
    profile_ref: str | None, as_json: bool, verbose: int,
) -> None:
    """Rebuild this host from a disaster-recovery set: the profile first, then files,
    databases, containers, VM disks and schedules, with a report (RTO, RPO, what is
    left to do). Never overwrites without --force."""
    from orchestrator.cli import console
    from orchestrator.cli import repo as by_repo
    from orchestrator.errors import ConflictError, NotFoundError, UsageError
    from orchestrator.models import RecoverRequest
    from orchestrator.sets.recover_plan import chosen_parts

    chosen_parts(split_list(only), split_list(skip))  # a bad part name: one message first
    try:
        session = by_repo.open_session(profile_ref, verbose, repo, password_file,
                                       password_command, password_env, repo_env)
    except NotFoundError as exc:
        if repo is None and profile_ref is None:
            exc.hint = ("a host without its profile: recover --repo URL --password-file FILE "
                        "(or --password-command / --password-env)")
        raise
    values: dict[str, Any] = {
        "backup": backup, "timestamp": timestamp, "target": target,
        "destination": destination, "only": split_list(only), "skip": split_list(skip),
        "force": force, "install": install, "wait": wait}
    if not dry_run and not yes:
        plan = console.call(session, "recover", console.build(RecoverRequest, **values,
                                                              dry_run=True))
        click.echo(render_recovery(plan), err=True)
        if plan.conflicts and not force:
            raise ConflictError(f"recovering {plan.set} would overwrite "
                                f"{len(plan.conflicts)} existing path(s) or database(s) "
                                "(listed above); nothing was written; use --force to "
                                "overwrite or --target DIR to recover elsewhere")
        if not sys.stdin.isatty():
            raise UsageError("recover writes over this host: confirm on a terminal, or pass "
                             "--yes (--dry-run shows the plan)")
        if not click.confirm(f"Recover {plan.set} onto {plan.target}?", err=True):
            console.fail("nothing was done", 1)
    request = console.build(RecoverRequest, **values, dry_run=dry_run)
    with console.spinner(as_json, "recovering"):
        result = console.call(session, "recover", request)
    console.emit(result, as_json, render_recovery)
    if not result.ok:
        sys.exit(1)


def render_recovery(result: Any) -> str:
    from orchestrator.cli.console import human_bytes

    verb = "would recover" if result.dry_run else "recovered" if result.ok else \
        "recovered with failures"
    lines = [f"{verb} {result.set} (profile {result.profile}, id {result.id}) from "
             f"{result.repository} to {result.target}:"]
    for number, step in enumerate(result.steps, 1):
        size = f", {human_bytes(step.bytes)}" if step.bytes else ""
        took = f", {step.duration:.1f} s" if not result.dry_run else ""
        lines.append(f"  {number:2}. [{step.result}] {step.name}{size}{took}")
        if result.dry_run:
            lines += [f"        {target}" for target in step.targets[:5]]
        if step.error:
            lines.append(f"        error: {step.error}")
    if result.conflicts:
        what = "would be overwritten (--force)" if result.dry_run else "overwritten"
        lines.append(f"  {len(result.conflicts)} existing path(s) or database(s) {what}:")
        lines += [f"    {path}" for path in result.conflicts[:20]]
    lines.append(f"  RPO: the set was {_span(result.rpo)} old"
                 + ("" if result.dry_run else f"; RTO: {_span(result.rto)}"))
    if result.follow_up:
        lines.append("  still to do:")
        lines += [f"    - {item.text}" for item in result.follow_up]
    if result.report:
        lines.append(f"  report: {result.report}")
    return "\n".join(lines)


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
