"""Backup sets: naming, tags, grouping, selection by name, id and time."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.engines.base import Snapshot
from orchestrator.errors import NotFoundError, UsageError
from orchestrator.sets.naming import (
    BackupSet,
    group_sets,
    parse_timestamp,
    select,
    select_set,
    set_name,
    set_tags,
    split_set_name,
    type_rank,
)

T0 = datetime(2024, 12, 20, 14, 30, 22, tzinfo=UTC)


def snapshot(
    tags: Sequence[str], moment: datetime, *, id_seed: str | None = None,
    total_bytes: int | None = None, paths: Sequence[str] = ("/etc",),
) -> Snapshot:
    full = hashlib.sha256((id_seed or "|".join(tags)).encode()).hexdigest()
    return Snapshot(full, full[:8], moment, "web1", tuple(paths), tuple(tags), total_bytes)


def make_set(
    base: str, moment: datetime, *, complete: bool = True, streams: int = 0,
    present_streams: int | None = None, backup_type: str = "full",
    services: Sequence[str] = (), unreadable: bool = False,
) -> list[Snapshot]:
    """The snapshots one create-backup run leaves behind."""
    name = set_name(base, moment)
    snaps = []
    for index in range(streams if present_streams is None else present_streams):
        part = f"services/db{index}/database.sql"
        snaps.append(snapshot(set_tags(name, part, backup_type, "site"), moment, total_bytes=10))
    if complete:
        tags = set_tags(name, "files", backup_type, "site", services,
                        streams=streams if streams else None)
        if unreadable:
            tags.append("status=incomplete")
        snaps.append(snapshot(tags, moment, total_bytes=100))
    return snaps


# --- names and tags --------------------------------------------------------------------


def test_set_name_is_utc_stamp() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert set_name("weekly-full", datetime(2024, 12, 20, 16, 30, 22, tzinfo=plus_two)) == (
        "weekly-full-20241220-143022")


def test_split_set_name_round_trip() -> None:
    name = set_name("weekly-full", T0)
    assert split_set_name(name) == ("weekly-full", T0)
    # the base may itself contain digits and dashes
    assert split_set_name("db-2-20240101-000000") == (
        "db-2", datetime(2024, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("name", ["db-20241301-000000", "db-20240230-000000",
                                  "db-20240101-240000", "db-20240101-006000"])
def test_split_set_name_refuses_a_date_that_does_not_exist(name: str) -> None:
    with pytest.raises(ValueError):
        split_set_name(name)


@pytest.mark.parametrize("name", ["weekly-full", "weekly-20241220", "20241220-143022",
                                  "db-2024122\u0660-143022",  # an Arabic-Indic zero
                                  "weekly-20241220-1430", "weekly-20241220-143022-x"])
def test_split_set_name_rejects_other_names(name: str) -> None:
    assert split_set_name(name) is None


def test_set_tags() -> None:
    assert set_tags("w-20241220-143022", "files", "full", "site", ["nextcloud", "gitea"],
                    streams=2) == [
        "strongroom", "set=w-20241220-143022", "part=files", "type=full", "profile=site",
        "service=nextcloud", "service=gitea", "streams=2",
    ]
    assert set_tags("n", "services/a/db.sql", "config", "p") == [
        "strongroom", "set=n", "part=services/a/db.sql", "type=config", "profile=p",
    ]
    assert all("," not in tag for tag in set_tags("n", "files", "full", "p", ["a"], 1))


# --- grouping --------------------------------------------------------------------------


def test_group_complete_set_with_stream() -> None:
    snaps = make_set("weekly", T0, streams=1, services=["nextcloud"])
    (entry,) = group_sets(snaps)
    assert entry.name == "weekly-20241220-143022"
    assert entry.base == "weekly"
    assert entry.type == "full"
    assert entry.profile == "site"
    assert entry.time == T0
    assert entry.host == "web1"
    assert entry.complete and entry.status == "complete" and entry.problem is None
    assert set(entry.parts) == {"files", "services/db0/database.sql"}
    assert entry.final is entry.parts["files"]
    assert entry.id == entry.final.short_id
    assert entry.services == ("nextcloud",)
    assert entry.size == 110


def test_group_missing_final_part() -> None:
    (entry,) = group_sets(make_set("weekly", T0, complete=False, streams=1))
    assert not entry.complete
    assert entry.status == "incomplete"
    assert "final part" in (entry.problem or "")
    assert entry.final is None
    assert entry.id == ""


def test_group_missing_stream_part() -> None:
    (entry,) = group_sets(make_set("weekly", T0, streams=2, present_streams=1))
    assert not entry.complete
    assert entry.problem == "1 of 2 stream part(s) are missing"


def test_group_unreadable_files_mark_incomplete() -> None:
    (entry,) = group_sets(make_set("weekly", T0, unreadable=True))
    assert not entry.complete
    assert "could not be read" in (entry.problem or "")


def test_group_size_unknown_when_any_part_lacks_it() -> None:
    snaps = make_set("weekly", T0, streams=1)
    snaps[0] = snapshot(snaps[0].tags, T0, total_bytes=None)
    (entry,) = group_sets(snaps)
    assert entry.size is None


def test_group_ignores_foreign_snapshots_and_sorts_oldest_first() -> None:
    later = T0 + timedelta(days=1)
    snaps = (
        make_set("b", later)
        + [snapshot(["set=x-20241220-143022"], T0)]  # no `strongroom` tag
        + [snapshot(["strongroom"], T0)]  # no set tag
        + make_set("a", T0)
    )
    sets = group_sets(snaps)
    assert [entry.name for entry in sets] == [set_name("a", T0), set_name("b", later)]


def test_group_set_with_unparseable_name_uses_name_as_base() -> None:
    (entry,) = group_sets([snapshot(set_tags("manual", "files", "config", "p"), T0)])
    assert entry.base == "manual"
    assert entry.complete


# --- selection -------------------------------------------------------------------------


@pytest.fixture
def history() -> list[BackupSet]:
    day = timedelta(days=1)
    snaps = (
        make_set("weekly", T0)
        + make_set("daily", T0 + day)
        + make_set("weekly", T0 + 7 * day)
        + make_set("daily", T0 + 8 * day, complete=False, streams=1)
        + make_set("weekly", T0 + 14 * day, streams=1, present_streams=0)
    )
    return group_sets(snaps)


def test_select_by_full_name(history: list[BackupSet]) -> None:
    chosen = select_set(history, "weekly-20241220-143022")
    assert chosen.name == "weekly-20241220-143022"


def test_select_by_base_name_takes_latest_complete(history: list[BackupSet]) -> None:
    assert select_set(history, "weekly").name == "weekly-20241227-143022"
    assert select_set(history, "daily").name == "daily-20241221-143022"


def test_select_latest_and_none(history: list[BackupSet]) -> None:
    assert select_set(history, "latest").name == "weekly-20241227-143022"
    assert select_set(history).name == "weekly-20241227-143022"


def test_select_with_timestamp(history: list[BackupSet]) -> None:
    assert select_set(history, None, T0 + timedelta(days=1)).name == "daily-20241221-143022"
    assert select_set(history, "weekly", T0 + timedelta(days=6)).name == (
        "weekly-20241220-143022")
    with pytest.raises(NotFoundError, match="after"):
        select_set(history, "weekly-20241227-143022", T0)


def test_select_by_id_prefix(history: list[BackupSet]) -> None:
    target = history[1]
    assert target.final is not None
    assert select_set(history, target.final.id[:10]).name == target.name
    assert select_set(history, target.id).name == target.name


def test_select_by_ambiguous_id() -> None:
    a = make_set("a", T0)
    b = make_set("b", T0 + timedelta(hours=1))
    a[-1] = snapshot(a[-1].tags, T0, id_seed="x")
    b[-1] = Snapshot(a[-1].id[:6] + "f" * 58, a[-1].id[:6] + "ff", b[-1].time, "web1",
                     b[-1].paths, b[-1].tags)
    sets = group_sets(a + b)
    with pytest.raises(UsageError, match="ambiguous"):
        select_set(sets, a[-1].id[:6])
    assert select_set(sets, a[-1].id[:7]).name == set_name("a", T0)


def test_select_unknown_is_not_found(history: list[BackupSet]) -> None:
    with pytest.raises(NotFoundError) as info:
        select_set(history, "monthly")
    assert "monthly" in str(info.value)
    assert "weekly-20241227-143022" in str(info.value)  # it suggests what exists


def test_select_unknown_hex_id_is_not_found(history: list[BackupSet]) -> None:
    with pytest.raises(NotFoundError):
        select_set(history, "0000dead")


def test_select_incomplete_by_exact_name_is_refused(history: list[BackupSet]) -> None:
    with pytest.raises(NotFoundError, match="incomplete"):
        select_set(history, "daily-20241228-143022")
    with pytest.raises(NotFoundError, match="incomplete"):
        select_set(history, "weekly-20250103-143022")


def test_select_in_empty_repository() -> None:
    with pytest.raises(NotFoundError, match="no complete backups"):
        select_set([])


# --- parse_timestamp -------------------------------------------------------------------


@pytest.fixture
def local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC-5 (POSIX TZ string: needs no tz database)."""
    monkeypatch.setenv("TZ", "EST5")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_parse_timestamp_z() -> None:
    assert parse_timestamp("2024-12-24T14:30:00Z") == datetime(2024, 12, 24, 14, 30, tzinfo=UTC)
    assert parse_timestamp(" 2024-12-24T14:30:00z ") == datetime(2024, 12, 24, 14, 30,
                                                                  tzinfo=UTC)


