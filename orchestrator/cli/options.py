"""The global options and the click classes that let them go anywhere.

-p/--profile, -v, --json and --role are defined once, here. StrongroomGroup and
StrongroomCommand add them to the group and to every command, so that
`strongroom -p home list-backups` and `strongroom list-backups -p home` mean the same.
The values are merged along the command line (the one nearest the command wins; -v
counts add up) and handed to each callback parameter of the same name; --role is read
by `global_value`. A command's --help lists them once, under "Global options".

Every boolean flag also takes `--flag=true|false|yes|no|1|0` (`bool_values`).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import click
from click.core import ParameterSource

META_KEY = "strongroom.globals"

ENVIRONMENT_HELP = """\b
Environment:
  STRONGROOM_PROFILE      the profile, as -p NAME|PATH
  STRONGROOM_ROLE         the [access.roles] role, as --role NAME
  STRONGROOM_PROFILE_DIR  colon-separated folders searched for profiles first
                          (then ./profiles, $XDG_CONFIG_HOME/strongroom/profiles
                          (~/.config/...), /etc/strongroom/profiles)
  STRONGROOM_STATE_DIR    where locks, drill records and the audit log live
                          (default: the profile's state_dir, /var/lib/strongroom
                          as root, else $XDG_STATE_HOME/strongroom)
  STRONGROOM_SYSTEMD_DIR  where `schedule-backup --install systemd` writes units
  STRONGROOM_CRON_FILE    where `schedule-backup --install cron` writes
  STRONGROOM_PROGRESS_INTERVAL  seconds between progress lines when stderr is
                          not a terminal, and under --json (default 10)
\b
Exit codes: 0 ok, 1 failure, 2 bad usage/profile/input, 3 would overwrite,
4 refused by access rules, 75 locked (another run holds it), 129/130/143 interrupted
(SIGHUP, Ctrl-C, SIGTERM)."""

TRUE_WORDS = {"true", "yes", "1", "on"}
FALSE_WORDS = {"false", "no", "0", "off"}


def bool_values(params: Sequence[click.Parameter], args: list[str],
                stop_at_positional: bool) -> list[str]:
    """`--flag=true|false|yes|no|1|0` rewritten to what click's flags understand.

    True keeps the switch as typed (`--flag`), false turns it into its opposite
    (`--no-flag` of a pair) or drops it (a plain flag is off when absent). Only the
    `=` form is read: `--force FILE` keeps FILE as an argument. A group stops at its
    first positional argument (the command name): what follows is the command's."""
    flags: dict[str, tuple[click.Option, bool]] = {}
    takes_value: set[str] = set()
    for param in params:
        if not isinstance(param, click.Option):
            continue
        if param.is_bool_flag and not param.count:
            flags.update({name: (param, True) for name in param.opts})
            flags.update({name: (param, False) for name in param.secondary_opts})
        elif not param.is_flag and not param.count:
            takes_value.update(param.opts)
    out: list[str] = []
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        if token == "--":
            out += args[index - 1:]
            break
        if not token.startswith("-"):
            out.append(token)
            if stop_at_positional:
                out += args[index:]
                break
            continue
        name, eq, word = token.partition("=")
        if eq and name in flags:
            option, primary = flags[name]
            value = word.strip().lower()
            if value not in TRUE_WORDS | FALSE_WORDS:
                raise click.BadOptionUsage(
                    name, f"{name}={word}: give true or false (yes/no, 1/0)")
            on = (value in TRUE_WORDS) == primary
            if on:
                out.append(option.opts[0])
            elif option.secondary_opts:
                out.append(option.secondary_opts[0])
            continue
        out.append(token)
        if token in takes_value and index < len(args):
            out.append(args[index])
            index += 1
    return out


def global_options() -> list[click.Option]:
    return [
        click.Option(["-p", "--profile", "profile_ref"], metavar="NAME|PATH",
                     envvar="STRONGROOM_PROFILE", shell_complete=_complete_profiles,
                     help="Profile name or file (default: the only profile found)."),
        click.Option(["-v", "--verbose"], count=True, help="More detail on stderr (-vv: more)."),
        click.Option(["--json/--no-json", "as_json"], default=False,
                     help="Print one JSON document on stdout."),
        click.Option(["--role"], envvar="STRONGROOM_ROLE", metavar="NAME",
                     help="Act in this [access.roles] role: its tool and profile limits apply."),
    ]


GLOBAL_NAMES = ("profile_ref", "verbose", "as_json", "role")


def _complete_profiles(ctx: click.Context, param: click.Parameter,
                       incomplete: str) -> list[Any]:
    from click.shell_completion import CompletionItem

    from orchestrator.profile.discovery import available_profiles

    return [CompletionItem(name) for name in available_profiles()
            if name.startswith(incomplete)]


def _profile_so_far(ctx: click.Context) -> Any:
    """The profile named so far on the command line (or the only one), None if none loads."""
    from orchestrator.errors import StrongroomError
    from orchestrator.profile.load import find_profile, load_profile

    level: click.Context | None = ctx
    ref = None
    while level is not None and ref is None:
        ref = level.params.get("profile_ref")
        level = level.parent
    try:
        return load_profile(find_profile(ref))
    except (StrongroomError, OSError):
        return None


