"""status: the health of a profile's schedules and repositories at a glance."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from orchestrator.models.base import Model

Health = Literal["OK", "WARN", "FAIL"]
EXIT_CODES: dict[Health, int] = {"OK": 0, "WARN": 1, "FAIL": 2}  # as Nagios/Icinga read them


class StatusRequest(Model):
    probe: bool = Field(default=True, description="open the repositories (false: only what "
                        "this host recorded)")
    max_age: str = Field(default="26h", alias="maxAge", description="read without a profile "
                         "(--repo): a host whose newest complete set is older is late")


class ScheduleStatus(Model):
    name: str
    schedule: str
    destination: str
    health: Health
    reasons: list[str] = Field(default_factory=list)
    last_run: datetime | None = None
    last_status: str | None = None
    last_error: str | None = None
    last_success: datetime | None = None
    last_failure: datetime | None = None
    age_seconds: float | None = Field(default=None, description="age of the last good set")
    rpo_seconds: float
    rpo_from_profile: bool
    next_run: datetime
    duration: float | None = None
    bytes: int | None = None
    bytes_added: int | None = None
    last_verify: datetime | None = None
    verify_ok: bool | None = None
    last_drill: datetime | None = None
    drill_ok: bool | None = None


class RepositoryStatus(Model):
    name: str
    url: str
    engine: str
    health: Health
    reasons: list[str] = Field(default_factory=list)
    probed: bool
    reachable: bool | None = None
    sets: int | None = None
    complete_sets: int | None = None
    snapshots: int | None = None
    newest_set: datetime | None = None
    stored_bytes: int | None = Field(default=None, description="local repositories only")
    source_bytes: int | None = Field(default=None, description="the newest set of each name")
    locks: int | None = Field(default=None, description="local repositories only")
    last_verify: datetime | None = None
    verify_ok: bool | None = None
    added_7d_bytes: int | None = Field(default=None, description="data this host's runs "
                                       "added in the last 7 days (before any prune)")
    added_30d_bytes: int | None = Field(default=None, description="the same over 30 days")


class HostStatus(Model):
    """One profile on one host, as a repository read without its profile shows it."""

    profile: str
    host: str
    health: Health
    reasons: list[str] = Field(default_factory=list)
    sets: int
    complete_sets: int
    newest_set: str | None = None
    newest_time: datetime | None = None
    age_seconds: float | None = None


class StatusResult(Model):
    profile: str
    host: str
    checked: datetime
    health: Health
    exit_code: int
    reasons: list[str]
    schedules: list[ScheduleStatus]
    repositories: list[RepositoryStatus]
    hosts: list[HostStatus] = Field(default_factory=list, description="with --repo: every "
                                    "profile and host with sets in the repository")
    notify_failures: dict[str, int] = Field(default_factory=dict)


class ReportRequest(Model):
    since: str = Field(default="30d", description="the window: 30d, 720h, …")
    probe: bool = Field(default=True, description="open the repositories for their sizes")
    verify_max_age: str = Field(default="30d", alias="verifyMaxAge",
                                description="a repository not verified for longer is flagged")
    rto_target: str = Field(default="4h", alias="rtoTarget", description="a restore (drill "
                            "or recovery) should take no longer")
    max_age: str = Field(default="26h", alias="maxAge", description="read without a profile "
                         "(--repo): a host whose newest complete set is older is late")


class JobReport(Model):
    job: str
    schedule: str | None = None
    runs: int
    succeeded: int
    failed: int
    completion_rate: float | None = Field(default=None, description="succeeded / runs")
    mean_duration_seconds: float | None = Field(default=None, description="MTTB: mean "
                                                "duration of the successful runs")
    mttr_seconds: float | None = Field(default=None, description="mean time from a first "
                                       "failure to the next success")
    achieved_rpo_seconds: float | None = Field(default=None, description="the longest a "
                                               "good set was the newest, in the window")
    rpo_seconds: float | None = None
    rpo_met: bool | None = None
    retention: str | None = None
    last_success: datetime | None = None


class RepositoryReport(Model):
    name: str
    encrypted: bool | None
    reachable: bool | None = None
    stored_bytes: int | None = None
    source_bytes: int | None = None
    efficiency: float | None = Field(default=None, description="source bytes per stored byte")
    verifications: int
    verifications_passed: int
    last_verify: datetime | None = None
    verified_recently: bool
    cost_per_gib_month: float | None = None
    monthly_cost: float | None = Field(default=None, description="stored GiB × "
                                       "cost_per_gib_month (stored bytes known: local only)")


class RestorePoint(Model):
    """One restore drill or recovery of the window."""

    kind: Literal["drill", "recovery"]
    set: str
    started: datetime
    ok: bool
    rto: float = Field(description="wall seconds the restore took")


class HostReport(Model):
    """One profile on one host, as far as the repository alone tells (report --repo)."""

    profile: str
    host: str
    sets: int = Field(description="sets started in the window")
    complete_sets: int
    completion_rate: float | None = None
    achieved_rpo_seconds: float | None = Field(default=None, description="the longest a "
                                               "complete set was the newest, in the window")
    rpo_met: bool | None = Field(default=None, description="achieved RPO within --max-age")
    newest_set: str | None = None
    age_seconds: float | None = None
    drills: int = Field(default=0, description="sets of the window with a drill recorded")
    drills_ok: int = 0


class RunPoint(Model):
    """One run of the window, for charts."""

    job: str
    started: datetime
    ok: bool
    duration: float | None = None
    bytes: int | None = None
    bytes_added: int | None = None


class ReportResult(Model):
    profile: str
    host: str
    since: datetime
    until: datetime
    runs: int
    completion_rate: float | None
    mean_duration_seconds: float | None
    mttr_seconds: float | None
    verifications: int
    verification_pass_rate: float | None
    drills: int = 0
    drill_success_rate: float | None = None
    recoveries: int = 0
    recovery_success_rate: float | None = None
    restore_success_rate: float | None = Field(default=None, description="drills and "
                                               "recoveries together")
    rto_target_seconds: float = 4 * 3600.0
    rto_mean_seconds: float | None = Field(default=None, description="of the successful "
                                           "drills and recoveries")
    rto_max_seconds: float | None = None
    rto_met: bool | None = None
    restores: list[RestorePoint] = Field(default_factory=list)
    monthly_cost: float | None = Field(default=None, description="the repositories whose "
                                       "cost and size are known, together")
    hosts: list[HostReport] = Field(default_factory=list, description="with --repo: every "
                                    "profile and host with sets in the repository")
    jobs: list[JobReport]
    repositories: list[RepositoryReport]
    findings: list[str] = Field(default_factory=list, description="compliance problems")
    history: list[RunPoint] = Field(default_factory=list, description="the window's runs")
