"""The WAL shipper as a systemd service: `pitr setup` writes and starts its unit the way
schedule-backup installs a schedule's units (same folders, same STRONGROOM_SYSTEMD_DIR,
systemctl only where systemd runs), and `pitr status` says whether it is there and active."""

from __future__ import annotations

import os
from pathlib import Path

from orchestrator.models import InstalledFile
from orchestrator.schedule.install import Places, install_shipper, shipper_path, shipper_state
from orchestrator.schedule.units import ShipperJob, shipper_argv, shipper_service

STATE_DIR_ENV = "STRONGROOM_STATE_DIR"
UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "": 1.0, "min": 60.0, "h": 3600.0}

MIN_EVERY = 5.0
MAX_EVERY = 30.0


def default_every(archive_timeout: str) -> float:
    """Half the archive_timeout, within 5 to 30 seconds: shipping that often keeps the RPO
    near the archive_timeout, while an idle round costs one look at the spool."""
    number = archive_timeout.rstrip("abcdefghijklmnopqrstuvwxyz")
    seconds = int(number) * UNIT_SECONDS[archive_timeout[len(number):]]
    return min(MAX_EVERY, max(MIN_EVERY, seconds / 2))


def shipper_job(program: list[str], profile: str, profile_file: Path, service: str,
                every: float, user: bool) -> ShipperJob:
    """The shipper's unit for `program` (how strongroom is started: `env PYTHONPATH=…
    python -m orchestrator` becomes an Environment= line and the interpreter's argv)."""
    environment: dict[str, str] = {}
    while program and program[0] == "env":
        program = program[1:]
        while program and "=" in program[0]:
            key, _, value = program[0].partition("=")
            environment[key] = value
            program = program[1:]
    if os.environ.get(STATE_DIR_ENV):
        environment[STATE_DIR_ENV] = os.environ[STATE_DIR_ENV]
    return ShipperJob(profile=profile, service=service,
                      argv=shipper_argv(program, str(profile_file), service, every), user=user,
                      environment=environment, profile_file=str(profile_file))


def planned(places: Places, job: ShipperJob) -> list[InstalledFile]:
    return [InstalledFile(path=str(shipper_path(places, job)), content=shipper_service(job))]


def install(places: Places, job: ShipperJob) -> tuple[list[InstalledFile], list[str],
                                                      list[str]]:
    """(files written, systemctl commands run, notes)."""
    outcome = install_shipper(places, job)
    return ([InstalledFile(path=path, content=content) for path, content in outcome.files.items()],
            [" ".join(argv) for argv in outcome.commands], outcome.notes)


def state(places: Places, job: ShipperJob) -> tuple[str | None, str]:
    return shipper_state(places, job)
