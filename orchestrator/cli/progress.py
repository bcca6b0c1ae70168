"""Progress of a running command, on stderr: what the engine, the taps and the writers
report, and nothing they do not (a stream's total is unknown: no percentage).

On a terminal a rich display, one bar per running part; otherwise a plain line when a
part starts and finishes and every STRONGROOM_PROGRESS_INTERVAL seconds (10) between;
under --json the same as JSON lines, so stdout keeps the one result document. rich is
imported only when a terminal shows it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from orchestrator.engines.base import Progress, ProgressCallback

INTERVAL_VARIABLE = "STRONGROOM_PROGRESS_INTERVAL"
DEFAULT_INTERVAL = 10.0
F = TypeVar("F", bound=Callable[..., Any])


def progress_option(command: F) -> F:
    return click.option(
        "--progress/--no-progress", "show_progress", default=True, show_default=True,
        help="Progress on stderr: a live display on a terminal, else a line per part and "
             f"every ${INTERVAL_VARIABLE} seconds (10); JSON lines with --json.",
    )(command)


def interval() -> float:
    from orchestrator.errors import UsageError

    text = os.environ.get(INTERVAL_VARIABLE, "").strip()
    if not text:
        return DEFAULT_INTERVAL
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also refuses nan
        raise UsageError(f"{INTERVAL_VARIABLE}={text!r}: give a number of seconds (0 or more)")
    return seconds


def human_bytes(count: float) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"  # pragma: no cover - the loop always returns


def clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


@dataclass
class Part:
    """What is known of one part: its latest event and when it started."""

    started: float = field(default_factory=time.monotonic)
    latest: Progress | None = None
    opening: Progress | None = None  # its started event, until a line has said so

    def rate(self, event: Progress) -> float:
        elapsed = time.monotonic() - self.started
        return event.bytes_done / elapsed if elapsed > 0 else 0.0

    def eta(self, event: Progress) -> float | None:
        """restic's own estimate; else, with a known total, the remainder at the rate."""
        if event.seconds_remaining is not None:
            return event.seconds_remaining
        rate = self.rate(event)
        if event.total_bytes and rate > 0:
            return max(event.total_bytes - event.bytes_done, 0) / rate
        return None


def has_count(event: Progress) -> bool:
    """Files or entries, where a part has them: not a stream, stored or restored."""
    return event.kind != "stream" and bool(event.files_done or event.total_files)


def counted(event: Progress) -> str:
    noun = "entries" if event.kind == "export" else "files"
    if event.total_files:
        return f"{event.files_done}/{event.total_files} {noun}"
    return f"{event.files_done} {noun}"


def figures(event: Progress, part: Part) -> str:
    """`12.0 MiB / 200.0 MiB (6%), 10/977 files, 4.0 MiB/s, ETA 0:00:47`; without a total,
    the bytes so far and the rate."""
    shown = human_bytes(event.bytes_done)
    if event.total_bytes and event.phase != "finished":
        percent = min(event.bytes_done / event.total_bytes, 1.0) * 100
        shown += f" / {human_bytes(event.total_bytes)} ({percent:.0f}%)"
    pieces = [shown]
    if has_count(event):
        pieces.append(counted(event))
    pieces.append(f"{human_bytes(part.rate(event))}/s")
    eta = part.eta(event)
    if eta is not None and event.total_bytes and event.phase != "finished":
        pieces.append(f"ETA {clock(eta)}")
    return ", ".join(pieces)


def line(event: Progress, part: Part) -> str:
    if event.phase == "started":
        what = {"files": "storing", "stream": "streaming", "export": "exporting to",
                "restore": "restoring"}.get(event.kind, event.kind)
        return f"{what} {event.part}" + (
            f" ({human_bytes(event.total_bytes)})" if event.total_bytes else "")
    if event.phase == "finished":
        elapsed = time.monotonic() - part.started
        count = f", {counted(event)}" if has_count(event) else ""
        return (f"done {event.part}: {human_bytes(event.bytes_done)}{count} in "
                f"{elapsed:.1f} s ({human_bytes(part.rate(event))}/s)")
    return f"{event.part}: {figures(event, part)}"


