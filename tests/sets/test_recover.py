"""recover's pure parts: which parts --only/--skip leave, the order of the steps, the
follow-up list, the report model, and who may run it without dryRun."""

from __future__ import annotations

import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from hooks.base import HookError, RestorePlanInput
from orchestrator import models
from orchestrator.access.tools import TOOLS, check_access
from orchestrator.errors import AccessDenied, UsageError
from orchestrator.profile.load import load_profile
from orchestrator.profile.schema import Profile
from orchestrator.sets import recover_run
from orchestrator.sets.dumps import HookRef, StreamRestore
from orchestrator.sets.layout import SourcePath
from orchestrator.sets.manifest import ManifestStream
from orchestrator.sets.recover_plan import chosen_parts, follow_ups, plan_steps
from orchestrator.sets.recover_run import mtime_ns
from orchestrator.sets.session import Session


def make_profile(tmp_path: Path, extra: str = "") -> Profile:
    path = tmp_path / "site.toml"
    path.write_text(textwrap.dedent("""\
        name = "site"

        [repositories.local]
        url = "/var/backups/strongroom"
        password_file = "/etc/strongroom/local.pass"

        [services.web]
        config = ["/etc/web"]
        data = ["/srv/web"]

        [[services.web.hooks]]
        type = "postgresql"
        databases = ["web"]
        password_file = "/etc/strongroom/web-db.pass"

        [services.git]
        data = ["/srv/git"]

        [schedules.nightly]
        schedule = "0 3 * * *"
        type = "disaster-recovery"
        """) + textwrap.dedent(extra))
    return load_profile(path, {})


def stream(hook: str, database: str, fmt: str = "custom", service: str = "web"
           ) -> ManifestStream:
    return ManifestStream(part=f"services/{service}/{database}", logical=f"services/{service}/"
                          f"{database}", snapshot_id="ab" * 32, bytes=10, hook=hook,
                          service=service, database=database, format=fmt)


SOURCES = [
    SourcePath("/srv/git", "services/git/data", "service-data", "git"),
    SourcePath("/etc/netplan", "infrastructure/network-configs", "network", "network"),
    SourcePath("/etc/web", "services/web/config", "service-config", "web"),
    SourcePath("/etc/app", "config/app", "config", "app"),
    SourcePath("/srv/web", "services/web/data", "service-data", "web"),
    SourcePath("/etc/strongroom/site.toml", "strongroom/profiles", "profile", "profile"),
]
STREAMS = [stream("vm", "/var/lib/vm/disk.qcow2", "raw"), stream("postgresql", "web"),
           stream("containers", "volume-data", "tar"), stream("sqlite", "/srv/app.db", "sql"),
           stream("postgresql", "postgresql-globals", "globals")]


def test_parts_are_all_by_default_and_only_and_skip_narrow_them() -> None:
    assert chosen_parts([], []) == ["files", "databases", "containers", "vms", "schedules"]
    assert chosen_parts(["databases", "files"], []) == ["files", "databases"]
    assert chosen_parts([], ["schedules", "vms"]) == ["files", "databases", "containers"]
    assert chosen_parts(["files", "databases"], ["databases"]) == ["files"]


