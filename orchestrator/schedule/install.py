"""Installing a schedule's job: systemd units or a cron block, and taking them away again.

Where things go:
  systemd  /etc/systemd/system as root, else $XDG_CONFIG_HOME/systemd/user
           (STRONGROOM_SYSTEMD_DIR overrides); systemctl runs only when systemd runs
  cron     /etc/cron.d/strongroom as root (STRONGROOM_CRON_FILE overrides), else the
           user's crontab through `crontab -l` and `crontab -`
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from orchestrator.errors import StrongroomError, UsageError
from orchestrator.run import CommandError, run, which
from orchestrator.run.tempfiles import write_atomic
from orchestrator.schedule.units import (
    ScheduledJob,
    ShipperJob,
    blocks_in,
    cron_block,
    replace_block,
    shipper_service,
    systemd_service,
    systemd_timer,
    unit_name,
)
from orchestrator.sets.inventory import Schedules, schedule_places

Method = Literal["systemd", "cron"]
SYSTEMD_RUNNING = Path("/run/systemd/system")


@dataclass
class Outcome:
    files: dict[str, str] = field(default_factory=dict)  # path → content written
    commands: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Places:
    """Where this user's units and cron entries live, and whether systemd is running."""

    user: bool
    systemd_dir: Path
    cron_file: Path | None  # None: the user's crontab
    systemd_running: bool
    cron_file_given: bool = False  # STRONGROOM_CRON_FILE: written whether or not cron runs

    @classmethod
    def here(cls, environ: Mapping[str, str] | None = None) -> Places:
        env = os.environ if environ is None else environ
        user = os.geteuid() != 0
        systemd_dir, cron_file = schedule_places(env, user)
        return cls(user, systemd_dir, cron_file, SYSTEMD_RUNNING.is_dir(),
                   bool(env.get("STRONGROOM_CRON_FILE")))

    def choose(self, wanted: str) -> Method | None:
        """The method for --install auto|systemd|cron|none; None for none."""
        if wanted == "none":
            return None
        if wanted == "systemd" or (wanted == "auto" and self.systemd_running):
            return "systemd"
        if wanted == "cron" or self.cron_available():
            return "cron"
        raise UsageError(
            "neither systemd nor cron runs on this host, so the schedule cannot be installed",
            hint="keep it in the profile with --install none and run `strongroom scheduler` "
                 "in the foreground (for example as a container's command)")

    def cron_available(self) -> bool:
        if self.cron_file_given:
            return True
        daemon = any(shutil.which(name) for name in ("cron", "crond", "cronie"))
        return daemon and (self.cron_file is not None or shutil.which("crontab") is not None)

    def unit_paths(self, profile: str, key: str) -> tuple[Path, Path]:
        unit = unit_name(profile, key)
        return self.systemd_dir / f"{unit}.service", self.systemd_dir / f"{unit}.timer"

    def systemctl(self, *args: str) -> list[str]:
        return ["systemctl", *(["--user"] if self.user else []), *args]


def recorded_method(recorded: Schedules | None, profile: str, key: str) -> str | None:
    """How a schedule was installed when a disaster-recovery set was made (its inventory):
    systemd, cron, none; None when the inventory cannot say (no inventory, or a user's
    crontab, which it does not read)."""
    if recorded is None:
        return None
    if f"{unit_name(profile, key)}.timer" in recorded.systemd_units:
        return "systemd"
    if f"{profile}/{key}" in recorded.cron_blocks:
        return "cron"
    return "none" if recorded.cron_file is not None else None


def planned_files(places: Places, method: Method, job: ScheduledJob) -> dict[str, str]:
    """What installing writes (for --dry-run): unit files, or the cron block."""
    if method == "systemd":
        service, timer = places.unit_paths(job.profile, job.key)
        return {str(service): systemd_service(job), str(timer): systemd_timer(job)}
    where = str(places.cron_file) if places.cron_file else "crontab"
    return {where: cron_block(job) + "\n"}


