"""What a schedule installs, as text: systemd service and timer units, or a cron entry.

Pure functions: schedule_install.py writes the files and runs systemctl or crontab.
A job runs `strongroom create-backup --schedule KEY --profile FILE` by absolute paths;
there is no shell in a systemd unit, and the cron line quotes every argument.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.errors import UsageError
from orchestrator.profile.cron import MONTHS, WEEKDAYS, to_oncalendar

BLOCK_BEGIN = "# BEGIN strongroom {profile}/{key}"
BLOCK_END = "# END strongroom {profile}/{key}"
_SYSTEMD_PLAIN = re.compile(r"^[A-Za-z0-9_./:=@+,-]+$")

# System units only: a user manager cannot apply most sandboxing without user namespaces,
# and NoNewPrivileges would break rootless podman's setuid newuidmap. Nothing here stops
# a hook from reading what it backs up or writing the state directory and /var/lib.
SYSTEM_HARDENING = (
    "NoNewPrivileges=yes",
    "ProtectSystem=full",
    "ProtectKernelTunables=yes",
    "ProtectKernelLogs=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "RestrictRealtime=yes",
    "LockPersonality=yes",
)


@dataclass(frozen=True)
class ScheduledJob:
    profile: str
    key: str
    cron: str
    argv: Sequence[str]
    user: bool = False
    randomized_delay: int = 0
    environment: Mapping[str, str] = field(default_factory=dict)
    profile_file: str = ""

    @property
    def unit(self) -> str:
        return unit_name(self.profile, self.key)


def unit_name(profile: str, key: str) -> str:
    return f"strongroom-{profile}-{key}"


def job_argv(executable: Sequence[str], profile_file: str, key: str,
             drill: bool = False) -> list[str]:
    """The scheduled command: create-backup, or drill for a schedule of type drill."""
    command = "drill" if drill else "create-backup"
    return [*executable, command, "--schedule", key, "--profile", profile_file]


def systemd_word(arg: str) -> str:
    """One ExecStart= argument: `%` and `$` escaped (no specifiers, no variables),
    quoted when it holds anything but plain path characters."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if _SYSTEMD_PLAIN.match(escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def environment_word(assignment: str) -> str:
    """One Environment= assignment: specifiers escaped, quoted when needed; unlike
    ExecStart=, systemd expands no $VARIABLES here, so `$` stays as it is."""
    escaped = assignment.replace("%", "%%")
    if _SYSTEMD_PLAIN.match(escaped.replace("$", "")):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _exec_lines(argv: Sequence[str], environment: Mapping[str, str], profile: str,
                user: bool) -> list[str]:
    """ExecStart=, its Environment= lines and the profile's optional EnvironmentFile=,
    as every strongroom unit runs its command."""
    env_file = ("%h/.config/strongroom/" if user else "/etc/strongroom/") + f"{profile}.env"
    return ["ExecStart=" + " ".join(systemd_word(arg) for arg in argv),
            *(f"Environment={environment_word(f'{key}={value}')}"
              for key, value in sorted(environment.items())),
            f"EnvironmentFile=-{env_file}"]


def systemd_service(job: ScheduledJob) -> str:
    lines = [
        _managed_header(job),
        "[Unit]",
        f"Description=strongroom backup: profile {job.profile}, schedule {job.key}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=oneshot",
        *_exec_lines(job.argv, job.environment, job.profile, job.user),
        "Nice=10",
        "IOSchedulingClass=idle",
        "CPUSchedulingPolicy=batch",
        *(() if job.user else SYSTEM_HARDENING),
        "",
    ]
    return "\n".join(lines)


def systemd_timer(job: ScheduledJob) -> str:
    lines = [
        _managed_header(job),
        "[Unit]",
        f"Description=strongroom schedule {job.key} of profile {job.profile} ({job.cron})",
        "",
        "[Timer]",
        *(f"OnCalendar={line}" for line in to_oncalendar(job.cron)),
        "Persistent=true",
        f"RandomizedDelaySec={job.randomized_delay}",
        f"Unit={job.unit}.service",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ]
    return "\n".join(lines)


def _managed_header(job: ScheduledJob) -> str:
    return (f"# Written by strongroom schedule-backup (profile {job.profile}, schedule "
            f"{job.key}).\n# Change the schedule in {job.profile_file or 'the profile'} "
            "and run schedule-backup again;\n# edits here are replaced.\n")