def as_json(event: Progress, part: Part) -> str:
    """Unknown totals are null; an export counts entries where the others count files."""
    eta = part.eta(event) if event.total_bytes else None
    count = "entries" if event.kind == "export" else "files"
    return json.dumps({
        "progress": event.phase, "part": event.part, "kind": event.kind,
        "bytes_done": event.bytes_done, "total_bytes": event.total_bytes or None,
        f"{count}_done": event.files_done, f"total_{count}": event.total_files or None,
        "bytes_per_second": round(part.rate(event)),
        "seconds_remaining": round(eta) if eta is not None else None,
    })


class LineView:
    """A line per part started and finished, and every `every` seconds the running parts'
    figures (from a timer, so a silent engine still shows where it is). A part's start
    is told once it moves (or after `every` seconds): a run that fails before anything
    moved shows its one error and no progress."""

    def __init__(self, every: float, render: Callable[[Progress, Part], str]) -> None:
        self.every = every
        self.render = render
        self.parts: dict[str, Part] = {}
        self.lock = threading.Lock()
        self.closed = False
        self.stop = threading.Event()
        self.timer = threading.Thread(target=self._tick, name="progress", daemon=True)

    def __enter__(self) -> LineView:
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.timer.join()

    def __call__(self, event: Progress) -> None:
        with self.lock:
            if event.phase == "started" or event.part not in self.parts:
                opening = event if event.phase == "started" else None
                self.parts[event.part] = Part(opening=opening)
            part = self.parts[event.part]
            if event.phase == "started":
                return
            self._announce(part)
            part.latest = event
            if event.phase == "finished":
                self._write(self.render(event, part))
                del self.parts[event.part]

    def _announce(self, part: Part) -> None:
        if part.opening is not None:
            self._write(self.render(part.opening, part))
            part.opening = None

    def _tick(self) -> None:
        while not self.stop.wait(self.every or 0.05):
            self.write_running()

    def write_running(self) -> None:
        """A line for each part that has reported figures since it started; the start
        of a part silent for `every` seconds (a restic 0.14 restore)."""
        with self.lock:
            now = time.monotonic()
            for part in self.parts.values():
                if part.latest is not None and part.latest.phase == "running":
                    self._write(self.render(part.latest, part))
                elif part.opening is not None and now - part.started >= self.every:
                    self._announce(part)

    def _write(self, text: str) -> None:
        """A closed stderr (`2>&1 | head`) ends the progress, never the run."""
        if self.closed:
            return
        try:
            click.echo(text, err=True)
        except OSError:
            self.closed = True


class TerminalView:
    """rich: one bar per running part (a pulse when the total is unknown), the figures
    beside it, and a printed line as each part starts and finishes."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn
        from rich.progress import Progress as Display

        self.display = Display(TextColumn("{task.description}"), BarColumn(),
                               TextColumn("{task.fields[figures]}"), transient=True,
                               console=Console(stderr=True))
        self.parts: dict[str, tuple[Part, Any]] = {}
        self.lock = threading.Lock()
        self.closed = False

    def __enter__(self) -> TerminalView:
        self.display.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.display.__exit__(*exc)

    def __call__(self, event: Progress) -> None:
        """A closed terminal ends the progress, never the run."""
        if self.closed:
            return
        try:
            self._show(event)
        except OSError:
            self.closed = True

    def _show(self, event: Progress) -> None:
        with self.lock:
            if event.phase == "started" or event.part not in self.parts:
                if event.part in self.parts:
                    self.display.remove_task(self.parts[event.part][1])
                task = self.display.add_task(event.part, total=None, figures="")
                self.parts[event.part] = (Part(), task)
            part, task = self.parts[event.part]
            part.latest = event
            self.display.update(task, total=event.total_bytes or None,
                                completed=event.bytes_done, figures=figures(event, part))
            if event.phase != "running":
                self.display.refresh()  # the bar drawn below the line shows these figures
                self.display.console.print(line(event, part), highlight=False)
            if event.phase == "finished":
                self.display.remove_task(task)
                del self.parts[event.part]


@contextmanager
def shown(enabled: bool, json_lines: bool) -> Iterator[ProgressCallback | None]:
    """The progress callback for a command's tool call, or None with --no-progress."""
    if not enabled:
        yield None
        return
    every = interval()
    view: LineView | TerminalView
    if json_lines:
        view = LineView(every, as_json)
    elif sys.stderr.isatty():
        view = TerminalView()
    else:
        view = LineView(every, line)
    with view:
        yield view
