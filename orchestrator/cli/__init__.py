"""The click faces and console output."""

from orchestrator.cli.main import main

__all__ = ["main"]
