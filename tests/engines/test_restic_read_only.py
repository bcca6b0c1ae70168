"""The engine on a read-only repository, with a stand-in restic (a script on PATH) that
cannot lock: reads are run again with --no-lock and said once, writes are refused."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from orchestrator.engines import restic as restic_engine
from orchestrator.engines import versions
from orchestrator.engines.base import RepositoryReadOnly
from orchestrator.engines.restic import ResticEngine
from orchestrator.profile.schema import Repository

FAKE_RESTIC = """#!/bin/sh
echo "$@" >> "{calls}"
case "$1" in version) echo "restic 0.14.0 compiled with go1.19.8 on linux/amd64"; exit 0;; esac
for arg in "$@"; do
  if [ "$arg" = "--no-lock" ]; then echo '[]'; exit 0; fi
done
echo "open /r/locks/x-tmp-1: read-only file system" >&2
echo "unable to create lock in backend" >&2
exit 1
"""


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ResticEngine, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake = bin_dir / "restic"
    fake.write_text(FAKE_RESTIC.format(calls=calls))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr(versions, "_versions", {})
    monkeypatch.setattr(restic_engine, "_said_read_only", set())
    password = tmp_path / "pass"
    password.write_text("pw\n")
    password.chmod(0o600)
    # A remote-looking URL: nothing on disk tells strongroom, restic's failure must.
    repository = Repository(url="rest:http://127.0.0.1:9/repo", password_file=password)
    monkeypatch.setattr(restic_engine, "probe", lambda address: None)
    return ResticEngine("remote", repository, tmp_path / "state"), calls


def test_a_read_runs_again_without_a_lock_and_says_so_once(
    engine: tuple[ResticEngine, Path], caplog: pytest.LogCaptureFixture
) -> None:
    restic, calls = engine
    with caplog.at_level(logging.WARNING, logger="strongroom.restic"):
        assert restic.snapshots() == []
        restic.forget_listings()  # listed once per run: ask again as a new run would
        assert restic.snapshots() == []
    lines = [line.split() for line in calls.read_text().splitlines() if "version" not in line]
    assert lines == [["snapshots", "--json"], ["snapshots", "--no-lock", "--json"],
                     ["snapshots", "--no-lock", "--json"]]
    said = [r.getMessage() for r in caplog.records if "read-only" in r.getMessage()]
    assert said == ["repository remote (rest:http://127.0.0.1:9/repo) is read-only: reading it "
                    "without a lock"]


def test_a_write_fails_with_one_message(engine: tuple[ResticEngine, Path]) -> None:
    restic, calls = engine
    with pytest.raises(RepositoryReadOnly, match="is read-only: restic cannot create a lock"):
        restic.add_tags(["abc"], ["a=b"])
    restic.snapshots()  # learns it
    before = calls.read_text()
    with pytest.raises(RepositoryReadOnly):
        restic.forget(["abc"])
    assert calls.read_text() == before, "a known read-only repository is not even tried"
