"""What watching a run leaves behind: job records for successes and failures, the
textfile, and nothing that can fail the run."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from orchestrator.errors import StrongroomError
from orchestrator.models import CreateBackupRequest, VerifyBackupRequest
from orchestrator.observe.records import ObserveState
from orchestrator.observe.watch import Tail, job_name, watched
from tests.observe.conftest import make_session


class Made:
    """Stands in for a CreateBackupResult: the fields watching reads."""

    def __init__(self, name: str) -> None:
        self.set, self.bytes, self.bytes_added = name, 100, 40


def test_job_names() -> None:
    assert job_name("create-backup", CreateBackupRequest(schedule="nightly")) == "nightly"
    assert job_name("create-backup", CreateBackupRequest(type="full")) == "full"
    assert job_name("create-backup", CreateBackupRequest(type="full", name="x")) == "x"
    assert job_name("backup-files", object()) == "files"


def test_success_and_failure_are_recorded(tmp_path: Path) -> None:
    textfiles = tmp_path / "prom"
    textfiles.mkdir()
    session = make_session(tmp_path, metrics={"textfile_dir": str(textfiles)},
                           schedules={"nightly": {"schedule": "@daily"}})
    request = CreateBackupRequest(schedule="nightly")
    with watched(session, "create-backup", request) as watch:
        watch.result = Made("nightly-20261201-030000")  # type: ignore[assignment]
    observed = ObserveState(session.state.root, "site")
    record = observed.job("nightly")
    assert record is not None and record.last_status == "complete"
    assert (record.set, record.bytes, record.bytes_added) == ("nightly-20261201-030000", 100, 40)
    assert (textfiles / "strongroom-site.prom").is_file()

    with pytest.raises(StrongroomError, match="boom"):
        with watched(session, "create-backup", request):
            raise StrongroomError("boom")
    failed = observed.job("nightly")
    assert failed is not None and failed.last_status == "failed" and failed.last_error == "boom"
    assert failed.last_success == record.last_success and failed.set == record.set


def test_watching_never_fails_the_run(tmp_path: Path) -> None:
    session = make_session(tmp_path, metrics={"textfile_dir": str(tmp_path / "absent")})
    blocker = session.state.root / "observe"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where a folder should be")
    with watched(session, "create-backup", CreateBackupRequest(type="config")) as watch:
        watch.result = Made("config-20261201-030000")  # type: ignore[assignment]


def test_a_failed_verification_is_recorded_for_its_repository(tmp_path: Path) -> None:
    session = make_session(tmp_path)

    class Report:
        set, ok = "nightly-x", False

    with watched(session, "verify-backup", VerifyBackupRequest()) as watch:
        watch.result = Report()  # type: ignore[assignment]
    record = ObserveState(session.state.root, "site").verify("local")
    assert record is not None and not record.ok and record.set == "nightly-x"
    with watched(session, "verify-backup", VerifyBackupRequest(destination="nosuch")):
        pass  # the tool reports the unknown repository; watching stays out of the way


def test_the_tail_keeps_the_last_lines_and_notices_warnings() -> None:
    tail = Tail()
    logger = logging.getLogger("strongroom.test-tail")
    logger.setLevel(logging.INFO)
    logger.addHandler(tail)
    try:
        for number in range(100):
            logger.info("line %d", number)
        assert not tail.warned
        logging.getLogger("strongroom.observe").addHandler(tail)
        logging.getLogger("strongroom.observe").warning("a receiver failed")
        assert not tail.warned  # a notification problem is not the run's warning
        logger.warning("restic said something")
    finally:
        logger.removeHandler(tail)
        logging.getLogger("strongroom.observe").removeHandler(tail)
    assert tail.warned and len(tail.lines) == 40 and tail.lines[-1].endswith("said something")