def _complete_repositories(ctx: click.Context, param: click.Parameter,
                           incomplete: str) -> list[Any]:
    from click.shell_completion import CompletionItem

    profile = _profile_so_far(ctx)
    names = list(profile.repositories) if profile is not None else []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def _complete_sets(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """`latest` and the sets this host made (its run records: no repository is opened,
    so completion stays instant)."""
    from click.shell_completion import CompletionItem

    from orchestrator.sets.state import StateDir, state_dir

    names = ["latest"]
    profile = _profile_so_far(ctx)
    if profile is not None:
        state = StateDir(state_dir(profile))
        for repository in profile.repositories.values():
            names += [record.set for record in state.runs(repository.url, profile.profile_name)
                      if record.status == "complete"]
    return [CompletionItem(name) for name in dict.fromkeys(names) if name.startswith(incomplete)]


def global_value(name: str, ctx: click.Context | None = None) -> Any:
    """The merged value of a global option for the command running now."""
    context = ctx or click.get_current_context()
    return context.meta.get(META_KEY, {}).get(name)


def _merge(ctx: click.Context) -> None:
    """Fold this level's global options into the values of the levels above it."""
    merged: dict[str, Any] = dict(ctx.meta.get(META_KEY, {}))
    sources: dict[str, ParameterSource | None] = dict(ctx.meta.get(META_KEY + ".sources", {}))
    for name in GLOBAL_NAMES:
        if name not in ctx.params:
            continue
        value = ctx.params.pop(name)
        source = ctx.get_parameter_source(name)
        given = source is ParameterSource.COMMANDLINE
        if name == "verbose":
            merged[name] = (merged.get(name) or 0) + (value or 0)
        elif given or name not in merged or sources.get(name) is not ParameterSource.COMMANDLINE:
            merged[name] = value
            sources[name] = source
    ctx.meta[META_KEY] = merged
    ctx.meta[META_KEY + ".sources"] = sources


def _format_globals(ctx: click.Context, formatter: click.HelpFormatter) -> None:
    records = [record for param in global_options()
               if (record := param.get_help_record(ctx)) is not None]
    with formatter.section("Global options (before or after the command)"):
        formatter.write_dl(records)


class SuggestingChoice(click.Choice):  # type: ignore[type-arg]
    """A choice whose refusal names the nearest accepted value, as click does for options
    and commands."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            from difflib import get_close_matches

            close = get_close_matches(str(value).lower(), [str(c) for c in self.choices], n=1)
            if not close:
                raise
            raise click.BadParameter(f"{exc.message} Did you mean {close[0]!r}?", ctx,
                                     param) from None


# The help of options many commands share, where a command gives none of its own.
STANDARD_HELP = {
    "destination": "The repository to use (a name from the profile; default: the first).",
    "verify": "Check the set after storing it: every part present, the manifest as written.",
    "backup": "The set: its name (latest of that name), NAME-YYYYMMDD[-HHMMSS], an id "
              "prefix, or latest.",
    "force": "Replace what exists at the output or target.",
    "output": "Where the archive goes: a file, - for stdout, or s3://BUCKET/KEY.",
    "password_file": "Read the password from this file.",
    "password_env": "Read the password from this environment variable.",
    "service": "The service (a [services.NAME] of the profile).",
    "compress": "Let restic compress (repository format 2; borg: lz4).",
    "keep_last": "Retention: keep the last N sets.",
    "keep_hourly": "Retention: keep one set for each of the last N hours.",
    "keep_daily": "Retention: keep one set for each of the last N days.",
    "keep_weekly": "Retention: keep one set for each of the last N weeks.",
    "keep_monthly": "Retention: keep one set for each of the last N months.",
    "keep_yearly": "Retention: keep one set for each of the last N years.",
}


def _suggesting(param: click.Parameter) -> None:
    if type(param.type) is click.Choice:
        choice = param.type
        param.type = SuggestingChoice(list(choice.choices), case_sensitive=choice.case_sensitive)


class StrongroomCommand(click.Command):
    """A command that takes the global options anywhere and `--flag=BOOL` for its flags."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        own = [p for p in self.params if p.name not in GLOBAL_NAMES]
        for param in own:
            _suggesting(param)
            if isinstance(param, click.Option) and not param.help and param.name:
                param.help = STANDARD_HELP.get(param.name)
            if param._custom_shell_complete is not None or not isinstance(param, click.Option):
                continue
            if param.metavar == "REPO":
                param._custom_shell_complete = _complete_repositories
            elif param.name == "backup":
                param._custom_shell_complete = _complete_sets
        self.params = [*own, *global_options()]

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, bool_values(self.params, args, False))

    def invoke(self, ctx: click.Context) -> Any:
        _merge(ctx)
        if self.callback is not None:
            wanted = inspect.signature(self.callback).parameters
            values = ctx.meta[META_KEY]
            for name in GLOBAL_NAMES:
                if name in wanted:
                    ctx.params[name] = values.get(name)
        return super().invoke(ctx)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        records = [record for param in self.get_params(ctx)
                   if param.name not in GLOBAL_NAMES
                   and (record := param.get_help_record(ctx)) is not None]
        if records:
            with formatter.section("Options"):
                formatter.write_dl(records)
        _format_globals(ctx, formatter)


class StrongroomGroup(click.Group):
    """The `strongroom` group and its sub-groups: the global options on each level."""

    command_class = StrongroomCommand

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        own = [p for p in self.params if p.name not in GLOBAL_NAMES]
        self.params = [*own, *global_options()]

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, bool_values(self.params, args, True))

    def invoke(self, ctx: click.Context) -> Any:
        _merge(ctx)
        return super().invoke(ctx)


StrongroomGroup.group_class = type
