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


class _Engine:
    """Only what _verify may call: a dump of the stored manifest."""

    def __init__(self, stored: bytes) -> None:
        self.stored = stored
        self.dumps: list[str] = []

    def dump(self, snapshot_id: str, path: str) -> bytes:
        self.dumps.append(path)
        return self.stored


def test_verify_reads_the_manifest_back_only_when_the_staged_file_changed(tmp_path) -> None:
    from typing import Any

    import pytest

    from orchestrator.errors import StrongroomError
    from orchestrator.run.tempfiles import write_atomic
    from orchestrator.sets.make import _verify, staged_identity
    from orchestrator.sets.manifest import MANIFEST_FILE
    from tests.sets.test_manifest import manifest

    wanted = manifest().model_copy(update={"streams": []})
    staged_file = tmp_path / MANIFEST_FILE
    write_atomic(staged_file, wanted.to_bytes())
    identity = staged_identity(staged_file)
    engine: Any = _Engine(b"whatever")
    _verify(engine, wanted.set, "f" * 64, tmp_path, wanted, identity)
    assert engine.dumps == []  # the very file restic read: proven without a process

    _verify(engine, wanted.set, "f" * 64, tmp_path, wanted, None)  # given on stdin
    assert engine.dumps == []

    write_atomic(staged_file, wanted.to_bytes())  # replaced meanwhile: another inode
    with pytest.raises(StrongroomError, match="does not match"):
        _verify(engine, wanted.set, "f" * 64, tmp_path, wanted, identity)
    assert engine.dumps == [f"{tmp_path}/{MANIFEST_FILE}"]
    engine.stored = wanted.to_bytes()
    _verify(engine, wanted.set, "f" * 64, tmp_path, wanted, identity)
    assert len(engine.dumps) == 2
