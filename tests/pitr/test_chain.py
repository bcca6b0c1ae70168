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


def mib_seg(number: int) -> str:
    """A segment name of a cluster made with initdb --wal-segsize=1 (4096 per log file)."""
    return f"00000001{number // 4096:08X}{number % 4096:08X}"


def test_a_cluster_with_1_mib_segments_chains_across_its_log_file_boundary() -> None:
    size = 1 << 20
    snap = Snapshot("c" * 64, "cccc", WHEN, "h", (), ())
    base = BaseBackup("db-base", snap, 1, "0/300028", "0/400100", mib_seg(3), mib_seg(4), WHEN,
                      WHEN, segment_size=size)
    whole = WalBatch(snap, mib_seg(2), mib_seg(5000), WHEN, mib_seg(2), mib_seg(5000), 4999)
    held, notes = stored_segments([whole], 1, size)
    chain = chain_of(base, held)
    assert not notes and chain.usable and not chain.gaps
    assert chain.chain_end == mib_seg(5000) == "000000010000000100000388"
    # Read as 16 MiB segments the same batch would look short of its range.
    assert stored_segments([whole], 1)[1]
    gap = WalBatch(snap, mib_seg(4097), mib_seg(4097), WHEN, mib_seg(4097), mib_seg(4097), 1)
    held, _ = stored_segments([batch_of(mib_seg(2), mib_seg(4094), snap), gap], 1, size)
    assert chain_of(base, held).gaps == [mib_seg(4095), mib_seg(4096)]


def batch_of(first: str, last: str, snap: Snapshot) -> WalBatch:
    return WalBatch(snap, first, last, WHEN, first, last,
                    segment_number(last, 1 << 20) - segment_number(first, 1 << 20) + 1)