def test_parse_timestamp_offset() -> None:
    moment = parse_timestamp("2024-12-24T14:30:00+01:00")
    assert moment == datetime(2024, 12, 24, 13, 30, tzinfo=UTC)
    assert moment.utcoffset() == timedelta(0)


@pytest.mark.usefixtures("local_zone")
def test_parse_timestamp_naive_is_local_time() -> None:
    assert parse_timestamp("2024-12-24T14:30:00") == datetime(2024, 12, 24, 19, 30, tzinfo=UTC)
    assert parse_timestamp("2024-12-24 14:30") == datetime(2024, 12, 24, 19, 30, tzinfo=UTC)
    assert parse_timestamp("2024-12-24") == datetime(2024, 12, 24, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "24.12.2024 14:30", ""])
def test_parse_timestamp_garbage(text: str) -> None:
    with pytest.raises(UsageError, match="ISO 8601"):
        parse_timestamp(text)


# --- property: selection by time -------------------------------------------------------

MINUTE = timedelta(minutes=1)
set_specs = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=40),  # minutes after T0
        st.sampled_from(["complete", "no-final", "missing-stream", "unreadable",
                         "complete-with-stream"]),
    ),
    max_size=12,
)


def build(specs: list[tuple[int, str]]) -> tuple[list[BackupSet], dict[str, bool]]:
    snaps: list[Snapshot] = []
    for index, (minutes, kind) in enumerate(specs):
        moment = T0 + minutes * MINUTE
        base = f"s{index}"
        if kind == "complete":
            snaps += make_set(base, moment)
        elif kind == "complete-with-stream":
            snaps += make_set(base, moment, streams=1)
        elif kind == "no-final":
            snaps += make_set(base, moment, complete=False, streams=1)
        elif kind == "missing-stream":
            snaps += make_set(base, moment, streams=2, present_streams=1)
        else:
            snaps += make_set(base, moment, unreadable=True)
    expected_complete = {
        set_name(f"s{index}", T0 + minutes * MINUTE): kind.startswith("complete")
        for index, (minutes, kind) in enumerate(specs)
    }
    return group_sets(snaps), expected_complete


