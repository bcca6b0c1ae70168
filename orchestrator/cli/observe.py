"""`strongroom status`, `strongroom metrics` and `strongroom serve-metrics`: registered on main."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click

from orchestrator.cli.main import common, guarded, main
from orchestrator.cli.repo import repo_options


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else "never"


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172800 else f"{seconds / 86400:.1f} d"


def render_status(result: Any) -> str:
    from orchestrator.cli.console import human_bytes

    lines = [f"{result.health}: profile {result.profile} on {result.host}"]
    lines += [f"  - {reason}" for reason in result.reasons]
    if result.schedules:
        lines.append("")
        lines.append(f"{'SCHEDULE':<18} {'STATE':<5} {'LAST RUN':<17} {'RESULT':<9} "
                     f"{'LAST SUCCESS':<17} {'AGE':>8} {'RPO':>8} {'NEXT RUN':<17} "
                     f"{'VERIFY':<7} DRILL")
    for item in result.schedules:
        verify = "-" if item.verify_ok is None else "ok" if item.verify_ok else "FAILED"
        drill = "never" if item.drill_ok is None else "ok" if item.drill_ok else "FAILED"
        lines.append(f"{item.name:<18} {item.health:<5} {_when(item.last_run):<17} "
                     f"{item.last_status or '-':<9} {_when(item.last_success):<17} "
                     f"{_span(item.age_seconds):>8} {_span(item.rpo_seconds):>8} "
                     f"{_when(item.next_run):<17} {verify:<7} {drill}")
    lines.append("")
    lines.append(f"{'REPOSITORY':<14} {'STATE':<5} {'REACHABLE':<9} {'SETS':>5} "
                 f"{'SNAPSHOTS':>9} {'STORED':>10} {'SOURCE':>10} {'ADDED 7D':>10} "
                 f"{'ADDED 30D':>10} {'LOCKS':>5} LAST CHECK")
    for repo in result.repositories:
        reachable = "-" if repo.reachable is None else "yes" if repo.reachable else "NO"
        check = "never" if repo.verify_ok is None else (
            f"{_when(repo.last_verify)} {'ok' if repo.verify_ok else 'FAILED'}")
        lines.append(f"{repo.name:<14} {repo.health:<5} {reachable:<9} "
                     f"{'-' if repo.complete_sets is None else repo.complete_sets:>5} "
                     f"{'-' if repo.snapshots is None else repo.snapshots:>9} "
                     f"{human_bytes(repo.stored_bytes):>10} {human_bytes(repo.source_bytes):>10} "
                     f"{human_bytes(repo.added_7d_bytes):>10} "
                     f"{human_bytes(repo.added_30d_bytes):>10} "
                     f"{'-' if repo.locks is None else repo.locks:>5} {check}")
    if result.hosts:
        lines.append("")
        lines.append(f"{'PROFILE':<16} {'HOST':<16} {'STATE':<5} {'SETS':>5} "
                     f"{'NEWEST SET':<34} {'AGE':>8}")
    for host in result.hosts:
        lines.append(f"{host.profile:<16} {host.host or '-':<16} {host.health:<5} "
                     f"{host.complete_sets:>5} {host.newest_set or '-':<34} "
                     f"{_span(host.age_seconds):>8}")
    if result.notify_failures:
        failed = ", ".join(f"{kind} {count}" for kind, count in result.notify_failures.items())
        lines.append(f"\nnotifications not delivered so far: {failed}")
    return "\n".join(lines)


@main.command("status")
@click.option("--no-probe", is_flag=True,
              help="Only this host's records: do not open the repositories.")
@click.option("--max-age", default="26h", show_default=True, metavar="SPAN",
              help="With --repo: a host whose newest complete set is older is late.")
@repo_options()
@common
@guarded
def status(no_probe: bool, max_age: str, repo: str | None, password_file: str | None,
           password_command: str | None, password_env: str | None, repo_env: tuple[str, ...],
           profile_ref: str | None, as_json: bool, verbose: int) -> None:
    """Health of the profile's schedules and repositories: OK, WARN or FAIL with the
    reasons; the exit code is 0, 1 or 2 (a Nagios/Icinga check). With --repo, every
    host's sets in one repository, without a profile (a fleet's shared repository)."""
    from orchestrator.cli import console
    from orchestrator.cli import repo as by_repo
    from orchestrator.errors import UsageError
    from orchestrator.models import StatusRequest

    if no_probe and repo:
        raise UsageError("--repo reads the repository: drop --no-probe")
    session = by_repo.open_session(profile_ref, verbose, repo, password_file, password_command,
                                   password_env, repo_env)
    request = console.build(StatusRequest, probe=not no_probe, max_age=max_age)
    result = console.call(session, "status", request)
    console.emit(result, as_json, render_status)
    sys.stdout.flush()
    sys.exit(result.exit_code)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _met(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "**no**"


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render_report(result: Any) -> str:
    """The report as Markdown."""
    from orchestrator.cli.console import human_bytes

    lines: list[str] = [f"# Backup report: {result.profile} on {result.host}", "",
             f"{_when(result.since)} to {_when(result.until)}", "",
             "| metric | value |", "| --- | --- |",
             f"| runs | {result.runs} |",
             f"| completion rate | {_rate(result.completion_rate)} |",
             f"| mean time to back up (MTTB) | {_span(result.mean_duration_seconds)} |",
             f"| mean time to repair (MTTR) | {_span(result.mttr_seconds)} |",
             f"| verifications | {result.verifications} |",
             f"| verification pass rate | {_rate(result.verification_pass_rate)} |",
             f"| restore drills | {result.drills or 'none recorded'} |",
             f"| drill success rate | {_rate(result.drill_success_rate)} |",
             f"| recoveries | {result.recoveries or 'none recorded'} |",
             f"| recovery success rate | {_rate(result.recovery_success_rate)} |",
             f"| restore success rate (drills and recoveries) | "
             f"{_rate(result.restore_success_rate)} |",
             f"| RTO mean / slowest | {_span(result.rto_mean_seconds)} / "
             f"{_span(result.rto_max_seconds)} |",
             f"| RTO target | {_span(result.rto_target_seconds)} |",
             f"| RTO met | {_met(result.rto_met)} |",
             f"| storage cost per month | {_money(result.monthly_cost)} |", ""]
    if result.hosts:
        lines += ["## Hosts (from the repository)", "",
                  "| profile | host | sets | complete | completion | achieved RPO | met "
                  "| newest set | age | drills (ok) |",
                  "| --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |"]
        lines += [f"| {host.profile} | {host.host or '-'} | {host.sets} | "
                  f"{host.complete_sets} | {_rate(host.completion_rate)} | "
                  f"{_span(host.achieved_rpo_seconds)} | {_met(host.rpo_met)} | "
                  f"{host.newest_set or '-'} | {_span(host.age_seconds)} | "
                  f"{host.drills} ({host.drills_ok}) |" for host in result.hosts]
        lines.append("")
    if result.restores:
        lines += ["## Restores", "", "| kind | set | started | result | RTO |",
                  "| --- | --- | --- | --- | ---: |"]
        lines += [f"| {point.kind} | {point.set} | {_when(point.started)} | "
                  f"{'ok' if point.ok else '**failed**'} | {_span(point.rto)} |"
                  for point in result.restores]
        lines.append("")
    lines += ["## Schedules and jobs", "",
             "| job | runs | ok | failed | completion | MTTB | MTTR | achieved RPO | target "
             "| met | retention |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for job in result.jobs:
        met = _met(job.rpo_met)
        lines.append(f"| {job.job} | {job.runs} | {job.succeeded} | {job.failed} | "
                     f"{_rate(job.completion_rate)} | {_span(job.mean_duration_seconds)} | "
                     f"{_span(job.mttr_seconds)} | {_span(job.achieved_rpo_seconds)} | "
                     f"{_span(job.rpo_seconds)} | {met} | {job.retention or '-'} |")
    lines += ["", "## Repositories", "",
              "| repository | encrypted | reachable | stored | source | efficiency "
              "| verifications (passed) | last verified | cost per month |",
              "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: |"]
    for repo in result.repositories:
        encrypted = "-" if repo.encrypted is None else "yes" if repo.encrypted else "no"
        reachable = "-" if repo.reachable is None else "yes" if repo.reachable else "**no**"
        efficiency = "-" if repo.efficiency is None else f"{repo.efficiency:.2f} x"
        lines.append(f"| {repo.name} | {encrypted} | {reachable} | "
                     f"{human_bytes(repo.stored_bytes)} | {human_bytes(repo.source_bytes)} | "
                     f"{efficiency} | {repo.verifications} ({repo.verifications_passed}) | "
                     f"{_when(repo.last_verify)} | {_money(repo.monthly_cost)} |")
    lines += ["", "## Compliance findings", ""]
    lines += [f"- {finding}" for finding in result.findings] or ["- none"]
    return "\n".join(lines) + "\n"


@main.command("report")
@click.option("--since", default="30d", show_default=True, metavar="SPAN",
              help="The window: 30d, 720h, …")
@click.option("--format", "output_format", type=click.Choice(["md", "json", "html"]),
              default="md", show_default=True, help="html: one page with charts (plotly).")
@click.option("-o", "--output", metavar="FILE", help="Write the report here (not stdout).")
@click.option("--force", is_flag=True, help="With -o: replace an existing file.")
@click.option("--verify-max-age", default="30d", show_default=True, metavar="SPAN",
              help="Flag repositories not verified for longer.")
@click.option("--rto-target", default="4h", show_default=True, metavar="SPAN",
              help="A restore (drill or recovery) should take no longer.")
@click.option("--max-age", default="26h", show_default=True, metavar="SPAN",
              help="With --repo: the RPO each host is held to.")
@click.option("--no-probe", is_flag=True, help="Do not open the repositories.")
@repo_options()
@common
@guarded
def report(since: str, output_format: str, output: str | None, force: bool,
           verify_max_age: str, rto_target: str, max_age: str, no_probe: bool,
           repo: str | None, password_file: str | None, password_command: str | None,
           password_env: str | None, repo_env: tuple[str, ...], profile_ref: str | None,
           as_json: bool, verbose: int) -> None:
    """Success metrics of the window from this host's runs, verifications and
    repositories: completion rate, MTTB, MTTR, achieved RPO against each schedule's
    target, verification pass rate, restore drill and recovery success and RTO against
    its target, storage efficiency and cost, compliance findings. With --repo, every
    host's sets in one repository, without a profile (a fleet's shared repository)."""
    from pathlib import Path

    from orchestrator.cli import console
    from orchestrator.cli import repo as by_repo
    from orchestrator.errors import UsageError
    from orchestrator.models import ReportRequest

    if no_probe and repo:
        raise UsageError("--repo reads the repository: drop --no-probe")
    session = by_repo.open_session(profile_ref, verbose, repo, password_file, password_command,
                                   password_env, repo_env)
    request = console.build(ReportRequest, since=since, probe=not no_probe,
                            verify_max_age=verify_max_age, rto_target=rto_target,
                            max_age=max_age)
    result = console.call(session, "report", request)
    if as_json or output_format == "json":
        text = result.model_dump_json(indent=2) + "\n"
    elif output_format == "html":
        from orchestrator.observe.report_html import render_html

        text = render_html(result)
    else:
        text = render_report(result)
    if output is None:
        click.echo(text, nl=False)
        return
    from orchestrator.run.tempfiles import write_atomic

    target = Path(output).expanduser().absolute()
    if target.exists() and not force:
        raise UsageError(f"{output} exists: give --force to replace it")
    if not target.parent.is_dir():
        raise UsageError(f"-o {output}: the folder {target.parent} does not exist")
    write_atomic(target, text.encode(), mode=0o644)
    click.echo(f"wrote {target}", err=True)


@main.command("metrics")
@click.option("--textfile", "folder", metavar="DIR",
              help="Write DIR/strongroom-<profile>.prom (atomically replaced) for "
                   "node_exporter's textfile collector instead of printing.")
@click.option("--no-probe", is_flag=True, help="Do not open the repositories.")
@guarded
def metrics(folder: str | None, no_probe: bool, verbose: int, profile_ref: str | None) -> None:
    """The profile's Prometheus metrics, printed or written as a textfile."""
    from pathlib import Path

    from orchestrator.cli import console
    from orchestrator.errors import UsageError
    from orchestrator.observe.metrics import profile_metrics, write_textfile

    session = console.open_session(profile_ref, verbose)
    if folder is None:
        click.echo(profile_metrics(session, probe=not no_probe).decode(), nl=False)
        return
    target = Path(folder).expanduser().absolute()
    if not target.is_dir():
        raise UsageError(f"--textfile {folder}: no such directory")
    path = write_textfile(session, target, probe=not no_probe)
    click.echo(f"wrote {path}", err=True)


@main.command("serve-metrics")
@click.option("--listen", "address", default="127.0.0.1:9469", show_default=True,
              metavar="HOST:PORT", help="Where to serve GET /metrics.")
@click.option("--probe-every", default=300.0, show_default=True, metavar="SECONDS",
              type=click.FloatRange(min=0), help="Open the repositories at most this often.")
@guarded
def serve_metrics(address: str, probe_every: float, verbose: int,
                  profile_ref: str | None) -> None:
    """Serve the profile's Prometheus metrics over HTTP (no authentication: bind it to
    127.0.0.1 or a monitoring network)."""
    from orchestrator.cli import console
    from orchestrator.observe.serve import serve_metrics as serve

    session = console.open_session(profile_ref, verbose)
    serve(session, address, probe_every)
