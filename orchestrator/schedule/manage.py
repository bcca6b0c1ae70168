"""schedule-backup: add a schedule to the profile and install it, list, or remove.

The profile is the source of truth: a schedule is written into it first (with its
comments kept), then its systemd timer or cron entry is installed from it. Installing
again from an unchanged profile rewrites the same files: it is idempotent.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from orchestrator.errors import (
    ConflictError,
    StrongroomError,
    UnknownName,
    UsageError,
)
from orchestrator.models import (
    InstalledFile,
    ScheduleBackupRequest,
    ScheduleBackupResult,
    ScheduleInfo,
)
from orchestrator.profile.cron import cron_times
from orchestrator.profile.edit import (
    replace_profile_text,
    schedule_values,
    with_schedule,
    without_schedule,
)
from orchestrator.profile.schema import Profile, RetentionRules, Schedule
from orchestrator.profile.timespan import parse_timespan
from orchestrator.schedule.install import (
    Method,
    Places,
    install,
    installed_where,
    planned_files,
    read_cron_quietly,
    recorded_method,
    uninstall,
)
from orchestrator.schedule.units import ScheduledJob, job_argv
from orchestrator.sets.drill import last_drills
from orchestrator.sets.inventory import Schedules
from orchestrator.sets.naming import split_set_name
from orchestrator.sets.session import Session

# cron runs jobs with PATH=/usr/bin:/bin; the dump tools may live in the sbin folders too.
CRON_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RULE_FIELDS = ("retention", "keep_last", "keep_hourly", "keep_daily", "keep_weekly",
               "keep_monthly", "keep_yearly")


def schedule_backup(session: Session, request: ScheduleBackupRequest) -> ScheduleBackupResult:
    if request.action == "list":
        return list_schedules(session)
    if request.name is None:
        raise UsageError(f"schedule-backup {request.action} needs the schedule's name (--name)")
    from orchestrator.profile.lock import profile_lock

    # One profile edit at a time: two calls reading the same text would lose one change.
    with profile_lock(session.state.root, f"{session.profile.profile_name}.profile-edit", 60):
        if request.action == "remove":
            return remove_schedule(session, request.name, request.dry_run)
        return add_schedule(session, request, request.name)


def add_schedule(session: Session, request: ScheduleBackupRequest,
                 key: str) -> ScheduleBackupResult:
    profile = session.profile
    path = profile_file(profile)
    text = path.read_text(encoding="utf-8")
    result = _result(profile, path, "add", request.dry_run)
    if request.schedule is None:
        if key not in profile.schedules:
            raise UsageError(f"no schedule named {key!r} in the profile: give --schedule "
                             "(and --type, --retention, …) to add it")
        schedule, new_text = profile.schedules[key], text
    else:
        values = request_values(request)
        schedule = _validated(values)
        result.change = _change(profile, path, text, key, values, request.replace)
        new_text = text if result.change == "unchanged" else with_schedule(text, key, values)
    places = Places.here()
    method = places.choose(request.install)
    job = scheduled_job(profile, path, key, schedule, places, method) if method else None
    if method is not None and job is not None:
        result.install = method
        if request.dry_run:
            result.files = [InstalledFile(path=where, content=content)
                            for where, content in planned_files(places, method, job).items()]
    if request.dry_run:
        result.notes.append("dry run: the profile and the system were left unchanged")
        return result
    if new_text != text:
        _rewrite(session, path, new_text)
    if method is not None and job is not None:
        again = (f"schedule {key!r} is saved in {path}; run `strongroom schedule-backup "
                 f"--name {key} --install {method}` again to install it")
        try:
            outcome = install(places, method, job)
        except StrongroomError as exc:
            exc.hint = f"{exc.hint}; {again}" if exc.hint else again
            raise
        except OSError as exc:
            raise StrongroomError(f"cannot install the {method} schedule: {exc.strerror}: "
                                  f"{exc.filename}", hint=again) from exc
        result.files = [InstalledFile(path=where, content=content)
                        for where, content in outcome.files.items()]
        result.commands = [" ".join(argv) for argv in outcome.commands]
        result.notes += outcome.notes
    else:
        result.notes.append("not installed (--install none): `strongroom scheduler` runs it")
    result.schedules = [_info(session, places, key, schedule, read_cron_quietly(places))]
    return result


def remove_schedule(session: Session, key: str, dry_run: bool) -> ScheduleBackupResult:
    profile = session.profile
    path = profile_file(profile)
    text = path.read_text(encoding="utf-8")
    result = _result(profile, path, "remove", dry_run)
    in_file = schedule_values(text, key) is not None
    if not in_file and key in profile.schedules:
        raise ConflictError(f"schedule {key!r} comes from a profile this one extends, not "
                            f"from {path}: remove it there")
    places = Places.here()
    where = installed_where(places, profile.profile_name, key, read_cron_quietly(places))
    if not in_file and not where:
        have = ", ".join(profile.schedules) or "none"
        raise UnknownName(f"no schedule named {key!r} in the profile (have: {have}) and "
                            "nothing of it installed")
    if dry_run:
        result.notes += [f"would remove {item}" for item in where]
        if in_file:
            result.notes.append(f"would remove [schedules.{key}] from {path}")
        return result
    outcome = uninstall(places, profile.profile_name, key)
    result.notes += outcome.notes
    result.commands = [" ".join(argv) for argv in outcome.commands]
    if in_file:
        _rewrite(session, path, without_schedule(text, key))
        result.change = "removed"
        result.notes.append(f"removed [schedules.{key}] from {path}")
    return result


def list_schedules(session: Session) -> ScheduleBackupResult:
    profile = session.profile
    places = Places.here()
    crontab = read_cron_quietly(places)
    result = _result(profile, profile_file(profile), "list", False)
    result.schedules = [_info(session, places, key, schedule, crontab)
                        for key, schedule in profile.schedules.items()]
    return result


def request_values(request: ScheduleBackupRequest) -> dict[str, Any]:
    """The [schedules.NAME] table for a request: only what differs from the defaults."""
    values: dict[str, Any] = {"schedule": request.schedule, "type": request.backup_type}
    if request.services:
        values["services"] = list(request.services)
    if request.include_data:
        values["include_data"] = True
    if request.destination:
        values["destination"] = request.destination
    for name in RULE_FIELDS:
        if getattr(request, name) is not None:
            values[name] = getattr(request, name)
    if not request.encrypt:
        values["encrypt"] = False
    if request.randomized_delay:
        values["randomized_delay"] = request.randomized_delay
    if request.sync_to:
        values["sync_to"] = list(request.sync_to)
    return values


def scheduled_job(profile: Profile, path: Path, key: str, schedule: Schedule, places: Places,
                  method: Method) -> ScheduledJob:
    environment = {"PATH": CRON_PATH} if method == "cron" else {}
    if os.environ.get("STRONGROOM_STATE_DIR"):
        environment["STRONGROOM_STATE_DIR"] = os.environ["STRONGROOM_STATE_DIR"]
    return ScheduledJob(
        profile=profile.profile_name, key=key, cron=schedule.schedule,
        argv=job_argv(strongroom_executable(), str(path), key, schedule.type == "drill"),
        user=places.user,
        randomized_delay=parse_timespan(schedule.randomized_delay),
        environment=environment, profile_file=str(path))

def reinstall(profile: Profile, key: str, wanted: str, recorded: Schedules | None
              ) -> list[str]:
    """Install a schedule of the recovered profile as schedule-backup does, with --install
    auto as the lost host had it (`recorded`, from the set's inventory); the files
    written, or a note where nothing is installed."""
    was = recorded_method(recorded, profile.profile_name, key) if wanted == "auto" else None
    if was == "none":
        return ["not installed: it was not installed when the set was made "
                f"(`strongroom schedule-backup --name {key}` installs it)"]
    places = Places.here()
    method = places.choose(was or wanted)
    if method is None:
        return ["not installed (--install none): `strongroom scheduler` runs it"]
    job = scheduled_job(profile, profile_file(profile), key, profile.schedules[key], places,
                        method)
    outcome = install(places, method, job)
    return [*outcome.files, *outcome.notes]


def strongroom_executable() -> list[str]:
    """The absolute command that runs this strongroom: its console script when it sits
    beside the interpreter (a venv or a system install), else `python -m orchestrator`."""
    python = os.path.abspath(sys.executable)  # not resolved: a venv's python is a symlink
    script = Path(python).parent / "strongroom"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [python, "-m", "orchestrator"]


def _rewrite(session: Session, path: Path, text: str) -> None:
    """Replace the profile file and carry on with what it now says (a long-lived MCP
    server keeps its session)."""
    from orchestrator.profile.load import load_profile

    replace_profile_text(path, text)
    session.profile = load_profile(path)


def profile_file(profile: Profile) -> Path:
    if not profile.source_files:
        raise UsageError("this profile was not loaded from a file, so it cannot be changed")
    return profile.source_files[0]


def _result(profile: Profile, path: Path, action: str, dry_run: bool) -> ScheduleBackupResult:
    return ScheduleBackupResult(action=action, profile=profile.profile_name,
                                profile_file=str(path), dry_run=dry_run)


def _validated(values: dict[str, Any]) -> Schedule:
    from orchestrator.profile.locate import error_message

    try:
        return Schedule.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{err['loc'][0]}: "
            f"{error_message(tuple(err['loc']), [dict(err)])}" for err in exc.errors())
        raise UsageError(problems) from None


def _change(profile: Profile, path: Path, text: str, key: str, values: dict[str, Any],
            replace: bool) -> Literal["added", "updated", "unchanged"]:
    existing = schedule_values(text, key)
    if existing is None and key in profile.schedules:
        raise ConflictError(f"schedule {key!r} comes from a profile this one extends, not "
                            f"from {path}: change it there")
    if existing is None:
        return "added"
    if existing == values:
        return "unchanged"
    if not replace:
        differ = sorted(name for name in set(existing) | set(values)
                        if existing.get(name) != values.get(name))
        raise ConflictError(f"schedule {key!r} already exists in {path} with other settings "
                            f"({', '.join(differ)})", hint="give --replace to replace it")
    return "updated"


def _info(session: Session, places: Places, key: str, schedule: Schedule,
          crontab: str | None) -> ScheduleInfo:
    profile = session.profile
    destination, repository = profile.repository(schedule.destination)
    clock = cron_times(schedule.schedule, datetime.now().astimezone())
    last_run, last_status, last_success = _last_runs(session, key, schedule, repository.url)
    return ScheduleInfo(
        name=key, schedule=schedule.schedule, type=schedule.type, destination=destination,
        retention=_rules_text(schedule, profile.repositories[destination], destination),
        installed=installed_where(places, profile.profile_name, key, crontab),
        next_runs=[clock.get_next(datetime) for _ in range(3)],
        last_run=last_run, last_status=last_status, last_success=last_success)


def _last_runs(session: Session, key: str, schedule: Schedule,
               url: str) -> tuple[datetime | None, str | None, datetime | None]:
    """(last run, its status, last success): of the schedule's sets, or for a drill
    schedule of this host's drills of the sets it rehearses."""
    if schedule.type == "drill":
        drills = sorted((record for record in last_drills(session, url).values()
                         if schedule.name is None or (split_set_name(record.set) or (
                             "", None))[0] == schedule.name), key=lambda record: record.started)
        good = [record for record in drills if record.ok]
        return (drills[-1].started if drills else None,
                ("ok" if drills[-1].ok else "failed") if drills else None,
                good[-1].started if good else None)
    base = schedule.name or key
    records = sorted(
        (record for record in session.state.runs(url, session.profile.profile_name)
         if (split_set_name(record.set) or ("", None))[0] == base),
        key=lambda record: record.started)
    last = records[-1] if records else None
    success = [record for record in records if record.status == "complete"]
    return (_when(last.started) if last else None, last.status if last else None,
            _when(success[-1].started) if success else None)


def _rules_text(schedule: Schedule, repository: RetentionRules, destination: str) -> str:
    def text(rules: RetentionRules) -> str:
        return ", ".join(f"{name}={getattr(rules, name)}" if name != "retention"
                         else str(rules.retention) for name in RULE_FIELDS
                         if getattr(rules, name) is not None)

    if schedule.has_rules:
        return text(schedule)
    if repository.has_rules:
        return f"{text(repository)} (default of {destination})"
    return "keep everything"


def _when(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
