"""The WAL shipper's service unit: its text, where it goes, and its state."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.pitr.shipper import default_every, install, planned, shipper_job, state
from orchestrator.schedule.install import Places
from orchestrator.schedule.units import shipper_service


def places(tmp_path: Path, user: bool = False) -> Places:
    return Places(user=user, systemd_dir=tmp_path / "units", cron_file=None,
                  systemd_running=False)


@pytest.fixture(autouse=True)
def no_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRONGROOM_STATE_DIR", raising=False)


def test_the_unit_runs_the_shipper_by_absolute_paths_and_restarts_it() -> None:
    job = shipper_job(["env", "PYTHONPATH=/opt/src", "/usr/bin/python3", "-m", "orchestrator"],
                      "homelab", Path("/etc/strongroom/home lab.toml"), "db", 30, user=False)
    text = shipper_service(job)
    assert job.unit == "strongroom-homelab-wal-shipper-db"
    assert ('ExecStart=/usr/bin/python3 -m orchestrator pitr ship --every 30 --profile '
            '"/etc/strongroom/home lab.toml" --service db') in text
    assert "Environment=PYTHONPATH=/opt/src" in text
    assert "EnvironmentFile=-/etc/strongroom/homelab.env" in text
    assert "Type=simple" in text and "Restart=on-failure" in text
    assert "WantedBy=multi-user.target" in text and "NoNewPrivileges=yes" in text
    assert text.startswith("# Written by strongroom pitr setup")


def test_a_user_unit_has_no_sandboxing_and_starts_with_the_user_manager() -> None:
    job = shipper_job(["/usr/bin/strongroom"], "p", Path("/home/u/p.toml"), "db", 7.5, user=True)
    text = shipper_service(job)
    assert "ExecStart=/usr/bin/strongroom pitr ship --every 7.5 " in text
    assert "EnvironmentFile=-%h/.config/strongroom/p.env" in text
    assert "NoNewPrivileges" not in text and "WantedBy=default.target" in text
    assert "Environment=" not in text.replace("EnvironmentFile=", "")


def test_the_state_directory_goes_with_the_shipper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRONGROOM_STATE_DIR", "/srv/state 1")
    job = shipper_job(["/usr/bin/strongroom"], "p", Path("/p.toml"), "db", 5, user=False)
    assert 'Environment="STRONGROOM_STATE_DIR=/srv/state 1"' in shipper_service(job)


@pytest.mark.parametrize(("timeout", "every"), [("60s", 30), ("10s", 5), ("10", 5),
                                                ("2min", 30), ("1h", 30), ("500ms", 5),
                                                ("24s", 12)])
def test_the_shipper_round_is_half_the_archive_timeout_within_bounds(timeout: str,
                                                                     every: float) -> None:
    assert default_every(timeout) == every


def test_installing_without_systemd_writes_the_unit_and_says_what_to_run(tmp_path: Path) -> None:
    where = places(tmp_path)
    job = shipper_job(["/usr/bin/strongroom"], "p", Path("/p.toml"), "db", 5, user=False)
    assert state(where, job) == (None, "not installed")
    preview = planned(where, job)
    assert not (tmp_path / "units").exists()
    files, commands, notes = install(where, job)
    unit = tmp_path / "units" / "strongroom-p-wal-shipper-db.service"
    assert [item.path for item in files] == [str(unit)] == [item.path for item in preview]
    assert unit.read_text() == files[0].content == preview[0].content
    assert commands == []
    assert notes == ["systemd is not running here: once it is, run systemctl enable "
                     "strongroom-p-wal-shipper-db.service",
                     "systemd is not running here: once it is, run systemctl restart "
                     "strongroom-p-wal-shipper-db.service"]
    assert state(where, job) == (str(unit), "installed; systemd is not running here")
    install(where, job)  # again: the same file, replaced in place
    assert unit.read_text() == files[0].content


def test_the_state_is_what_systemctl_answers_or_why_it_cannot(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    import orchestrator.schedule.install as installing
    from orchestrator.run import Completed, MissingBinaryError

    where = Places(user=False, systemd_dir=tmp_path, cron_file=None, systemd_running=True)
    job = shipper_job(["/usr/bin/strongroom"], "p", Path("/p.toml"), "db", 5, user=False)
    (tmp_path / f"{job.unit}.service").write_text(shipper_service(job))
    asked: list[list[str]] = []

    def answers(argv: list[str], **_: object) -> Completed:
        asked.append(list(argv))
        return Completed(list(argv), 3, "inactive\n", "")

    monkeypatch.setattr(installing, "run", answers)
    assert state(where, job)[1] == "inactive"
    assert asked == [["systemctl", "is-active", f"{job.unit}.service"]]

    def missing(argv: list[str], **_: object) -> Completed:
        raise MissingBinaryError("systemctl")

    monkeypatch.setattr(installing, "run", missing)
    assert state(where, job)[1].startswith("installed; its state is unknown (")
