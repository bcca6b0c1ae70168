"""backup-sync: copy whole sets from one repository to another (`restic copy`; for
borg, each archive through export-tar and import-tar). Between engines, or between two
restic repositories that need different values of one environment variable (which one
`restic copy` run cannot hold), each part goes through two processes (sets.migrate).

A set arrives complete or not at all: its stream and log parts are copied first and
its final part (files and manifest) last, so a sync that is killed midway leaves a
set the target lists as incomplete, and the next sync completes it (restic copy
skips the snapshots that are already there). Sets complete at the target are not
copied again. A new target is created with the source's chunker parameters, so the
copied data deduplicates with what is backed up there directly. A set's parts in
services' own repositories go, first, to those the target's `vaults` map names
(sets.sync_vaults).
"""

from __future__ import annotations

import logging

from orchestrator.engines.base import Engine
from orchestrator.errors import UsageError
from orchestrator.models import BackupSyncRequest, BackupSyncResult
from orchestrator.sets.migrate import copy_set, two_processes
from orchestrator.sets.naming import FILES_PART, BackupSet, parse_timestamp, select_set
from orchestrator.sets.session import Session, load_sets, set_manifest
from orchestrator.sets.sync_vaults import check_routes, copy_vault_parts
from orchestrator.sets.vaults import refuse_spanning

log = logging.getLogger("strongroom")


def backup_sync(session: Session, request: BackupSyncRequest, *,
                follow_vaults: bool = True) -> BackupSyncResult:
    """`follow_vaults`: copy a set's vault parts to the target's repositories for them
    (sets.sync_vaults); without it such a set is refused."""
    given = [name for name, value in (("--backup", request.backup), ("--all", request.all),
                                      ("--since", request.since)) if value]
    if len(given) > 1:
        raise UsageError(f"give one of {', '.join(given)}")
    source_name, source = session.engine(request.from_)
    target_name, target = session.engine(request.to)
    if source_name == target_name:
        raise UsageError(f"--from and --to are both {source_name!r}")
    streamed = two_processes(source, target)
    chosen = _chosen(session, source, source_name, request)
    if not follow_vaults:
        for entry in chosen:
            refuse_spanning(entry, "backup-encrypt --to")
    routes = check_routes(session, target_name, chosen)
    if streamed:
        # Two processes per part, each with its own environment (sets.migrate).
        created = target.init()
        log.info("copying from %s to %s through two processes, each with its own "
                 "environment", source_name, target_name)
    else:
        created = target.init_like(source)
        if created:
            log.info("created %s with the chunker parameters of %s", target_name, source_name)
    there = {entry.name: entry for entry in load_sets(
        session, target, session.profile.repositories[target_name].url)}
    copied, skipped, snapshots = [], [], 0
    for entry in chosen:
        present = there.get(entry.name)
        if present is not None and present.complete:
            skipped.append(entry.name)
            continue
        assert entry.final is not None
        if routes[entry.name]:
            manifest = set_manifest(session, source, entry)
            for route in routes[entry.name]:
                snapshots += copy_vault_parts(session, entry, route, present, manifest)
        if streamed:
            log.info("copying %s to %s", entry.name, target_name)
            written, _ = copy_set(session, source, target, entry,
                                  present.parts if present is not None else ())
            copied.append(entry.name)
            snapshots += len(written)
            continue
        first = [snap.id for part, snap in sorted(entry.parts.items()) if part != FILES_PART]
        log.info("copying %s (%d part(s)) to %s", entry.name, len(first) + 1, target_name)
        if first:
            target.copy_from(source, first)
        target.copy_from(source, [entry.final.id])
        copied.append(entry.name)
        snapshots += len(first) + 1
    return BackupSyncResult(source=source_name, target=target_name, created=created,
                            copied=copied, skipped=skipped, snapshots=snapshots)


def _chosen(session: Session, engine: Engine, name: str,
            request: BackupSyncRequest) -> list[BackupSet]:
    sets = load_sets(session, engine, session.profile.repositories[name].url)
    if request.backup:
        chosen = [select_set(sets, request.backup)]
    else:
        chosen = [entry for entry in sets if entry.complete]
    if request.since:
        since = parse_timestamp(request.since)
        chosen = [entry for entry in chosen if entry.time >= since]
    return chosen
