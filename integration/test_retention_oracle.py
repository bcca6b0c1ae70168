"""strongroom's retention decisions against restic's own: `restic forget --dry-run --json`.

Each example makes one-snapshot "sets" at random times (`--time`) under a host name of
its own in one repository, asks restic which it keeps under a random policy, and
compares with orchestrator.schedule.retention.decide on the same times.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from integration.conftest import SITE_PASSWORD, require_binary
from integration.restic_template import ResticTemplate
from orchestrator.schedule.retention import Policy, Within, decide

EPOCH = datetime(2023, 1, 1, tzinfo=UTC)
COUNTER = itertools.count()


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory,
               restic_template: ResticTemplate) -> dict[str, str]:
    require_binary("restic")
    root = tmp_path_factory.mktemp("oracle")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")},
           "RESTIC_REPOSITORY": str(root / "repo"), "RESTIC_PASSWORD": SITE_PASSWORD,
           "RESTIC_CACHE_DIR": str(root / "cache"), "TZ": "UTC"}
    restic_template.copy_to(root / "repo")
    return env


def restic_keeps(env: dict[str, str], times: list[datetime], policy: Policy) -> set[str]:
    host = f"example-{next(COUNTER)}"
    by_id = {}
    for moment in times:
        out = subprocess.run(
            ["restic", "backup", "--stdin", "--stdin-filename", "set", "--host", host, "--json",
             "--time", moment.strftime("%Y-%m-%d %H:%M:%S")],
            input=b"x", env=env, capture_output=True, check=True).stdout
        summary = json.loads(out.splitlines()[-1])
        by_id[summary["snapshot_id"]] = moment.isoformat()
    out = subprocess.run(["restic", "forget", "--dry-run", "--json", "--host", host,
                          *policy.restic_flags()], env=env, capture_output=True,
                         check=True).stdout
    groups = json.loads(out)
    kept = [snap["id"] for group in groups for snap in (group.get("keep") or [])]
    # The backup summary names a snapshot by its short id.
    return {moment for short, moment in by_id.items() if any(k.startswith(short) for k in kept)}


within = st.one_of(st.none(), st.builds(Within, days=st.integers(1, 60)),
                   st.builds(Within, months=st.integers(1, 14)),
                   st.builds(Within, hours=st.integers(1, 100)),
                   st.builds(Within, years=st.integers(1, 2)))
count = st.integers(0, 4)
policies = st.builds(Policy, within=within, last=count, hourly=count, daily=count,
                     weekly=count, monthly=count, yearly=count)
offsets = st.lists(st.integers(0, 2 * 365 * 24 * 3600), min_size=1, max_size=9, unique=True)


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offsets=offsets, policy=policies)
def test_kept_sets_equal_what_restic_forget_keeps(
        repository: dict[str, str], offsets: list[int], policy: Policy) -> None:
    assume(not policy.empty)  # restic refuses to forget without a policy; strongroom keeps all
    times = [EPOCH + timedelta(seconds=offset) for offset in offsets]
    ours = {name for name, reasons in decide([(t.isoformat(), t) for t in times],
                                                 policy).items() if reasons}
    assert ours == restic_keeps(repository, times, policy)


def test_clustered_times_at_bucket_edges(repository: dict[str, str]) -> None:
    """Month ends, a leap day, week boundaries and same-hour neighbours."""
    times = [datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC),
             datetime(2024, 3, 31, 12, tzinfo=UTC), datetime(2024, 3, 31, 12, 30, tzinfo=UTC),
             datetime(2024, 4, 30, 8, tzinfo=UTC), datetime(2023, 12, 31, 23, tzinfo=UTC),
             datetime(2024, 1, 1, 0, 30, tzinfo=UTC)]
    for policy in (Policy(within=Within(months=1)), Policy(weekly=3, monthly=2),
                   Policy(last=2, daily=3, yearly=2), Policy(hourly=5)):
        ours = {n for n, r in decide([(t.isoformat(), t) for t in times], policy).items() if r}
        assert ours == restic_keeps(repository, times, policy), policy


def test_an_empty_policy_keeps_everything() -> None:
    times = [(str(i), EPOCH + timedelta(days=i)) for i in range(3)]
    assert all(decide(times, Policy()).values())
