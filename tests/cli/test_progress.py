"""Progress as the CLI renders it: figures that say only what is known, a line per part
started and finished, the interval lines, JSON lines, and the interval variable."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from orchestrator.cli import console, main, progress
from orchestrator.cli.progress import LineView, Part, as_json, figures, interval, line
from orchestrator.engines.base import Progress
from orchestrator.errors import UsageError

MIB = 1 << 20


def event(phase: str = "running", kind: str = "files", part: str = "files", done: int = 0,
          total: int = 0, files: int = 0, total_files: int = 0,
          remaining: float | None = None) -> Progress:
    return Progress(0.0, files, total_files, done, total, part=part, kind=kind, phase=phase,
                    seconds_remaining=remaining)


def test_files_show_bytes_files_rate_and_restics_eta() -> None:
    part = Part(started=0.0)
    text = figures(event(done=50 * MIB, total=200 * MIB, files=3, total_files=10,
                         remaining=75), part)
    assert text.startswith("50.0 MiB / 200.0 MiB (25%), 3/10 files, ")
    assert text.endswith(" MiB/s, ETA 0:01:15") or text.endswith(" KiB/s, ETA 0:01:15")


def test_a_stream_has_no_percentage_and_no_eta() -> None:
    text = figures(event(kind="stream", part="services/db/db.dump", done=5 * MIB), Part())
    assert text.startswith("5.0 MiB, ") and text.endswith("/s")
    assert "%" not in text and "ETA" not in text and "files" not in text


def test_an_export_counts_entries() -> None:
    text = figures(event(kind="export", part="out.zip", done=MIB, files=7), Part())
    assert "7 entries" in text


def test_started_and_finished_lines() -> None:
    part = Part()
    assert line(event("started", kind="stream", part="services/db/db.dump"), part) == \
        "streaming services/db/db.dump"
    done = line(event("finished", kind="stream", part="services/db/db.dump", done=3 * MIB,
                      total=3 * MIB), part)
    assert done.startswith("done services/db/db.dump: 3.0 MiB in ") and "%" not in done
    assert line(event("started", kind="restore", total=2 * MIB), part) == \
        "restoring files (2.0 MiB)"


def test_json_lines_say_unknown_as_null() -> None:
    data = json.loads(as_json(event(kind="stream", part="s", done=10), Part()))
    assert data["progress"] == "running" and data["bytes_done"] == 10
    assert data["total_bytes"] is None and data["seconds_remaining"] is None
    exported = json.loads(as_json(event(kind="export", part="o.zip", files=4), Part()))
    assert exported["entries_done"] == 4 and "files_done" not in exported


def test_line_view_writes_parts_and_the_running_figures_at_its_interval(
        capsys: pytest.CaptureFixture[str]) -> None:
    view = LineView(3600.0, line)
    with view:
        view(event("started", kind="stream", part="s"))
        view(event(kind="stream", part="s", done=MIB))
        view(event(kind="stream", part="s", done=2 * MIB))
        assert capsys.readouterr().err == "streaming s\n"  # running figures wait for the timer
        view.write_running()
        assert capsys.readouterr().err.startswith("s: 2.0 MiB, ")
        view(event("finished", kind="stream", part="s", done=2 * MIB, total=2 * MIB))
        view.write_running()  # a finished part is not running any more
    assert capsys.readouterr().err.startswith("done s: 2.0 MiB in ")


def test_line_view_timer_writes_without_new_events(capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    written = threading.Event()
    view = LineView(0.01, lambda e, p: (written.set(), "tick")[1])
    with view:
        view(event("started"))
        view(event(done=1))
        assert written.wait(5)
    assert "tick" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["soon", "-1", "nan"])
def test_a_bad_interval_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("STRONGROOM_PROGRESS_INTERVAL", text)
    with pytest.raises(UsageError, match="STRONGROOM_PROGRESS_INTERVAL"):
        interval()


def test_interval_default_and_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRONGROOM_PROGRESS_INTERVAL", raising=False)
    assert interval() == 10.0
    monkeypatch.setenv("STRONGROOM_PROGRESS_INTERVAL", "0.5")
    assert interval() == 0.5


@pytest.fixture
def given(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The progress callback each tool call was handed."""
    seen: list[Any] = []

    def call(session: Any, tool: str, request: BaseModel, on_progress: Any = None) -> Any:
        seen.append(on_progress)
        raise SystemExit(0)

    monkeypatch.setattr(console, "open_session", lambda *args, **kwargs: SimpleNamespace())
    monkeypatch.setattr(console, "call", call)
    monkeypatch.delenv("STRONGROOM_PROGRESS_INTERVAL", raising=False)
    return seen


@pytest.mark.parametrize("command", [
    ["create-backup"], ["backup-files", "--path", "/etc"], ["download-backup"],
    ["backup-migrate", "--to-format", "zip"], ["restore-backup", "--backup", "latest"],
])
def test_commands_hand_a_callback_unless_no_progress(given: list[Any],
                                                     command: list[str]) -> None:
    assert CliRunner().invoke(main, command).exit_code == 0
    assert CliRunner().invoke(main, [*command, "--no-progress"]).exit_code == 0
    assert isinstance(given[0], LineView) and given[1] is None


def test_json_progress_is_json_lines(given: list[Any]) -> None:
    assert CliRunner().invoke(main, ["create-backup", "--json"]).exit_code == 0
    assert given[0].render is progress.as_json


def test_bad_interval_exits_2(given: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRONGROOM_PROGRESS_INTERVAL", "soon")
    result = CliRunner().invoke(main, ["create-backup"])
    assert result.exit_code == 2 and "STRONGROOM_PROGRESS_INTERVAL" in result.output
    assert "Traceback" not in result.output and given == []


def test_a_closed_stderr_ends_the_progress_not_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(progress.click, "echo", broken)
    view = LineView(3600.0, line)
    with view:
        view(event("started"))
        view(event("finished", done=1, total=1))
    assert view.closed


def test_a_restored_stream_counts_no_files() -> None:
    done = line(event("finished", kind="restore", part="services/db/db.dump", done=MIB,
                      total=MIB), Part())
    assert done.startswith("done services/db/db.dump: 1.0 MiB in ") and "files" not in done


def test_a_part_that_never_moves_says_nothing_until_it_ends(
        capsys: pytest.CaptureFixture[str]) -> None:
    view = LineView(3600.0, line)
    with view:
        view(event("started", part="a"))
        view.write_running()
        assert capsys.readouterr().err == ""  # a run failing now shows its error alone
        view(event("finished", part="a", done=5, total=5, files=1, total_files=1))
    assert capsys.readouterr().err.splitlines()[0] == "storing a"


def test_a_silent_part_is_announced_after_the_interval(
        capsys: pytest.CaptureFixture[str]) -> None:
    view = LineView(0.0, line)
    view(event("started", kind="restore", total=MIB))
    view.write_running()
    assert capsys.readouterr().err == "restoring files (1.0 MiB)\n"
