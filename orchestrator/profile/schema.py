"""The profile schema: pydantic models with extra="forbid".

Reading TOML, `extends`, `${VAR}` interpolation and located errors live in
`profile_source.py`; this module is the shape a loaded profile must have.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from orchestrator.profile.base import SecretSource as SecretSource  # re-exported
from orchestrator.profile.base import Strict
from orchestrator.profile.observe import MetricsSettings, Notifier
from orchestrator.profile.timespan import parse_timespan

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
RETENTION_PATTERN = r"^[1-9][0-9]*[hdwmy]$"
RETENTION_FORMS = "a number and one unit: 48h, 30d, 12w, 12m or 1y"
HOOK_TYPES = ("postgresql", "mysql", "mariadb", "sqlite", "mongodb", "command", "containers",
              "vm")


class RetentionRules(Strict):
    """Which sets to keep: `retention` keeps those newer than a span counted back from the
    newest set; the keep_* counts keep the newest set of each of that many periods."""

    retention: Annotated[str, Field(pattern=RETENTION_PATTERN)] | None = Field(
        default=None, description=RETENTION_FORMS)
    keep_last: int | None = Field(default=None, ge=1)
    keep_hourly: int | None = Field(default=None, ge=1)
    keep_daily: int | None = Field(default=None, ge=1)
    keep_weekly: int | None = Field(default=None, ge=1)
    keep_monthly: int | None = Field(default=None, ge=1)
    keep_yearly: int | None = Field(default=None, ge=1)

    @property
    def has_rules(self) -> bool:
        return any(getattr(self, name) is not None for name in RetentionRules.model_fields)


SECRET_NAME = re.compile(r"SECRET|PASS|TOKEN|SAS|(^|_)KEY$")


class Repository(RetentionRules):
    """One place backups go. The first repository in the profile is the default destination.

    Its retention rules are the default for schedules that back up to it and set none."""

    engine: Literal["restic", "borg"] = "restic"
    url: str = Field(min_length=1, description="path, local:/path, s3://…, sftp://…, rest:… "
                     "(borg: a path or ssh://user@host[:port]/path)")
    password_file: Path | None = None
    password_command: str | list[str] | None = Field(
        default=None, description="run once per strongroom command; stdout is the password"
    )
    password_env: str | None = Field(default=None, description="name of an environment variable")
    password: SecretStr | None = Field(
        default=None, description="inline secret: discouraged, warned about when readable"
    )
    compression: Literal["auto", "off", "max"] = "auto"
    storage_class: str | None = None
    region: str | None = None
    endpoint: str | None = None
    account: str | None = None
    project: str | None = None
    options: dict[str, str] = Field(default_factory=dict, description="raw engine -o options")
    path_style: bool = Field(default=False, description="S3: path-style bucket URLs")
    identity_file: Path | None = Field(default=None, description="SFTP: ssh private key")
    known_hosts_file: Path | None = Field(default=None, description="SFTP: ssh known_hosts")
    env: dict[str, str | SecretSource] = Field(
        default_factory=dict, description="environment for the backend: AWS_ACCESS_KEY_ID = "
        "\"…\", AWS_SECRET_ACCESS_KEY = { file = \"…\" }; secrets from file, command or env")
    cost_per_gib_month: float | None = Field(
        default=None, ge=0, description="storage price per GiB and month, for report's "
        "cost estimate (any currency)")
    prune_every: Annotated[str, Field(pattern=RETENTION_PATTERN)] | None = Field(
        default=None, description="prune at most this often (7d); default: whenever sets "
        "were forgotten")
    vaults: dict[str, str] = Field(default_factory=dict, description="for the sets this "
                                   "repository holds: a service's own repository (vault) -> "
                                   "the repository holding those parts on this side")

    @model_validator(mode="after")
    def known_url(self) -> Repository:
        from orchestrator.errors import UsageError
        from orchestrator.profile.urls import check_borg_url, kind_of

        try:
            if self.engine == "restic":
                kind_of(self.url)
            else:
                check_borg_url(self.url)
        except UsageError as exc:
            raise ValueError(exc.message) from None
        return self

    @field_validator("env")
    @classmethod
    def no_inline_secrets(cls, value: dict[str, str | SecretSource]) -> dict[str, str |
                                                                              SecretSource]:
        for name, item in value.items():
            if isinstance(item, str) and SECRET_NAME.search(name.upper()):
                raise ValueError(f"{name} is a secret: give {{ file = \"…\" }}, "
                                 f"{{ command = \"…\" }} or {{ env = \"VARIABLE\" }}, not "
                                 "the value")
        return value

    @model_validator(mode="after")
    def one_password_source(self) -> Repository:
        given = [
            name
            for name in ("password_file", "password_command", "password_env", "password")
            if getattr(self, name) is not None
        ]
        if not given:
            raise ValueError(
                "no password source: set one of password_file, password_command, password_env"
            )
        if len(given) > 1:
            raise ValueError(f"more than one password source: {', '.join(given)}; keep one")
        return self


MissingPolicy = Literal["fail", "warn", "skip"]
MISSING_HELP = ("a path that does not exist: fail the set (the default), warn and leave it "
                "out, or leave it out quietly")


class PathGroup(Strict):
    """A named group of paths with optional exclude globs (relative to each path)."""

    paths: list[Path] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list)
    missing: MissingPolicy = Field(default="fail", description=MISSING_HELP)


def _as_group(value: Any) -> Any:
    if isinstance(value, (list, str)):
        return {"paths": [value] if isinstance(value, str) else value}
    return value


class HookEntry(BaseModel):
    """A data-source hook; its options are checked by the hook's own model in hooks/."""

    model_config = ConfigDict(extra="allow")
    type: Literal["postgresql", "mysql", "mariadb", "sqlite", "mongodb", "command", "containers",
                  "vm"]


