"""verify-backup's part sizes: from the listing's snapshot summary when the engine
records one (no process), else from a listing of the part."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orchestrator.engines.base import Node, Snapshot
from orchestrator.sets.manifest import ManifestStream
from orchestrator.sets.naming import BackupSet
from orchestrator.sets.verify import _stored_size

STREAM = ManifestStream(part="services/db/app.sql", logical="services/db/app.sql",
                        snapshot_id="ab" * 32, bytes=42, hook="postgresql", service="db",
                        database="app", format="custom")


class Listing:
    def __init__(self) -> None:
        self.calls = 0

    def ls(self, snapshot_id: str, paths: list[str]) -> list[Node]:
        self.calls += 1
        return [Node(path="/" + STREAM.logical, type="file", size=41, mode=0o600, mtime="")]


def chosen(total_bytes: int | None) -> BackupSet:
    part = Snapshot("ab" * 32, "abababab", datetime(2026, 1, 1, tzinfo=UTC), "h", (), (),
                    total_bytes)
    return BackupSet("s-20260101-000000", "s", "full", "p", part.time,
                     parts={STREAM.part: part})


def test_a_recorded_summary_spares_the_listing_and_its_absence_does_not() -> None:
    engine: Any = Listing()
    assert _stored_size(engine, chosen(42), STREAM) == 42
    assert engine.calls == 0
    assert _stored_size(engine, chosen(None), STREAM) == 41
    assert engine.calls == 1
