"""The `strongroom` group and what every command shares: the common options, the
error guard, list splitting.

The command families (sets, admin, infra, ...) register on `main` from their own
modules, each imported when one of its commands is asked for (COMMANDS says which),
and all of them for help, completion and an unknown name. Only click is imported at
module level so that `strongroom --help` stays fast; each command imports the layers
below when it runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import import_module
from typing import Any, TypeVar

import click

from orchestrator.cli.options import ENVIRONMENT_HELP, StrongroomGroup

F = TypeVar("F", bound=Callable[..., Any])
TYPES = ["config", "full", "service", "disaster-recovery"]

# Each command and the module (in orchestrator/cli/) that defines it. A new command is
# a line here: tests/cli/test_options.py checks this against what the modules define.
COMMANDS = {
    "init": "sets", "create-backup": "sets", "backup-files": "sets",
    "backup-database": "sets", "verify-backup": "sets", "list-backups": "sets",
    "restore-backup": "sets",
    "download-backup": "exports", "backup-migrate": "exports", "decrypt": "exports",
    "mcp": "admin", "audit": "admin", "profile": "admin", "completion": "admin",
    "backup-containers": "infra", "backup-vm-snapshot": "infra", "apply-retention": "infra",
    "backup-compare": "infra", "backup-sync": "infra",
    "schedule-backup": "schedule", "scheduler": "schedule",
    "key": "keys", "backup-encrypt": "keys",
    "drill": "drill",
    "status": "observe", "report": "observe", "metrics": "observe",
    "serve-metrics": "observe",
    "recover": "recover",
    "pitr": "pitr", "wal-push": "pitr", "wal-fetch": "pitr",
}


def load_families() -> None:
    """Every command family's module, so that `main.commands` holds every command."""
    for family in sorted(set(COMMANDS.values())):
        import_module(f"orchestrator.cli.{family}")


class ProgramGroup(StrongroomGroup):
    """The `strongroom` group: a command's family is imported when the command is asked
    for, so a run defines its own family's commands only (all of them cost ~12 ms)."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            if cmd_name in COMMANDS:
                import_module(f"orchestrator.cli.{COMMANDS[cmd_name]}")
            else:  # an unknown name: click suggests from every command
                load_families()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_families()
        return super().list_commands(ctx)


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


@click.group(cls=ProgramGroup, epilog=ENVIRONMENT_HELP,
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
