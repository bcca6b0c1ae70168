"""The `strongroom` group and what every command shares: the common options, the
error guard, list splitting.

The command families (sets, admin, infra, schedule) register on `main` from their own
modules; cli/__init__.py imports them. Only click is imported at module level so that
`strongroom --help` stays fast; each command imports the layers below when it runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from orchestrator.cli.options import ENVIRONMENT_HELP, StrongroomGroup

F = TypeVar("F", bound=Callable[..., Any])
TYPES = ["config", "full", "service", "disaster-recovery"]


def common(fn: F) -> F:
    """Marks a command that takes the global options' values (profile_ref, as_json, verbose).

    The options themselves are defined once, in cli/options.py, and every command accepts
    them before or after its name; the values reach any callback parameter of that name."""
    return fn


def split_list(values: tuple[str, ...]) -> list[str]:
    """`--services a,b --services c` → [a, b, c]."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def guarded(fn: F) -> F:
    """Turn every error a user can cause into one message and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from orchestrator.cli.console import fail
        from orchestrator.run.signals import raising

        try:
            with raising():
                return fn(*args, **kwargs)
        except KeyboardInterrupt as exc:
            from orchestrator.run import end_children
            from orchestrator.run.signals import interrupted

            end_children()  # those of worker threads too: exit waits for the threads
            fail(*interrupted(exc))
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except Exception as exc:  # noqa: BLE001 - the one place errors become messages
            from orchestrator.cli.console import report_exception

            report_exception(exc)

    return wrapper  # type: ignore[return-value]


@click.group(cls=StrongroomGroup, epilog=ENVIRONMENT_HELP,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="strongroom", prog_name="strongroom")
def main() -> None:
    """Backup and disaster recovery for self-hosted infrastructure.

    One TOML profile describes the host: configuration files, services and their
    data, the repositories to back up to, and schedules. restic does the
    deduplication, encryption and snapshots.

    The global options (-p, -v, --json, --role) go before or after the command name.
    Every on/off flag also takes a value: --dry-run=true, --verify=no, --force=0.
    """
    from orchestrator.run.signals import install

    install()  # SIGTERM and SIGHUP end a command like Ctrl-C (exit 143 and 129)