@settings(max_examples=300, deadline=None)
@given(specs=set_specs, at_minutes=st.integers(min_value=-3, max_value=45),
       offset_hours=st.integers(min_value=-12, max_value=14))
def test_select_by_time_returns_latest_complete_at_or_before(
    specs: list[tuple[int, str]], at_minutes: int, offset_hours: int
) -> None:
    sets, expected_complete = build(specs)
    # the timestamp may come in any zone; it is the same instant
    moment = (T0 + at_minutes * MINUTE).astimezone(timezone(timedelta(hours=offset_hours)))
    assert {entry.name: entry.complete for entry in sets} == expected_complete
    candidates = [entry for entry in sets if entry.complete and entry.time <= moment]
    if not candidates:
        with pytest.raises(NotFoundError):
            select_set(sets, None, moment)
        return
    chosen = select_set(sets, None, moment)
    assert chosen.complete
    assert chosen.time <= moment
    assert chosen.time == max(entry.time for entry in candidates)
    assert chosen in candidates


def test_a_name_two_profiles_share_asks_for_the_full_name() -> None:
    sets = group_sets([
        snapshot(set_tags(set_name("config", T0), "files", "config", "site"), T0),
        snapshot(set_tags(set_name("config", T0 + timedelta(hours=1)), "files", "config",
                          "web1"), T0 + timedelta(hours=1)),
    ])
    with pytest.raises(UsageError, match=r"profiles site, web1: give the full set name"):
        select_set(sets, "config")
    assert select_set(sets, set_name("config", T0)).profile == "site"
    assert select_set(sets, "latest").profile == "web1"


