"""Stream parts: which hook dumps go into a set, running them, restoring them.

Each dump streams from its process through a digest tap into `restic backup
--stdin`, stored under its logical name (services/<svc>/<db>.dump). Nothing is
staged on disk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hooks import hook_for, parse_config
from hooks.base import (
    DumpPlan,
    Hook,
    HookContext,
    HookError,
    HookModel,
    PreparedDump,
    RestorePlanInput,
)
from orchestrator.engines.base import Engine, ProducerFailed, ProgressCallback
from orchestrator.errors import StrongroomError, UsageError
from orchestrator.profile.schema import Profile
from orchestrator.run import CommandError
from orchestrator.sets.digest import StreamDigest
from orchestrator.sets.manifest import ManifestStream
from orchestrator.sets.progress import PartProgress

log = logging.getLogger("strongroom")
# Hooks whose restore target is a file path: it follows --target like restored files.
FILE_TARGET_HOOKS = frozenset({"sqlite", "vm"})
# Hooks backup-database leaves to backup-containers and backup-vm-snapshot.
NON_DATABASE_HOOKS = frozenset({"containers", "vm"})


@dataclass(frozen=True)
class HookRef:
    service: str
    index: int
    kind: str
    hook: Hook
    config: HookModel


def context_for(profile: Profile) -> HookContext:
    base = profile.source_files[0].parent if profile.source_files else Path.cwd()
    return HookContext(base_dir=base)


def hook_refs(profile: Profile, services: Sequence[str]) -> list[HookRef]:
    refs = []
    for name in services:
        for index, entry in enumerate(profile.services[name].hooks):
            data = entry.model_dump()
            refs.append(HookRef(name, index, entry.type, hook_for(entry.type), parse_config(data)))
    return refs


def plan_streams(
    profile: Profile, backup_type: str, services: Sequence[str], include_data: bool
) -> list[DumpPlan]:
    """The dumps a set of this type holds; every hook is checked (connected to) first."""
    chosen = list(services) or list(profile.services)
    ctx = context_for(profile)
    plans: list[DumpPlan] = []
    for ref in hook_refs(profile, chosen):
        with_data = backup_type in ("full", "disaster-recovery") or (
            backup_type == "service" and include_data
        )
        schema_only = not with_data
        if schema_only and not getattr(ref.config, "schema_in_config", False):
            continue
        ref.hook.check(ref.config, ctx)
        plans += ref.hook.plan_dumps(ref.config, ctx, ref.service, ref.index, schema_only)
    _refuse_duplicates(plans)
    return plans


def plan_refs(profile: Profile, refs: Sequence[HookRef]) -> list[DumpPlan]:
    """Every dump of these hooks, with data; each hook is checked (connected to) first."""
    ctx = context_for(profile)
    plans: list[DumpPlan] = []
    for ref in refs:
        ref.hook.check(ref.config, ctx)
        plans += ref.hook.plan_dumps(ref.config, ctx, ref.service, ref.index, False)
    return plans


def _refuse_duplicates(plans: Sequence[DumpPlan]) -> None:
    seen: set[str] = set()
    for plan in plans:
        if plan.logical in seen:
            raise UsageError(f"two dumps would both be stored as {plan.logical}; "
                             "give one of them another name")
        seen.add(plan.logical)


def run_streams(
    engine: Engine,
    plans: Sequence[DumpPlan],
    tags_for: Callable[[DumpPlan], list[str]],
    *,
    time: datetime,
    host: str,
    compression: str,
    set_name: str,
    before_cleanup: Callable[[], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> list[tuple[ManifestStream, int]]:
    """Back up every dump: (manifest entry, bytes the repository grew by) for each.
    On a failure the parts already stored are forgotten before the error is raised;
    `before_cleanup` first ends what would hold the repository's lock meanwhile.
    `on_progress` hears each part start, the bytes through its tap, and its end."""
    done: list[tuple[ManifestStream, int]] = []
    partial: list[str] = []
    try:
        for plan in plans:
            log.info("dump %s (%s %s)", plan.logical, plan.hook, plan.database)
            progress = PartProgress(on_progress, plan.logical, "stream")
            progress.started()
            tap = StreamDigest(progress.add if on_progress is not None else None)
            try:
                with _prepared(plan, set_name) as prepared:
                    summary = engine.backup_stream(
                        prepared.command, plan.logical, tags=tags_for(plan), time=time,
                        host=host, compression=compression, tap=tap,
                    )
            except CommandError as exc:
                if isinstance(exc, ProducerFailed) and exc.partial_snapshot:
                    partial.append(exc.partial_snapshot)
                raise StrongroomError(
                    f"dump of {plan.database} ({plan.hook}, service {plan.service}) failed "
                    f"with exit code {exc.returncode}; the part was discarded:\n"
                    f"{_indent(exc.stderr_tail)}"
                ) from None
            done.append((ManifestStream(
                part=plan.logical, logical=plan.logical, snapshot_id=summary.snapshot_id,
                bytes=tap.bytes, digest=tap.label, hook=plan.hook, service=plan.service,
                index=plan.index, database=plan.database, format=plan.format,
                details={**plan.details, **prepared.details},
            ), summary.data_added))
            progress.finished(tap.bytes)
            log.info("  %s: %d bytes, %s", plan.logical, tap.bytes, tap.label)
    except BaseException:
        if before_cleanup is not None:
            before_cleanup()
        if done or partial:
            try:
                engine.forget([stream.snapshot_id for stream, _ in done] + partial)
            except StrongroomError as cleanup:
                log.warning("could not forget the stored parts of the failed set: %s", cleanup)
        raise
    return done


@contextmanager
def _prepared(plan: DumpPlan, set_name: str) -> Iterator[PreparedDump]:
    if plan.prepare is None:
        yield PreparedDump(plan.command)
        return
    with plan.prepare(set_name) as prepared:
        yield prepared


def _indent(text: str) -> str:
    lines = text.strip().splitlines()[-10:] or ["(no message)"]
    return "\n".join(f"  {line}" for line in lines)


@dataclass(frozen=True)
class StreamRestore:
    stream: ManifestStream
    ref: HookRef
    plan: RestorePlanInput


def restore_plans(
    profile: Profile,
    streams: Sequence[ManifestStream],
    as_database: dict[str, str],
    force: bool,
    *,
    from_archive: bool = False,
) -> list[StreamRestore]:
    """Each stored dump with the hook config that restores it (the profile's, if it has one).
    From an archive, the profile's hook is required and the target is one it names: an
    archive never chooses a program, a file or a database of its own."""
    result = []
    for stream in streams:
        ref = _ref_for(profile, stream, from_archive)
        if stream.database in as_database:
            target = as_database[stream.database]
        elif from_archive:
            target = _profile_target(ref, stream, context_for(profile))
        else:
            target = stream.database
        result.append(StreamRestore(stream, ref, RestorePlanInput(
            database=stream.database, target=target, format=stream.format,
            logical=stream.logical, force=force, details=dict(stream.details))))
    return result


def _ref_for(profile: Profile, stream: ManifestStream, from_archive: bool) -> HookRef:
    service = profile.services.get(stream.service)
    hooks = service.hooks if service else []
    if stream.index < len(hooks) and hooks[stream.index].type == stream.hook:
        entry = hooks[stream.index].model_dump()
    elif from_archive:
        raise HookError(
            f"cannot restore {stream.logical} from an archive: the profile has no "
            f"{stream.hook} hook at services.{stream.service}.hooks[{stream.index}] to "
            "restore it with (an archive never brings its own)")
    else:
        # Rebuilding from the repository alone: the hook's defaults (local server).
        entry = {"type": stream.hook}
        if stream.hook == "sqlite":
            entry["path"] = stream.database
        if stream.hook == "vm":
            entry["disks"] = [stream.database]
    try:
        config = parse_config(entry)
    except ValueError as exc:
        raise HookError(
            f"cannot restore {stream.logical}: the profile has no {stream.hook} hook for "
            f"service {stream.service} to restore it with ({exc})"
        ) from None
    return HookRef(stream.service, stream.index, stream.hook, hook_for(stream.hook), config)


def _profile_target(ref: HookRef, stream: ManifestStream, ctx: HookContext) -> str:
    """Where an archive's dump goes: the file or database the profile's hook names."""
    config = ref.config
    path = getattr(config, "path", None)
    if ref.kind == "sqlite" and isinstance(path, Path):
        return str(ctx.path(path))
    disks = getattr(config, "disks", None)
    if ref.kind == "vm" and isinstance(disks, list):
        named = [str(ctx.path(Path(d))) for d in disks]
        if stream.database in named:
            return stream.database
        raise HookError(f"cannot restore {stream.logical} from an archive: the archive names "
                        f"the disk {stream.database!r}, which the profile's vm hook does not "
                        "name; restore it with --as-database OLD=NEW")
    databases = getattr(config, "databases", None)
    if stream.format != "globals" and isinstance(databases, list) and databases != ["all"] \
            and stream.database not in databases:
        raise HookError(f"cannot restore {stream.logical} from an archive: the archive names "
                        f"the database {stream.database!r}, which the profile's "
                        f"{ref.kind} hook does not name; say where with --as-database OLD=NEW")
    return stream.database


def conflicts_of(profile: Profile, plans: Sequence[StreamRestore]) -> list[str]:
    ctx = context_for(profile)
    found = []
    for item in plans:
        target = item.ref.hook.inspect_target(item.ref.config, ctx, item.plan)
        if target.exists and not target.empty:
            found.append(target.conflict
                         or f"{item.stream.hook} database {target.database} is not empty")
    return found


def restore_streams(engine: Engine, profile: Profile, plans: Sequence[StreamRestore],
                    on_progress: ProgressCallback | None = None) -> None:
    """Restore each dump through its hook; the stream's digest is checked on the way."""
    ctx = context_for(profile)
    for item in plans:
        command = item.ref.hook.restore(item.ref.config, ctx, item.plan)
        progress = PartProgress(on_progress, item.stream.logical, "restore")
        progress.started(item.stream.bytes)
        tap = StreamDigest(progress.add if on_progress is not None else None)
        succeeded = False
        try:
            engine.restore_stream(item.stream.snapshot_id, "/" + item.stream.logical, command,
                                  tap)
            succeeded = True
        except CommandError as exc:
            raise StrongroomError(
                f"restoring {item.stream.logical} into {item.plan.target} failed with exit "
                f"code {exc.returncode}:\n{_indent(exc.stderr_tail)}"
            ) from None
        finally:
            item.ref.hook.finish_restore(item.plan, succeeded)
        if item.stream.digest and tap.label != item.stream.digest:
            raise StrongroomError(
                f"{item.stream.logical}: the restored stream's digest {tap.label} differs "
                f"from the one recorded at backup time ({item.stream.digest})"
            )
        progress.finished(tap.bytes)
        log.info("restored %s into %s (%d bytes)", item.stream.logical, item.plan.target,
                 tap.bytes)
