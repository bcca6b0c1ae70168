"""Backup engines behind one protocol, and the explicit registry that picks one.

Owns the Engine protocol (base.py), restic (restic.py, its argv builders and output
readers), borg (borg.py, borg_args.py, borg_output.py), repository passwords and
where a repository lives (destinations.py).
May import profile, run and errors; never sets or anything above.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orchestrator.engines.base import Engine
    from orchestrator.profile.schema import Repository


def open_engine(name: str, repository: Repository, state_dir: Path) -> Engine:
    """The engine for a profile repository; imported lazily so the CLI starts fast."""
    if repository.engine == "restic":
        from orchestrator.engines.restic import ResticEngine

        return ResticEngine(name, repository, state_dir)
    from orchestrator.engines.borg import BorgEngine

    return BorgEngine(name, repository, state_dir)
