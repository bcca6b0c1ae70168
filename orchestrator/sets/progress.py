"""Progress events of one part, for a face to render: started, running, finished.

The engines report what they know (restic's status lines, borg's archive_progress);
taps and writers report the bytes and entries passing through them. Nothing here
prints: every event goes to the callback the face handed in.
"""

from __future__ import annotations

from dataclasses import replace

from orchestrator.engines.base import Progress, ProgressCallback


class PartProgress:
    """The events of one part (files, a stream, an export, a restore) to one callback;
    without a callback every method does nothing."""

    def __init__(self, on_progress: ProgressCallback | None, part: str, kind: str) -> None:
        self.on_progress = on_progress
        self.part = part
        self.kind = kind
        self.bytes_done = 0
        self.count_done = 0
        self.total_bytes = 0
        self.total_count = 0

    def _send(self, phase: str, *, bytes_done: int, total_bytes: int = 0, count: int = 0,
              total_count: int = 0, seconds_remaining: float | None = None) -> None:
        if self.on_progress is None:
            return
        fraction = bytes_done / total_bytes if total_bytes else 0.0
        self.on_progress(Progress(
            fraction=min(fraction, 1.0), files_done=count, total_files=total_count,
            bytes_done=bytes_done, total_bytes=total_bytes, part=self.part, kind=self.kind,
            phase=phase, seconds_remaining=seconds_remaining))

    def started(self, total_bytes: int = 0, total_count: int = 0) -> None:
        """The part begins; its totals when known beforehand (a restore's plan)."""
        self.total_bytes, self.total_count = total_bytes, total_count
        self._send("started", bytes_done=0, total_bytes=total_bytes, total_count=total_count)

    def engine(self, progress: Progress) -> None:
        """An engine's own status (restic: bytes and files done and total, its ETA)."""
        self.bytes_done = max(self.bytes_done, progress.bytes_done)
        self.count_done = max(self.count_done, progress.files_done)
        if self.on_progress is not None:
            self.on_progress(replace(progress, part=self.part, kind=self.kind,
                                     phase="running"))

    def add(self, count_bytes: int, entries: int = 0) -> None:
        """Bytes (and entries) that just passed through a tap."""
        self.at(self.bytes_done + count_bytes, self.count_done + entries)

    def at(self, bytes_done: int, count: int) -> None:
        """Bytes and entries written so far, against the totals given when it started."""
        self.bytes_done, self.count_done = bytes_done, count
        self._send("running", bytes_done=bytes_done, total_bytes=self.total_bytes,
                   count=count, total_count=self.total_count)

    def finished(self, bytes_done: int, count: int = 0) -> None:
        """The part's final figures: bytes done equal the total."""
        self._send("finished", bytes_done=bytes_done, total_bytes=bytes_done, count=count,
                   total_count=count)

    def callback(self) -> ProgressCallback | None:
        """For an engine call: its status events, labelled with this part."""
        return self.engine if self.on_progress is not None else None
