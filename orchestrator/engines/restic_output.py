"""Reading what restic prints while it backs up, and finding live restic processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil

from orchestrator.engines import restic_args as args
from orchestrator.engines.base import BackupSummary, EngineError, ProgressCallback


class BackupOutput:
    """Reads `restic backup --json` lines: progress as it goes, the summary at the end."""

    def __init__(self, on_progress: ProgressCallback | None) -> None:
        self.on_progress = on_progress
        self.summary: BackupSummary | None = None
        self.unreadable: list[str] = []

    def feed(self, line: str) -> None:
        if not line.startswith("{"):
            return
        try:
            message = json.loads(line)
        except ValueError:
            return
        kind = message.get("message_type")
        if kind == "status" and self.on_progress is not None:
            self.on_progress(args.progress_from(message))
        elif kind == "summary":
            self.summary = args.summary_from(message)
        elif kind == "error":
            item = message.get("item") or ""
            error = (message.get("error") or {}).get("message", "")
            self.unreadable.append(f"{item}: {error}".strip(": "))

    def result(self) -> BackupSummary:
        if self.summary is None or not self.summary.snapshot_id:
            raise EngineError("restic finished without reporting a snapshot")
        self.summary.unreadable = self.unreadable
        return self.summary



def live_restic_on(repo_string: str) -> int | None:
    """The pid of a running restic working on this repository, if any."""

    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.info["name"] != "restic" or proc.pid == os.getpid():
                continue
            cmdline = proc.info["cmdline"] or []
            if repo_string in cmdline:
                return proc.pid
            if proc.environ().get("RESTIC_REPOSITORY") == repo_string:
                return proc.pid
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return None


def read_only_folder(repository: Path) -> bool:
    """A local repository whose locks folder cannot be written: a read-only mount, an
    immutable folder, or another user's repository (access(2) knows all three)."""
    locks = repository / "locks"
    return locks.is_dir() and not os.access(locks, os.W_OK)
