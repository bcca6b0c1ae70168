"""The click faces: the `strongroom` group (main.py), one module per command family
(sets.py, exports.py, admin.py, infra.py, schedule.py, keys.py, drill.py, observe.py,
recover.py, pitr.py), the global options (options.py) and the console output (console.py).

May import everything below it (access, the operations, profile, engines, models,
run, errors), lazily inside the commands so that `strongroom --help` stays fast.
Command families register on `main` when this package imports them, from
COMMAND_MODULES: they import `main` from cli/main.py, never this package, so nothing
imports back up. A new family is a module here and a name in COMMAND_MODULES.

`run` is the program (`strongroom`, `python -m orchestrator`); tests call `main`.
"""

import gc
import os
from importlib import import_module

from orchestrator.cli.main import main

COMMAND_MODULES = ("sets", "exports", "admin", "infra", "schedule", "keys", "drill", "observe",
                   "recover", "pitr")

for _name in COMMAND_MODULES:
    import_module(f"{__name__}.{_name}")


def run() -> None:
    """strongroom as a program, which ends with its process.

    pydantic plugins are off: one would see every value validated, secrets in a
    profile among them, and looking for them reads every installed package's metadata
    at each start. At the end, gc.freeze() spares the interpreter its last collection
    over everything loaded (~40 ms per command); modules are still torn down, so files
    and handlers still close and flush."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        main()
    finally:
        gc.freeze()


__all__ = ["COMMAND_MODULES", "main", "run"]
