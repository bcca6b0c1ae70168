"""The WAL chain from a base backup, read from the batches' tags."""

from __future__ import annotations

from datetime import UTC, datetime

from orchestrator.engines.base import Snapshot
from orchestrator.pitr.archive import BaseBackup, WalBatch
from orchestrator.pitr.chain import chain_of, stored_segments
from orchestrator.pitr.walnames import segment_number

WHEN = datetime(2024, 12, 24, tzinfo=UTC)


def seg(number: int, timeline: int = 1) -> str:
    return f"{timeline:08X}{number // 256:08X}{number % 256:08X}"


def batch(first: int, last: int, count: int | None = None, timeline: int = 1) -> WalBatch:
    snap = Snapshot(id=f"{first:064x}", short_id=f"{first:08x}", time=WHEN, hostname="h",
                    paths=(), tags=())
    return WalBatch(snap, seg(first, timeline), seg(last, timeline), WHEN,
                    seg(first, timeline), seg(last, timeline),
                    count if count is not None else last - first + 1)


BASE = BaseBackup("db-base", Snapshot("b" * 64, "bbbb", WHEN, "h", (), ()), 1, "0/3000028",
                  "0/4000100", seg(3), seg(4), WHEN, WHEN)


def test_an_unbroken_chain() -> None:
    held, notes = stored_segments([batch(2, 5), batch(6, 300)], 1)
    chain = chain_of(BASE, held)
    assert chain.usable and not chain.gaps and not notes
    assert chain.chain_end == seg(300)  # across a log-file boundary (0xFF → 0x100)


def test_a_gap_is_named() -> None:
    held, _ = stored_segments([batch(3, 5), batch(8, 9)], 1)
    chain = chain_of(BASE, held)
    assert chain.usable and chain.chain_end == seg(5) and chain.gaps == [seg(6), seg(7)]


def test_a_base_without_its_stop_segment_is_unusable() -> None:
    held, _ = stored_segments([batch(3, 3)], 1)
    assert not chain_of(BASE, held).usable


def test_a_batch_short_of_its_range_counts_for_nothing() -> None:
    held, notes = stored_segments([batch(3, 9, count=5), batch(2, 2, timeline=2)], 1)
    assert held == set() and "holds 5 of the 7" in notes[0]
    assert segment_number(seg(300)) == 300
