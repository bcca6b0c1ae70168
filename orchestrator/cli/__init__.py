"""The click faces: the `strongroom` group (main.py), one module per command family
(sets.py, exports.py, admin.py, infra.py, schedule.py, keys.py, drill.py, observe.py,
recover.py, pitr.py), the global options (options.py) and the console output (console.py).

May import everything below it (access, the operations, profile, engines, models,
run, errors), lazily inside the commands so that `strongroom --help` stays fast.
Command families register on `main` when their module is imported, which `main` does
for the command asked for (cli/main.py COMMANDS): they import `main` from cli/main.py,
never this package, so nothing imports back up. A new command is a line in COMMANDS.

`run` is the program (`strongroom`, `python -m orchestrator`); tests call `main`.
"""

import gc

from orchestrator.cli.main import main
from orchestrator.cli.start import without_pydantic_plugins

YOUNG_COLLECTION_EVERY = 50_000  # allocations (CPython's default: 700)


def run() -> None:
    """strongroom as a program, which ends with its process.

    pydantic plugins are off (cli/start.py). The start (imports, the profile's models)
    allocates some 40,000 objects that live to the end: a young collection every 50,000
    allocations rather than CPython's 700 spares walking them over and over (~10 ms of
    every start), and cycles are still collected. At the end, gc.freeze() spares the
    interpreter its last collection over everything loaded (~40 ms per command);
    modules are still torn down, so files and handlers still close and flush."""
    without_pydantic_plugins()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])
    try:
        main()
    finally:
        gc.freeze()


__all__ = ["main", "run"]