# --- --timestamp prefers the widest type -----------------------------------------------


@pytest.fixture
def mixed() -> list[BackupSet]:
    hour = timedelta(hours=1)
    return group_sets(
        make_set("dr", T0, backup_type="disaster-recovery")
        + make_set("weekly", T0 + hour, backup_type="full")
        + make_set("config", T0 + 2 * hour, backup_type="config")
        + make_set("dr", T0 + 3 * hour, backup_type="disaster-recovery", complete=False,
                   streams=1)
    )


def test_timestamp_alone_takes_the_widest_type(mixed: list[BackupSet]) -> None:
    picked = select(mixed, None, T0 + timedelta(hours=5))
    assert picked.chosen.name == set_name("dr", T0)  # the later DR set is incomplete
    assert "disaster-recovery is the widest type" in picked.reason
    assert set_name("config", T0 + timedelta(hours=2)) in picked.reason  # says what is newer


def test_timestamp_falls_back_to_full_then_any(mixed: list[BackupSet]) -> None:
    no_dr = [entry for entry in mixed if entry.type != "disaster-recovery"]
    picked = select(no_dr, None, T0 + timedelta(hours=5))
    assert picked.chosen.type == "full"
    others = [entry for entry in no_dr if entry.type == "config"]
    assert select(others, None, T0 + timedelta(hours=5)).chosen.type == "config"


def test_timestamp_before_the_wide_sets_takes_what_there_is(mixed: list[BackupSet]) -> None:
    picked = select(mixed, None, T0 + timedelta(minutes=90))
    assert picked.chosen.type == "disaster-recovery"
    with pytest.raises(NotFoundError):
        select(mixed, None, T0 - timedelta(minutes=1))


def test_name_or_type_narrows_instead_of_the_widest(mixed: list[BackupSet]) -> None:
    later = T0 + timedelta(hours=5)
    assert select(mixed, None, later, name="config").chosen.type == "config"
    by_type = select(mixed, None, later, set_type="full")
    assert by_type.chosen.name == set_name("weekly", T0 + timedelta(hours=1))
    assert by_type.reason.startswith("the latest complete set of type full at or before")
    assert select(mixed, "latest", None, set_type="config").chosen.type == "config"