class Service(Strict):
    config: list[Path] = Field(default_factory=list)
    data: list[Path] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    missing: MissingPolicy = Field(default="fail", description=MISSING_HELP)
    hooks: list[HookEntry] = Field(default_factory=list)
    repository: str | None = Field(
        default=None, description="a repository of [repositories] (its own password, so its "
        "own master key) that takes this service's files and dumps; the set's manifest stays "
        "in the main repository")


class Infrastructure(Strict):
    network: list[Path] = Field(default_factory=list)


BackupType = Literal["config", "full", "service", "disaster-recovery"]
# A schedule makes a set of a BackupType, or rehearses the restore of one (drill).
ScheduleType = Literal["config", "full", "service", "disaster-recovery", "drill"]


class Schedule(RetentionRules):
    """A recurring backup; its retention, when it has none, is its destination's default."""

    schedule: str = Field(description="cron expression (five fields) or @daily, @weekly, …")
    type: ScheduleType = "config"
    name: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    services: list[str] = Field(default_factory=list)
    include_data: bool = False
    destination: str | None = None
    encrypt: bool = True
    verify: bool = True
    randomized_delay: str = Field(default="0", description="systemd RandomizedDelaySec: 15min")
    sync_to: list[str] = Field(default_factory=list, description="repositories each run's set "
                               "is copied to afterwards (3-2-1)")
    rpo: str | None = Field(default=None, description="how old the last good set may grow "
                            "(26h); default 1.1 x the longest gap between runs + the delay")

    @field_validator("schedule")
    @classmethod
    def valid_cron(cls, value: str) -> str:
        from datetime import datetime

        from orchestrator.profile.cron import cron_times, expand

        expand(value)  # CronError is a ValueError: pydantic reports its message
        try:
            cron_times(value, datetime.now()).get_next(datetime)
        except Exception:  # noqa: BLE001 - croniter's own errors for dates that never come
            raise ValueError(f"{value!r} never fires (no such date)") from None
        return value

    @field_validator("randomized_delay")
    @classmethod
    def valid_delay(cls, value: str) -> str:
        parse_timespan(value)
        return value

    @field_validator("rpo")
    @classmethod
    def valid_rpo(cls, value: str | None) -> str | None:
        if value is not None and parse_timespan(value) <= 0:
            raise ValueError("rpo must be longer than 0")
        return value


OutputKind = Literal["file", "stdout", "s3"]
OUTPUT_KINDS: tuple[OutputKind, ...] = ("file", "stdout", "s3")


class DownloadPolicy(Strict):
    """Limits on download-backup (exports)."""

    max_bytes: int | None = Field(default=None, ge=1)
    require_encryption: bool = False
    allowed_outputs: list[OutputKind] = Field(default_factory=lambda: list(OUTPUT_KINDS))
    file_mode: str = Field(default="0600", description="mode of an export file, in octal")

    @field_validator("file_mode")
    @classmethod
    def octal_mode(cls, value: str) -> str:
        if not re.fullmatch(r"0?[0-7]{3}", value) or int(value, 8) & 0o600 != 0o600:
            raise ValueError(f"{value!r} is not a file mode: give three octal digits that "
                             "keep the owner's read and write, e.g. \"0600\" or \"0640\"")
        return value


class PathPolicy(Strict):
    """Folders a confined caller (MCP, or the CLI under --role) may use; unset: the default
    of [access], or for [access] itself the built-in default."""

    export_dir: Path | None = Field(default=None, description="where exports are written "
                                    "(default <state_dir>/exports)")
    import_dir: Path | None = Field(default=None, description="where fromArchive reads "
                                    "(default: export_dir)")
    restore_targets: list[Path] | None = Field(default=None, description="folders a restore "
                                               "target may be in (default <state_dir>/restores)")
    backup_roots: list[Path] | None = Field(default=None, description="folders backup-files "
                                            "may read (default: the profile's own paths)")


class Role(PathPolicy):
    """What a caller acting in this role may do (`--role NAME` on the CLI or the MCP server)."""

    tools: list[str] = Field(default_factory=lambda: ["*"], description="tool names, or *")
    profiles: list[str] = Field(default_factory=lambda: ["*"], description="profile names, or *")
    unattended_restore: bool = Field(
        default=False, description="restore-backup without confirm: true")
    unattended_recover: bool = Field(
        default=False, description="recover without dryRun: rebuild the whole host (files, "
        "databases, schedules) over MCP or under this role")


