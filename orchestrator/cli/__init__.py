"""The click faces: the `strongroom` group (main.py), one module per command family
(sets.py, exports.py, admin.py, infra.py, schedule.py, keys.py, drill.py, observe.py,
recover.py, pitr.py), the global options (options.py) and the console output (console.py).

May import everything below it (access, the operations, profile, engines, models,
run, errors), lazily inside the commands so that `strongroom --help` stays fast.
Command families register on `main` when this package imports them, from
COMMAND_MODULES: they import `main` from cli/main.py, never this package, so nothing
imports back up. A new family is a module here and a name in COMMAND_MODULES.
"""

from importlib import import_module

from orchestrator.cli.main import main

COMMAND_MODULES = ("sets", "exports", "admin", "infra", "schedule", "keys", "drill", "observe",
                   "recover", "pitr")

for _name in COMMAND_MODULES:
    import_module(f"{__name__}.{_name}")

__all__ = ["COMMAND_MODULES", "main"]