def test_narrowing_to_nothing_says_what_there_is(mixed: list[BackupSet]) -> None:
    with pytest.raises(NotFoundError, match=r"no backup named nightly .*config \(config\)"):
        select(mixed, None, T0, name="nightly")
    with pytest.raises(NotFoundError, match="no backup of type vm"):
        select(mixed, None, T0, set_type="vm")


def test_type_rank_orders_widest_first() -> None:
    assert type_rank("disaster-recovery") < type_rank("full") < type_rank("config")
    assert type_rank("config") == type_rank("vm")


def test_reasons_name_how_the_set_was_chosen(mixed: list[BackupSet]) -> None:
    name = set_name("weekly", T0 + timedelta(hours=1))
    assert select(mixed, name).reason == "named by --backup"
    assert select(mixed, "weekly").reason == "the latest complete set named weekly"
    assert select(mixed).reason == "the latest complete set"
    chosen = select(mixed, name).chosen
    assert select(mixed, chosen.id).reason == f"its id starts with {chosen.id}"


# --- names with a day, short ids -------------------------------------------------------


def test_a_name_ending_in_the_day_gets_only_the_time() -> None:
    assert set_name("nextcloud-20241220", T0) == "nextcloud-20241220-143022"
    assert split_set_name("nextcloud-20241220-143022") == ("nextcloud", T0)
    # another day's date is kept as part of the name: the stamp still says when
    assert set_name("nextcloud-20241219", T0) == "nextcloud-20241219-20241220-143022"


def test_select_by_name_and_day() -> None:
    day2 = T0 + timedelta(days=1)
    snaps = (make_set("weekly-full", T0) + make_set("weekly-full", T0 + timedelta(hours=2))
             + make_set("weekly-full", day2) + make_set("other", T0 + timedelta(hours=3))
             + make_set("weekly-full", T0 + timedelta(hours=4), complete=False))
    sets = group_sets(snaps)
    chosen = select(sets, "weekly-full-20241220")
    assert chosen.chosen.name == set_name("weekly-full", T0 + timedelta(hours=2))
    assert "made on 2024-12-20 (UTC)" in chosen.reason
    assert select_set(sets, "weekly-full-20241221").name == set_name("weekly-full", day2)
    assert select_set(sets, "weekly-full-20241220-143022").name == "weekly-full-20241220-143022"
    with pytest.raises(NotFoundError, match="weekly-full-20241222"):
        select_set(sets, "weekly-full-20241222")
    with pytest.raises(NotFoundError):
        select_set(sets, "weekly-full-20241399")  # not a day
    # with --timestamp, only sets at or before it
    assert select_set(sets, "weekly-full-20241220", T0 + timedelta(hours=1)).name == set_name(
        "weekly-full", T0)


def test_select_by_a_short_id_prefix() -> None:
    sets = group_sets(make_set("a", T0))
    final = sets[0].final
    assert final is not None
    assert select_set(sets, final.id[:3]).name == sets[0].name
    assert select_set(sets, final.id[:1]).name == sets[0].name


def test_an_ambiguous_prefix_lists_the_candidates() -> None:
    a = make_set("a", T0)
    b = make_set("b", T0 + timedelta(hours=1))
    b[-1] = Snapshot(a[-1].id[:2] + "0" * 62, a[-1].id[:2] + "000000", b[-1].time, "web1",
                     b[-1].paths, b[-1].tags)
    sets = group_sets(a + b)
    with pytest.raises(UsageError) as info:
        select_set(sets, a[-1].id[:2])
    assert set_name("a", T0) in str(info.value) and set_name("b", b[-1].time) in str(info.value)
    assert "give more of the id" in str(info.value)