class Access(PathPolicy):
    download: DownloadPolicy = Field(default_factory=DownloadPolicy)
    roles: dict[str, Role] = Field(default_factory=dict)


class AuditSettings(Strict):
    """The audit log: with key_file, every line carries an HMAC-SHA256 keyed by its bytes."""

    key_file: Path | None = Field(default=None, description="relative to the profile file")


class Profile(Strict):
    """A whole host or site. `extends` is resolved before validation."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    host: str | None = Field(default=None, description="host name recorded in snapshots")
    state_dir: Path | None = Field(default=None, description="manifests, logs, caches")
    repositories: dict[str, Repository] = Field(min_length=1)
    config: dict[str, Annotated[PathGroup, Field()]] = Field(default_factory=dict)
    services: dict[str, Service] = Field(default_factory=dict)
    infrastructure: Infrastructure = Field(default_factory=Infrastructure)
    schedules: dict[str, Schedule] = Field(default_factory=dict)
    access: Access = Field(default_factory=Access)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    notify: list[Notifier] = Field(default_factory=list)
    lock_wait: str = Field(default="5min", description="how long a run waits for another run "
                           "of this profile to finish")

    # Where the profile came from: the file and every file it extends (not part of the TOML).
    source_files: list[Path] = Field(default_factory=list, exclude=True)
    # Built in memory from `--repo` (profile/repo_access.py), never read from a file.
    _profile_free: bool = PrivateAttr(default=False)

    @property
    def profile_free(self) -> bool:
        """A stand-in for reading a repository without its profile: sets of every
        profile are listed."""
        return self._profile_free

    @field_validator("lock_wait")
    @classmethod
    def valid_lock_wait(cls, value: str) -> str:
        parse_timespan(value)
        return value

    @field_validator("config", mode="before")
    @classmethod
    def groups_from_lists(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: _as_group(item) for key, item in value.items()}
        return value

    @property
    def profile_name(self) -> str:
        if self.name:
            return self.name
        return self.source_files[0].stem if self.source_files else "default"

    def repository(self, name: str | None) -> tuple[str, Repository]:
        """The named repository, or the first one (the default destination). A name that
        is none of the profile's may be a repository's url, as written in the profile."""
        if name is None:
            first = next(iter(self.repositories))
            return first, self.repositories[first]
        by_url = [key for key, repo in self.repositories.items()
                  if "://" in name and repo.url.rstrip("/") == name.rstrip("/")]
        if name not in self.repositories and len(by_url) == 1:
            return by_url[0], self.repositories[by_url[0]]
        if name not in self.repositories:
            from orchestrator.errors import UnknownName

            raise UnknownName(
                f"no repository named {name!r} in the profile "
                f"(have: {', '.join(self.repositories)})"
            )
        return name, self.repositories[name]


def reference_problems(profile: Profile) -> list[tuple[tuple[str | int, ...], str]]:
    """Cross-table checks pydantic cannot place: (key path, message) for each problem."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    tables: dict[str, dict[str, Any]] = {
        "repositories": profile.repositories,
        "config": profile.config,
        "services": profile.services,
        "schedules": profile.schedules,
    }
    for table_name, table in tables.items():
        for key in table:
            if not re.match(NAME_PATTERN, key):
                problems.append(
                    ((table_name, key), "a name may hold only letters, digits, '.', '_' and '-'")
                )
    from hooks import config_problems
    from orchestrator.profile.vaults import vault_map_problems, vault_problems, vault_used_as_main

    problems += vault_map_problems(profile)

    for svc_name, service in profile.services.items():
        for index, hook in enumerate(service.hooks):
            for loc, message in config_problems(hook.model_dump()):
                problems.append((("services", svc_name, "hooks", index, *loc), message))
        problems += vault_problems(profile, svc_name, service)
    for sched_name, sched in profile.schedules.items():
        if sched.destination is not None and sched.destination not in profile.repositories:
            problems.append(
                (
                    ("schedules", sched_name, "destination"),
                    (
                        f"no repository named {sched.destination!r} "
                        f"(have: {', '.join(profile.repositories)})"
                    ),
                )
            )
        problems += vault_used_as_main(profile, sched_name, sched)
        for index, target in enumerate(sched.sync_to):
            if target not in profile.repositories:
                problems.append((("schedules", sched_name, "sync_to", index),
                                 f"no repository named {target!r} "
                                 f"(have: {', '.join(profile.repositories)})"))
            elif target == profile.repository(sched.destination)[0]:
                problems.append((("schedules", sched_name, "sync_to", index),
                                 f"{target!r} is the schedule's own destination"))
        for index, svc in enumerate(sched.services):
            if svc not in profile.services:
                problems.append(
                    (("schedules", sched_name, "services", index), f"no service named {svc!r}")
                )
    return problems

