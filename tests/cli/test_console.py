"""What the console prints: long conflict lists are cut with a count."""

from __future__ import annotations

from datetime import UTC, datetime

from orchestrator.cli.console import render_restore
from orchestrator.models import RestoreResult


def restore_result(conflicts: int) -> RestoreResult:
    return RestoreResult(
        set="s-20241220-143022", id="abcd1234", mode="full-rebuild", target="/", dry_run=True,
        plan=[], files=0, bytes=0, restored=False, verified=False, duration=0.0,
        conflicts=[f"/srv/file{i}" for i in range(conflicts)],
        time=datetime(2024, 12, 20, tzinfo=UTC))


def test_conflicts_beyond_twenty_are_counted() -> None:
    text = render_restore(restore_result(29))
    assert "29 existing path(s) would be overwritten" in text
    assert "/srv/file19" in text and "/srv/file20" not in text
    assert "… and 9 more (--json lists them all)" in text


def test_twenty_conflicts_are_all_shown() -> None:
    text = render_restore(restore_result(20))
    assert "/srv/file19" in text and "more" not in text