@dataclass(frozen=True)
class ShipperJob:
    """The WAL shipper of a continuous PostgreSQL service: a long-running service unit
    (`strongroom pitr ship --every N`), restarted when it dies."""

    profile: str
    service: str
    argv: Sequence[str]
    user: bool = False
    environment: Mapping[str, str] = field(default_factory=dict)
    profile_file: str = ""

    @property
    def unit(self) -> str:
        return shipper_unit_name(self.profile, self.service)


def shipper_unit_name(profile: str, service: str) -> str:
    return f"strongroom-{profile}-wal-shipper-{service}"


def shipper_argv(executable: Sequence[str], profile_file: str, service: str,
                 every: float) -> list[str]:
    return [*executable, "pitr", "ship", "--every", f"{every:g}", "--profile", profile_file,
            "--service", service]


def shipper_service(job: ShipperJob) -> str:
    lines = [
        f"# Written by strongroom pitr setup (profile {job.profile}, service {job.service}).\n"
        f"# Change {job.profile_file or 'the profile'} and run pitr setup again;\n"
        "# edits here are replaced.\n"
        "[Unit]",
        f"Description=strongroom WAL shipper: profile {job.profile}, service {job.service}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        *_exec_lines(job.argv, job.environment, job.profile, job.user),
        "Restart=on-failure",
        "RestartSec=30",
        "Nice=5",
        *(() if job.user else SYSTEM_HARDENING),
        "",
        "[Install]",
        f"WantedBy={'default.target' if job.user else 'multi-user.target'}",
        "",
    ]
    return "\n".join(lines)


def cron_expression(expression: str) -> str:
    """The expression with month and weekday names as numbers: some crons accept names
    only as single values, never in ranges or lists."""
    parts = expression.split()
    if len(parts) != 5:
        return expression  # a macro: @daily and the others are understood by every cron
    parts[3] = _numbers(parts[3], MONTHS, 1)
    parts[4] = _numbers(parts[4], WEEKDAYS, 0)
    return " ".join(parts)


def _numbers(text: str, names: Sequence[str], base: int) -> str:
    return re.sub(r"[A-Za-z]+", lambda m: str(names.index(m.group(0).lower()) + base)
                  if m.group(0).lower() in names else m.group(0), text)


def cron_command(job: ScheduledJob) -> str:
    """The command as one line for sh, every word quoted, `%` escaped for cron."""
    env = [f"{key}={value}" for key, value in sorted(job.environment.items())]
    argv = ["/usr/bin/env", *env, *job.argv] if env else list(job.argv)
    return shlex.join(argv).replace("%", "\\%")


def cron_block(job: ScheduledJob) -> str:
    """A marked block: a system cron.d file names the user (root), a crontab does not."""
    who = "" if job.user else "root "
    return "\n".join([
        BLOCK_BEGIN.format(profile=job.profile, key=job.key),
        f"# written by strongroom schedule-backup; change {job.profile_file or 'the profile'} "
        "and run it again",
        f"{cron_expression(job.cron)} {who}{cron_command(job)}",
        BLOCK_END.format(profile=job.profile, key=job.key),
    ])


def replace_block(text: str, profile: str, key: str, block: str | None) -> str:
    """`text` with the schedule's marked block replaced by `block`, appended when it was
    not there, or removed when `block` is None. Everything else stays as it was."""
    begin = BLOCK_BEGIN.format(profile=profile, key=key)
    end = BLOCK_END.format(profile=profile, key=key)
    lines = text.splitlines()
    stripped = [line.strip() for line in lines]
    position: int | None = None
    if begin in stripped:
        position = stripped.index(begin)
        if end not in stripped[position:]:
            raise UsageError(f"the cron table has the line {begin!r} without its {end!r} "
                             "line; mend it by hand, strongroom will not guess where the "
                             "block ends")
        finish = stripped.index(end, position)
        lines = lines[:position] + lines[finish + 1:]
    if block is not None:
        new = block.splitlines()
        if position is None:
            lines += new
        else:
            lines[position:position] = new
    return "\n".join(lines) + "\n" if lines else ""


def blocks_in(text: str) -> set[tuple[str, str]]:
    """(profile, key) of every strongroom block in a crontab."""
    found = set()
    for line in text.splitlines():
        match = re.fullmatch(r"# BEGIN strongroom ([^/\s]+)/(\S+)", line.strip())
        if match:
            found.add((match.group(1), match.group(2)))
    return found
