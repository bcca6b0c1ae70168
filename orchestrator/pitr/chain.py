"""The WAL chain of the continuous family: `pitr verify` checks that every base backup is
followed by an unbroken run of archived segments, and `pitr prune` (its retention) keeps
the newest base backups and the WAL they need, and forgets the rest.

Both read only the batches' tags (first and last segment, segment count): no dump."""

from __future__ import annotations

from orchestrator.models.pitr import (
    BaseChain,
    PitrPruneRequest,
    PitrPruneResult,
    PitrVerifyRequest,
    PitrVerifyResult,
)
from orchestrator.pitr import spool as spooling
from orchestrator.pitr.archive import BaseBackup, WalBatch, base_backups, wal_batches
from orchestrator.pitr.service import continuous_service
from orchestrator.pitr.walnames import (
    SEGMENT_SIZE,
    is_segment,
    segment_number,
    segment_of,
    segments_between,
    timeline_of,
)
from orchestrator.sets.session import Session

MAX_GAP_NAMES = 20


def stored_segments(batches: list[WalBatch], timeline: int, segment_size: int = SEGMENT_SIZE
                    ) -> tuple[set[int], list[str]]:
    """The segment numbers of a timeline the batches hold, and notes on batches whose
    count does not fill their range (a batch that skipped a segment). Segment numbers
    depend on the cluster's segment size, which its base backups record."""
    held: set[int] = set()
    notes = []
    for batch in batches:
        if batch.seg_first is None or batch.seg_last is None:
            continue
        if timeline_of(batch.seg_first) != timeline:
            continue
        names = segments_between(batch.seg_first, batch.seg_last, segment_size)
        if len(names) != batch.segments:
            notes.append(f"batch {batch.snapshot.short_id} holds {batch.segments} of the "
                         f"{len(names)} segments {batch.seg_first}…{batch.seg_last}")
            continue  # which ones are missing is unknown: count none of them
        held.update(segment_number(name, segment_size) for name in names)
    return held, notes


def chain_of(base: BaseBackup, held: set[int]) -> BaseChain:
    """From the base's first segment: how far the run of segments goes, and the gaps after
    it up to the newest segment held."""
    size = base.segment_size
    start = segment_number(base.start_wal, size)
    stop = segment_number(base.stop_wal, size)
    newest = max(held, default=start - 1)
    end = start - 1
    while end + 1 in held:
        end += 1
    gaps = [number for number in range(end + 1, newest + 1) if number not in held]

    def name(number: int) -> str:
        return segment_of(base.timeline, number * size, size)

    return BaseChain(base=base.name, timeline=base.timeline, start_wal=base.start_wal,
                     stop_wal=base.stop_wal, chain_end=name(end) if end >= start else None,
                     gaps=[name(number) for number in gaps[:MAX_GAP_NAMES]],
                     usable=end >= stop)


def pitr_verify(session: Session, request: PitrVerifyRequest) -> PitrVerifyResult:
    service = continuous_service(session.profile, request.service)
    _, engine = session.engine(request.destination)
    profile = session.profile.profile_name
    batches = wal_batches(engine, profile, request.service)
    bases = base_backups(engine, profile, request.service)
    spooled = [entry.name for entry in spooling.entries(service.spool) if is_segment(entry.name)]
    notes: list[str] = []
    chains = []
    for base in bases:
        held, batch_notes = stored_segments(batches, base.timeline, base.segment_size)
        held.update(segment_number(name, base.segment_size) for name in spooled
                    if timeline_of(name) == base.timeline)
        notes += [note for note in batch_notes if note not in notes]
        chains.append(chain_of(base, held))
    if not bases:
        notes.append("no complete base backup: nothing can be recovered yet")
    if spooled:
        notes.append(f"{len(spooled)} segment(s) are only in the spool (not shipped yet)")
    ok = bool(bases) and all(chain.usable and not chain.gaps for chain in chains) \
        and not any("holds" in note for note in notes)
    return PitrVerifyResult(service=request.service, ok=ok, bases=chains, notes=notes)


def pitr_prune(session: Session, request: PitrPruneRequest) -> PitrPruneResult:
    continuous_service(session.profile, request.service)
    _, engine = session.engine(request.destination)
    profile = session.profile.profile_name
    bases = base_backups(engine, profile, request.service)
    kept, dropped = bases[-request.keep_bases:], bases[:-request.keep_bases]
    batches = wal_batches(engine, profile, request.service)
    doomed = []
    if kept:
        oldest = kept[0]
        for batch in batches:
            if batch.history or batch.seg_last is None:
                continue  # timeline histories and unlabelled batches stay
            if timeline_of(batch.seg_last) <= oldest.timeline and \
                    batch.seg_last < oldest.start_wal:
                doomed.append(batch)
    if not request.dry_run:
        ids = [base.data.id for base in dropped]
        ids += [snap.id for snap in engine.snapshots(["kind=base-info"])
                if snap.tag("base") in {base.name for base in dropped}
                and snap.tag("service") == request.service
                and snap.tag("profile") == profile]
        ids += [batch.snapshot.id for batch in doomed]
        if ids:
            engine.forget(ids)
            engine.prune()
    return PitrPruneResult(service=request.service, kept_bases=[base.name for base in kept],
                           forgotten_bases=[base.name for base in dropped],
                           forgotten_batches=len(doomed),
                           kept_batches=len(batches) - len(doomed), dry_run=request.dry_run)
