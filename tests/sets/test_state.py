from __future__ import annotations

import os
import stat
from pathlib import Path

from orchestrator.run.tempfiles import write_atomic
from orchestrator.sets.state import RunRecord, StateDir


def record(name: str, url: str = "/repo", profile: str = "p", status: str = "running") -> RunRecord:
    return RunRecord(set=name, repository="local", url=url, profile=profile, type="config",
                     started="2024-12-20T14:30:22+00:00", status=status)


def test_claim_run_reserves_a_name_once(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    assert state.claim_run("daily-20241220-143022")
    assert not state.claim_run("daily-20241220-143022")
    assert state.claim_run("daily-20241220-143023")


def test_runs_filter_by_repository_and_profile_and_skip_unwritten_claims(tmp_path: Path) -> None:
    state = StateDir(tmp_path)
    state.claim_run("claimed-20241220-143022")  # claimed, record not written yet
    state.save_run(record("a-20241220-143022"))
    state.save_run(record("b-20241220-143022", url="/other"))
    state.save_run(record("c-20241220-143022", profile="q", status="complete"))
    assert [r.set for r in state.runs("/repo", "p")] == ["a-20241220-143022"]
    assert [r.status for r in state.runs("/repo", "q")] == ["complete"]


def test_write_atomic_is_private_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sets" / "x" / "metadata.json"
    write_atomic(target, b"one")
    write_atomic(target, b"two")
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["metadata.json"]


def test_write_atomic_never_writes_through_a_planted_temp_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (tmp_path / ".record.json.tmp").symlink_to(victim)
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "record.json", b"{}")
        write_atomic(tmp_path / "unit.timer", b"[Timer]", mode=0o644)
    finally:
        os.umask(old)
    assert victim.read_bytes() == b"precious"
    assert (tmp_path / "record.json").read_bytes() == b"{}"
    assert (tmp_path / "record.json").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "unit.timer").stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".record.json.tmp", "record.json", "unit.timer", "victim"]
