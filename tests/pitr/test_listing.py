"""list-backups and the continuous family: one summary per service, from tags alone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from orchestrator.cli.pitr import render_list_and_continuous
from orchestrator.engines.base import Snapshot
from orchestrator.models import ListBackupsResult
from orchestrator.pitr.listing import continuous_families

WHEN = datetime(2024, 12, 24, 14, tzinfo=UTC)


def snap(number: int, *tags: str, size: int | None = None) -> Snapshot:
    return Snapshot(id=f"{number:064x}", short_id=f"{number:08x}", time=WHEN, hostname="h",
                    paths=(), tags=("strongroom", "family=continuous", *tags),
                    total_bytes=size)


def seg(number: int) -> str:
    return f"{1:08X}{0:08X}{number:08X}"


def base(number: int, profile: str, service: str, first: int) -> list[Snapshot]:
    who = (f"profile={profile}", f"service={service}", f"base={service}-base-{number}")
    return [snap(number, "kind=base", *who, size=5 << 20),
            snap(number + 100, "kind=base-info", *who, "timeline=1", "start-lsn=0/1000028",
                 "stop-lsn=0/1000100", f"start-wal={seg(first)}", f"stop-wal={seg(first)}",
                 f"finished=2024122{number}T120000Z")]


def batch(number: int, profile: str, service: str, first: int, last: int, newest: str
          ) -> Snapshot:
    return snap(number, "kind=wal", f"profile={profile}", f"service={service}",
                f"first={seg(first)}", f"last={seg(last)}", f"count={last - first + 1}",
                f"newest={newest}", f"seg-first={seg(first)}", f"seg-last={seg(last)}",
                f"segments={last - first + 1}")


class Repository:
    def __init__(self, snaps: list[Snapshot]) -> None:
        self.snaps = snaps

    def snapshots(self, tags: Sequence[str] = ()) -> list[Snapshot]:
        return [item for item in self.snaps if set(tags) <= set(item.tags)]


REPOSITORY = Repository([
    *base(1, "site", "db", 3), *base(2, "site", "db", 9),
    batch(10, "site", "db", 3, 8, "20241221T130000Z"),
    batch(11, "site", "db", 9, 12, "20241222T150000Z"),
    batch(12, "site", "wiki", 1, 1, "20241222T150000Z"),  # WAL only, no base yet
    *base(3, "other", "db", 5),
    snap(13, "kind=base", "profile=site", "service=db", "base=db-base-9"),  # no info part
])


def test_one_summary_per_service_of_the_profile() -> None:
    families = continuous_families(REPOSITORY, "site", None)  # type: ignore[arg-type]
    assert [(family.profile, family.service) for family in families] == [("site", "db"),
                                                                         ("site", "wiki")]
    db = families[0]
    assert [item.base for item in db.bases] == ["db-base-1", "db-base-2"]  # complete ones
    assert db.bases[0].size == 5 << 20 and db.bases[1].start_wal == seg(9)
    assert (db.wal_batches, db.wal_segments, db.first_wal, db.last_wal) == (2, 10, seg(3),
                                                                            seg(12))
    assert db.recoverable_from == datetime(2024, 12, 21, 12, tzinfo=UTC)
    assert db.last_archived == datetime(2024, 12, 22, 15, tzinfo=UTC)
    assert families[1].bases == [] and families[1].recoverable_from is None


def test_without_a_profile_every_profile_and_a_service_filter() -> None:
    every = continuous_families(REPOSITORY, None, "db")  # type: ignore[arg-type]
    assert [(family.profile, family.service) for family in every] == [("other", "db"),
                                                                      ("site", "db")]


def test_the_listing_renders_bases_and_the_archive_span() -> None:
    result = ListBackupsResult(destination="local", backups=[],
                               continuous=continuous_families(REPOSITORY, "site", None))  # type: ignore[arg-type]
    text = render_list_and_continuous(result)
    assert text.startswith("continuous backup of service db: 2 base backup(s), 2 WAL batch(es) "
                           "holding 10 segment(s)")
    assert "recoverable to any second from 2024-12-21T12:00:00+00:00 to " \
           "2024-12-22T15:00:00+00:00" in text
    assert f"db-base-2  2024-12-22 12:00:00  1         {seg(9)} … {seg(9)}" in text
    assert "continuous backup of service wiki: 0 base backup(s)" in text
    assert "no backups in local" not in text
    assert render_list_and_continuous(ListBackupsResult(destination="local", backups=[])) \
        == "no backups in local"
