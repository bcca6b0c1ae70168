"""The click faces: the `strongroom` group, one module per command family, and the
console output.

May import everything below it (access, the operations, profile, engines, models,
run, errors), lazily inside the commands. Command families register on `main` when
this package imports them, from COMMAND_MODULES: they import `main` from cli/main.py,
never this package, so nothing imports back up.
"""

from importlib import import_module

from orchestrator.cli.main import main

COMMAND_MODULES = ("sets", "admin", "infra", "schedule")

for _name in COMMAND_MODULES:
    import_module(f"{__name__}.{_name}")

__all__ = ["COMMAND_MODULES", "main"]
