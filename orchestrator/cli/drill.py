"""The drill command: a restore rehearsal of a set, and how its result reads."""

from __future__ import annotations

from typing import Any

import click

from orchestrator.cli.main import common, guarded, main, split_list
from orchestrator.cli.repo import repo_options


@main.command("drill")
@click.option("--backup", metavar="NAME|ID|latest",
              help="The set to rehearse (default: the latest complete set).")
@click.option("--services", multiple=True, metavar="A,B", help="Only these services.")
@click.option("--workdir", metavar="DIR",
              help="Make the sandbox folder inside DIR (default: the temporary folder).")
@click.option("--keep", is_flag=True, help="Leave the sandbox (folder, temporary databases "
              "and volumes) in place to inspect it.")
@click.option("--schedule", metavar="NAME", help="Take the set's name, services and "
              "destination from [schedules.NAME] (type = \"drill\").")
@click.option("--destination", "-d", metavar="REPO", help="Repository to rehearse from.")
@repo_options()
@common
@guarded
def drill(
    backup: str | None, services: tuple[str, ...], workdir: str | None, keep: bool,
    schedule: str | None, destination: str | None, repo: str | None,
    password_file: str | None, password_env: str | None, password_command: str | None,
    repo_env: tuple[str, ...], profile_ref: str | None, as_json: bool, verbose: int,
) -> None:
    """Rehearse a restore without touching live data; exit 1 when any check failed.

    Files go to a temporary folder, SQL databases under temporary names, sqlite
    databases and VM disks to temporary files, container volumes into temporary
    volumes; each is checked, then removed (unless --keep). Prints the RTO."""
    from orchestrator.cli import console
    from orchestrator.cli import repo as by_repo
    from orchestrator.models import DrillRequest

    session = by_repo.open_session(profile_ref, verbose, repo, password_file, password_command,
                                   password_env, repo_env)
    request = console.build(DrillRequest, backup=backup, services=split_list(services),
                            workdir=workdir, keep=keep, schedule=schedule,
                            destination=destination)
    with console.spinner(as_json, "rehearsing"):
        result = console.call(session, "drill", request)
    console.emit(result, as_json, render_drill)
    if not result.ok:
        raise SystemExit(1)


def render_drill(result: Any) -> str:
    from orchestrator.cli.console import human_bytes

    lines = [f"drill {result.set}: {'ok' if result.ok else 'FAILED'} "
             f"(RTO {result.rto:.1f} s, RPO {_span(result.rpo)})"]
    width = max((len(check.part) for check in result.checks), default=0)
    for check in result.checks:
        mark = "ok    " if check.ok else "FAILED"
        detail = check.detail.replace("\n", "\n" + " " * (width + 12))
        lines.append(f"  {check.part.ljust(width)}  {mark}  {detail} "
                     f"[{human_bytes(check.bytes)}, {check.duration:.1f} s]")
        for table in check.tables[:50]:
            lines.append(f"      {table.table}: {table.rows} row(s), {table.checksum}")
    if result.kept:
        lines.append(f"  kept for inspection: {result.workdir} (and the temporary databases "
                     "and volumes named above); remove them when done")
    for what in result.left_behind:
        lines.append(f"  NOT REMOVED: {what}")
    if result.record_part:
        lines.append(f"  (recorded in the set as {result.record_part})")
    return "\n".join(lines)


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"