def install(places: Places, method: Method, job: ScheduledJob) -> Outcome:
    outcome = Outcome()
    if method == "systemd":
        for path, content in planned_files(places, method, job).items():
            write_atomic(Path(path), content.encode(), mode=0o644)
            outcome.files[path] = content
        _systemctl(places, outcome, ["daemon-reload"], ["enable", "--now", f"{job.unit}.timer"])
    else:
        before = _read_cron(places)
        after = replace_block(before, job.profile, job.key, cron_block(job))
        if after != before:
            _write_cron(places, after)
        outcome.files[str(places.cron_file or "crontab")] = after
    return outcome


def shipper_path(places: Places, job: ShipperJob) -> Path:
    return places.systemd_dir / f"{job.unit}.service"


def install_shipper(places: Places, job: ShipperJob) -> Outcome:
    """Write the WAL shipper's service unit, enable it and (re)start it, so that a unit
    rewritten with other arguments runs them."""
    outcome = Outcome()
    path, content = shipper_path(places, job), shipper_service(job)
    write_atomic(path, content.encode(), mode=0o644)
    outcome.files[str(path)] = content
    _systemctl(places, outcome, ["daemon-reload"], ["enable", f"{job.unit}.service"],
               ["restart", f"{job.unit}.service"])
    return outcome


def shipper_state(places: Places, job: ShipperJob) -> tuple[str | None, str]:
    """(the unit file, or None when it is not installed; its state as systemctl says,
    or why that is unknown)."""
    path = shipper_path(places, job)
    if not path.exists():
        return None, "not installed"
    if not places.systemd_running:
        return str(path), "installed; systemd is not running here"
    try:
        answer = run(places.systemctl("is-active", f"{job.unit}.service"),
                     ok_codes=tuple(range(256)), timeout=30)
    except StrongroomError as exc:  # systemctl missing or hanging: status still answers
        return str(path), f"installed; its state is unknown ({exc.message})"
    return str(path), answer.stdout.strip() or "unknown"


def uninstall(places: Places, profile: str, key: str) -> Outcome:
    """Remove the schedule's units and cron block, wherever they are."""
    outcome = Outcome()
    units = [path for path in places.unit_paths(profile, key) if path.exists()]
    if units:
        _systemctl(places, outcome, ["disable", "--now", f"{unit_name(profile, key)}.timer"])
        for path in units:
            path.unlink()
            outcome.notes.append(f"removed {path}")
        _systemctl(places, outcome, ["daemon-reload"])
    if places.cron_file is not None and not places.cron_file.exists():
        return outcome
    if places.cron_file is None and shutil.which("crontab") is None:
        return outcome
    before = _read_cron(places)
    after = replace_block(before, profile, key, None)
    if after != before:
        _write_cron(places, after)
        outcome.notes.append(f"removed its entry from {places.cron_file or 'the crontab'}")
    return outcome


def installed_where(places: Places, profile: str, key: str, crontab: str | None) -> list[str]:
    found = [f"systemd {path}" for path in places.unit_paths(profile, key)[1:]
             if path.exists()]
    if crontab is not None and (profile, key) in blocks_in(crontab):
        found.append(f"cron {places.cron_file or 'crontab'}")
    return found


def read_cron_quietly(places: Places) -> str | None:
    try:
        return _read_cron(places)
    except (OSError, CommandError, UsageError):
        return None


def _systemctl(places: Places, outcome: Outcome, *calls: list[str]) -> None:
    for args in calls:
        argv = places.systemctl(*args)
        if not places.systemd_running:
            if args[0] != "daemon-reload":
                outcome.notes.append("systemd is not running here: once it is, run "
                                     + " ".join(argv))
            continue
        run(argv, timeout=120)
        outcome.commands.append(argv)


def _read_cron(places: Places) -> str:
    if places.cron_file is not None:
        try:
            return places.cron_file.read_text()
        except FileNotFoundError:
            return ""
    argv = [which("crontab"), "-l"]
    listed = run(argv, ok_codes=(0, 1))
    if listed.returncode == 1:
        if "no crontab" in listed.stderr.lower():
            return ""
        raise CommandError(argv, 1, listed.stderr)
    return listed.stdout


def _write_cron(places: Places, text: str) -> None:
    if places.cron_file is not None:
        # cron.d files must not be group/world writable, or cron ignores them.
        write_atomic(places.cron_file, text.encode(), mode=0o644)
    else:
        run([which("crontab"), "-"], input_bytes=text.encode())
