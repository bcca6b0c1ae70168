"""One `restic snapshots` per run: a listing serves every later one with more tags, and
a write the run makes forgets it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.engines import restic as restic_engine
from orchestrator.engines import versions
from orchestrator.engines.restic import ResticEngine
from orchestrator.profile.schema import Repository

SNAPSHOTS = [
    {"id": "a" * 64, "time": "2026-01-01T00:00:00Z", "tags": ["strongroom", "profile=one"]},
    {"id": "b" * 64, "time": "2026-01-02T00:00:00Z", "tags": ["strongroom", "profile=two"]},
    {"id": "c" * 64, "time": "2026-01-03T00:00:00Z", "tags": ["other"]},
]
FAKE_RESTIC = """#!/bin/sh
echo "$@" >> "{calls}"
case "$1" in
  version) echo "restic 0.14.0 compiled with go1.19.8 on linux/amd64";;
  snapshots) case "$*" in *"--tag strongroom"*) cat "{listing}.strongroom";;
             *) cat "{listing}";; esac;;
esac
"""


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ResticEngine, Path]:
    calls, listing = tmp_path / "calls", tmp_path / "listing.json"
    listing.write_text(json.dumps(SNAPSHOTS))
    Path(f"{listing}.strongroom").write_text(json.dumps(SNAPSHOTS[:2]))  # restic's filter
    fake = tmp_path / "bin" / "restic"
    fake.parent.mkdir()
    fake.write_text(FAKE_RESTIC.format(calls=calls, listing=listing))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    monkeypatch.setattr(versions, "_versions", {})
    monkeypatch.setattr(restic_engine, "probe", lambda address: None)
    password = tmp_path / "pass"
    password.write_text("pw\n")
    repository = Repository(url="rest:http://127.0.0.1:9/repo", password_file=password)
    return ResticEngine("remote", repository, tmp_path / "state"), calls


def listings(calls: Path) -> list[str]:
    return [line for line in calls.read_text().splitlines() if line.startswith("snapshots")]


def test_a_listing_serves_narrower_ones_and_a_write_forgets_it(
    engine: tuple[ResticEngine, Path],
) -> None:
    restic, calls = engine
    assert [s.id[0] for s in restic.snapshots(["strongroom"])] == ["a", "b"]
    assert [s.id[0] for s in restic.snapshots(["strongroom", "profile=two"])] == ["b"]
    assert [s.id[0] for s in restic.snapshots(["strongroom"])] == ["a", "b"]
    assert listings(calls) == ["snapshots --json --tag strongroom"]
    assert [s.id[0] for s in restic.snapshots()] == ["a", "b", "c"]  # wider: asked
    assert [s.id[0] for s in restic.snapshots(["other"])] == ["c"]
    assert len(listings(calls)) == 2
    restic.add_tags(["a" * 64], ["x=y"])  # a write of this run
    restic.snapshots(["strongroom"])
    assert listings(calls)[2:] == ["snapshots --json --tag strongroom"]