@pytest.mark.parametrize(("only", "skip", "message"), [
    (["file"], [], "--only file: not a part"),
    ([], ["dbs", "vms"], "--skip dbs: not a part"),
    (["files"], ["files"], "leave nothing to recover"),
])
def test_bad_parts_are_one_message(only: list[str], skip: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        chosen_parts(only, skip)


def test_steps_follow_the_dependency_order(tmp_path: Path) -> None:
    profile = make_profile(tmp_path)
    steps = plan_steps(SOURCES, STREAMS, profile, chosen_parts([], []))
    assert [(p.step.kind, p.step.name) for p in steps] == [
        ("config", "config group app"),
        ("network", "network configuration"),
        ("service", "service git: config and data"),
        ("service", "service web: config and data"),
        ("database", "postgresql postgresql-globals (service web)"),
        ("database", "postgresql web (service web)"),
        ("database", "sqlite /srv/app.db (service web)"),
        ("containers", "containers volume-data (service web)"),
        ("vm", "vm /var/lib/vm/disk.qcow2 (service web)"),
        ("schedule", "schedule nightly"),
    ]
    web = steps[3]
    assert [item.source for item in web.sources] == ["/etc/web", "/srv/web"]
    assert all(item.kind != "profile" for p in steps for item in p.sources)
    assert steps[5].stream is not None and steps[5].step.bytes == 10
    assert steps[-1].schedule == "nightly" and steps[-1].step.part == "schedules"


def test_only_and_skip_and_target_drop_steps(tmp_path: Path) -> None:
    profile = make_profile(tmp_path)
    kinds = [p.step.kind for p in plan_steps(SOURCES, STREAMS, profile, ["databases"])]
    assert kinds == ["database", "database", "database"]
    kinds = [p.step.kind for p in plan_steps(SOURCES, STREAMS, profile,
                                             chosen_parts([], ["files", "databases"]))]
    assert kinds == ["containers", "vm", "schedule"]
    no_schedules = plan_steps(SOURCES, [], profile, ["files", "schedules"],
                              with_schedules=False)
    assert [p.step.kind for p in no_schedules] == ["config", "network", "service", "service"]


def test_follow_ups_name_secrets_services_and_failures(tmp_path: Path) -> None:
    profile = make_profile(tmp_path)
    failed = models.RecoveryStep(kind="database", part="databases", name="postgresql web",
                                 result="failed", error="no server")
    found = follow_ups(profile, [failed], ["repository `local` password: file `/x`"])
    assert [(item.kind, item.text) for item in found] == [
        ("secret", "put back the repository `local` password: file `/x`"),
        ("service", "start service web"), ("service", "start service git"),
        ("note", "postgresql web failed: redo it with restore-backup once its cause is "
                 "fixed"),
    ]


def test_the_report_model_round_trips_and_refuses_unknown_fields() -> None:
    result = models.RecoveryResult(
        set="disaster-recovery-20260101-000000", id="abcd1234",
        time=datetime(2026, 1, 1, tzinfo=UTC), profile="site", profile_file="/etc/s.toml",
        repository="/r", target="/", dry_run=False, started=datetime(2026, 1, 1, 1,
                                                                     tzinfo=UTC),
        steps=[models.RecoveryStep(kind="profile", part=None, name="profile files",
                                   result="ok", duration=0.5, bytes=100)],
        rto=12.5, rpo=3600.0)
    again = models.RecoveryResult.model_validate_json(result.model_dump_json())
    assert again == result and again.ok
    with pytest.raises(ValidationError):
        models.RecoveryResult.model_validate({**result.model_dump(), "extra": 1})
    with pytest.raises(ValidationError):
        models.RecoverRequest.model_validate({"only": ["everything"]})
    assert models.RecoverRequest.model_validate({"dryRun": True}).dry_run


ROLES = """
[access.roles.planner]
tools = ["recover"]

[access.roles.rebuilder]
tools = ["recover"]
unattended_recover = true
"""


def test_recover_is_a_tool_and_confined_callers_only_plan_it(tmp_path: Path) -> None:
    assert "recover" in TOOLS and TOOLS["recover"].request is models.RecoverRequest
    session = Session(make_profile(tmp_path, ROLES))
    run = models.RecoverRequest()
    plan = models.RecoverRequest(dry_run=True)
    check_access(session, None, "recover", run, "cli")  # the shell, without a role
    for role, origin in ((None, "mcp"), ("planner", "mcp"), ("planner", "cli")):
        check_access(session, role, "recover", plan, origin)
        with pytest.raises(AccessDenied, match="may only plan it .*unattended_recover"):
            check_access(session, role, "recover", run, origin)
    check_access(session, "rebuilder", "recover", run, "mcp")


def test_restic_times_become_nanoseconds() -> None:
    assert mtime_ns("2020-09-13T12:26:40.123456789Z") == 1_600_000_000_123_456_789
    assert mtime_ns("2020-09-13T14:26:40.5+02:00") == 1_600_000_000_500_000_000
    assert mtime_ns("2020-09-13T12:26:40Z") == 1_600_000_000_000_000_000
    assert mtime_ns("yesterday") is None


class FlakyServer:
    """A hook whose server refuses connections a few times, then accepts them."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.checks = 0

    def check(self, config: object, ctx: object) -> None:
        self.checks += 1
        if self.checks <= self.refusals:
            raise HookError("cannot connect to PostgreSQL at 127.0.0.1: connection refused")


def waiting_plan(hook: FlakyServer, kind: str = "postgresql") -> StreamRestore:
    ref = HookRef("web", 0, kind, hook, None)  # type: ignore[arg-type]
    return StreamRestore(stream(kind, "web"), ref, RestorePlanInput(
        database="web", target="web", format="custom", logical="services/web/web.dump"))


def test_recover_waits_for_a_database_server_up_to_the_timeout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recover_run, "WAIT_EVERY", 0.01)
    profile = make_profile(tmp_path)
    late = FlakyServer(refusals=3)
    recover_run.wait_for_server(profile, waiting_plan(late), wait=5)
    assert late.checks == 4
    never = FlakyServer(refusals=1000)
    clock = time.monotonic()
    recover_run.wait_for_server(profile, waiting_plan(never), wait=0.2)
    assert 0.2 <= time.monotonic() - clock < 2 and never.checks > 2
    files = FlakyServer(refusals=1000)
    recover_run.wait_for_server(profile, waiting_plan(files, "sqlite"), wait=5)
    assert files.checks == 0  # a file, not a server: nothing to wait for


def test_a_vaults_steps_read_from_it_and_are_named_so(tmp_path: Path) -> None:
    profile = make_profile(tmp_path)
    held = stream("sqlite", "/srv/git.db", "sql", service="git").model_copy(
        update={"repository": "git-vault"})
    steps = plan_steps(SOURCES, [*STREAMS, held], profile, chosen_parts([], []),
                       homes={"services/git/data": "git-vault"})
    by_name = {p.step.name: p for p in steps}
    git = by_name["service git: config and data from vault git-vault"]
    assert git.repository == "git-vault" and git.services == ["git"]
    assert [item.source for item in git.sources] == ["/srv/git"]
    dump = by_name["sqlite /srv/git.db (service git) from vault git-vault"]
    assert dump.repository == "git-vault" and dump.stream is held
    assert {p.step.name for p in steps if p.repository is None} == {
        p.step.name for p in plan_steps(SOURCES, STREAMS, profile, chosen_parts([], []))
    } - {"service git: config and data"}


def test_an_unread_vault_is_one_follow_up_naming_its_restore(tmp_path: Path) -> None:
    profile = make_profile(tmp_path)
    held = stream("sqlite", "/srv/git.db", "sql", service="git").model_copy(
        update={"repository": "git-vault"})
    steps = plan_steps(SOURCES, [held], profile, ["files", "databases"],
                       homes={"services/git/data": "git-vault"})
    for planned in steps:
        planned.step.result = "failed" if planned.repository else "ok"
        planned.step.error = "vault git-vault cannot be opened: no password file"
    notes = [item.text for item in follow_ups(profile, [p.step for p in steps], [], steps,
                                              "site-dr-1") if item.kind == "note"]
    assert notes == ["vault git-vault could not be read: put its password back (as the "
                     "profile names it) and run restore-backup --backup site-dr-1 "
                     "--services git"]
    files = next(p for p in steps if p.repository and p.sources)
    files.step.error = "restic restore failed: no space left on device"  # read, then failed
    notes = [item.text for item in follow_ups(profile, [p.step for p in steps], [], steps,
                                              "site-dr-1") if item.kind == "note"]
    assert len(notes) == 2 and notes[1].startswith(f"{files.step.name} failed: redo it")
