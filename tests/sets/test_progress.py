"""The events one part sends: started, running (engine status or tap bytes), finished."""

from __future__ import annotations

from orchestrator.engines.base import Progress
from orchestrator.sets.digest import StreamDigest
from orchestrator.sets.progress import PartProgress


def test_a_tapped_stream_reports_its_bytes_and_ends_at_its_total() -> None:
    events: list[Progress] = []
    part = PartProgress(events.append, "services/db/db.dump", "stream")
    part.started()
    tap = StreamDigest(part.add)
    for size in (3, 5, 7):
        tap.update(memoryview(b"x" * size))
    part.finished(tap.bytes)
    assert [(e.phase, e.bytes_done, e.total_bytes) for e in events] == [
        ("started", 0, 0), ("running", 3, 0), ("running", 8, 0), ("running", 15, 0),
        ("finished", 15, 15)]
    assert {(e.part, e.kind) for e in events} == {("services/db/db.dump", "stream")}


def test_engine_status_is_labelled_with_the_part() -> None:
    events: list[Progress] = []
    part = PartProgress(events.append, "files", "files")
    callback = part.callback()
    assert callback is not None
    callback(Progress(0.5, 1, 2, 10, 20, seconds_remaining=4.0))
    assert events == [Progress(0.5, 1, 2, 10, 20, part="files", kind="files",
                               phase="running", seconds_remaining=4.0)]


def test_known_totals_carry_through_and_give_a_fraction() -> None:
    events: list[Progress] = []
    part = PartProgress(events.append, "files", "restore")
    part.started(total_bytes=200, total_count=4)
    part.at(50, 1)
    assert (events[-1].total_bytes, events[-1].total_files, events[-1].fraction) == (200, 4, 0.25)


def test_without_a_callback_nothing_happens() -> None:
    part = PartProgress(None, "files", "files")
    assert part.callback() is None
    part.started()
    part.add(5)
    part.finished(5)
    assert StreamDigest(None).on_bytes is None
