"""`strongroom mcp`, `strongroom audit …` and `strongroom profile …`: registered on main."""

from __future__ import annotations

import sys

import click

from orchestrator.cli.main import common, guarded, main


@main.command("mcp")
@click.option("--http", "address", metavar="HOST:PORT",
              help="Serve streamable HTTP at /mcp instead of stdio (needs --token-file).")
@click.option("--token-file", metavar="FILE", help="With --http: the bearer token clients send.")
@guarded
def mcp(profile_ref: str | None, verbose: int, address: str | None,
        token_file: str | None) -> None:
    """Serve the tools over MCP on stdio (logs go to stderr), or over HTTP."""
    from orchestrator.cli import console

    session = console.open_session(profile_ref, verbose)
    from orchestrator.cli.options import global_value

    role = global_value("role")
    if address is not None and not token_file:
        raise click.UsageError("--http needs --token-file FILE holding the bearer token")
    try:
        if address is None:
            from orchestrator.access.mcp import serve_stdio

            serve_stdio(session, role)
        else:
            from orchestrator.access.mcp import serve_http

            serve_http(session, role, address, token_file or "")
    except KeyboardInterrupt as exc:
        _stop_server(exc)


def _stop_server(exc: KeyboardInterrupt) -> None:
    """Ctrl-C, SIGTERM or SIGHUP: end the tools' children and leave at once; a normal
    exit would wait for threads blocked on the client (stdin) or on running tools."""
    import os

    from orchestrator.run import end_children
    from orchestrator.run.signals import interrupted

    end_children()
    message, code = interrupted(exc)
    click.echo(f"strongroom: error: {message}", err=True)
    sys.stdout.flush()
    os._exit(code)


@main.group()
def audit() -> None:
    """Show and verify the audit log (hash-chained JSON lines in the state directory)."""


@audit.command("verify")
@click.option("-d", "--destination", metavar="REPO",
              help="Repository whose sets hold the anchors (default: the profile's first).")
@click.option("--no-anchors", is_flag=True, help="Check the chain alone.")
@common
@guarded
def audit_verify(destination: str | None, no_anchors: bool, profile_ref: str | None,
                 as_json: bool, verbose: int) -> None:
    """Check the chain, the head, the hmacs and the anchors stored in the sets: an edited,
    deleted, inserted, reordered, truncated or recomputed line is named."""
    import json

    from orchestrator.access import anchors as audit_anchors
    from orchestrator.cli import console

    session = console.open_session(profile_ref, verbose)
    report = audit_anchors.verify_session(session, destination, not no_anchors)
    count = len(report.lines or [])
    if as_json:
        click.echo(json.dumps({"lines": count, "ok": not report.problems,
                               "anchors": report.anchors, "notes": report.notes,
                               "problems": [p.render() for p in report.problems]}, indent=2))
    else:
        for problem in report.problems:
            click.echo(f"audit log: {problem.render()}", err=True)
        if not report.problems:
            click.echo(f"audit log ok: {count} line(s), chain intact")
        for note in report.notes:
            click.echo(f"audit log: {note}", err=bool(report.problems))
    if report.problems:
        sys.exit(1)


@audit.command("show")
@click.option("--since", metavar="TIME", help="ISO 8601; a time without zone is local.")
@common
@guarded
def audit_show(since: str | None, profile_ref: str | None, as_json: bool, verbose: int) -> None:
    """The audit log's entries."""
    import json

    from orchestrator.access import audit as log
    from orchestrator.cli import console
    from orchestrator.sets.naming import parse_timestamp

    session = console.open_session(profile_ref, verbose)
    entries = log.read(session.state.root, parse_timestamp(since) if since else None)
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    for entry in entries:
        what = entry.get("set") or entry.get("error") or ""
        click.echo(f"{entry.get('time', '')[:19]}  {entry.get('user', '')}  "
                   f"{entry.get('origin', '')}  {entry.get('role') or '-'}  "
                   f"{entry.get('tool', '')}  {entry.get('result', '')}  {what}".rstrip())


@main.group()
def profile() -> None:
    """Validate, show and describe profiles."""


@profile.command("validate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@common
@guarded
def profile_validate(
    files: tuple[str, ...], profile_ref: str | None, as_json: bool, verbose: int
) -> None:
    """Check profiles; every error is reported with file:line:column and key path."""
    from orchestrator.cli import profiles

    profiles.validate_profiles(list(files), profile_ref, as_json, verbose)


@profile.command("show")
@common
@guarded
def profile_show(profile_ref: str | None, as_json: bool, verbose: int) -> None:
    """The resolved profile (extends and ${VARS} applied), secrets redacted."""
    from orchestrator.cli import profiles

    profiles.show_profile(profile_ref, as_json, verbose)


@profile.command("schema")
@guarded
def profile_schema() -> None:
    """The profile's JSON Schema."""
    import json

    from orchestrator.profile.load import profile_json_schema

    click.echo(json.dumps(profile_json_schema(), indent=2))


@main.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script (commands, options, profile and repository names).

    \b
    bash: eval "$(strongroom completion bash)"   (in ~/.bashrc)
    zsh:  eval "$(strongroom completion zsh)"    (in ~/.zshrc)
    fish: strongroom completion fish > ~/.config/fish/completions/strongroom.fish"""
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    assert completer is not None  # the choice holds only shells click knows
    click.echo(completer(main, {}, "strongroom", "_STRONGROOM_COMPLETE").source())
