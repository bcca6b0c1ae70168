"""Making a set: how a stopped run is recorded."""

from __future__ import annotations


def test_a_stopped_run_is_worded_for_people() -> None:
    import re
    import signal

    from orchestrator.run.signals import Terminated
    from orchestrator.sets.make import _interrupted

    assert re.fullmatch(r"interrupted \(Ctrl-C\) at \d\d:\d\d UTC while storing the files",
                        _interrupted(KeyboardInterrupt(), "storing the files"))
    assert re.fullmatch(r"terminated by SIGTERM at \d\d:\d\d UTC while dumping the databases",
                        _interrupted(Terminated(signal.SIGTERM), "dumping the databases"))
