"""recover: rebuild a host from a disaster-recovery set.

The profile files the set carries go back first; the recovered profile is then loaded
from the restored file and everything else is restored through it, in the order of
recover_plan.py. The repository is always read through the session's engine: with
`--repo`, the URL and password the user gave win over the recovered profile's own entry
for that repository (whose secrets are not back yet); that entry is what the reinstalled
schedules will use.

Before anything is written, every step's conflicts are gathered (the profile loaded from
a temporary copy when its files are not in place): existing files or non-empty databases
refuse the whole recovery without --force, as restore-backup does. Once writing starts, a
failing step is marked and the independent steps after it still run.

A set's parts in services' own repositories (vaults) are read from there, each vault
opened through the recovered profile once the main repository's files are back
(recover_vaults.py): one more restore per vault.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from orchestrator.engines.base import Engine, Node
from orchestrator.errors import ConflictError, NotFoundError, StrongroomError, UsageError
from orchestrator.models import (
    FollowUp,
    RecoverPart,
    RecoverRequest,
    RecoveryResult,
    RecoveryStep,
)
from orchestrator.profile.schema import Profile
from orchestrator.sets.dumps import FILE_TARGET_HOOKS, StreamRestore, restore_plans
from orchestrator.sets.inventory import Schedules
from orchestrator.sets.layout import SourcePath
from orchestrator.sets.manifest import Manifest, read_manifest
from orchestrator.sets.naming import BackupSet, parse_timestamp
from orchestrator.sets.recover_plan import (
    SERVER_HOOKS,
    PlannedStep,
    chosen_parts,
    follow_ups,
    plan_steps,
)
from orchestrator.sets.recover_run import (
    CANNOT_CHECK,
    check_profile_nodes,
    counted,
    counted_on_disk,
    database_conflict,
    fail_with,
    occupied,
    read_inventory_schedules,
    read_profile_files,
    restore_files,
    restore_stream,
    run_step,
    run_steps,
    store_report,
    wait_for_server,
    worker,
    write_profile_files,
)
from orchestrator.sets.recover_vaults import OpenedVaults, open_vaults
from orchestrator.sets.restore import check_target, conflict_message, find_conflicts, retarget
from orchestrator.sets.runbook import secret_places
from orchestrator.sets.session import Session, choose_set, load_sets

log = logging.getLogger("strongroom")
DISASTER_RECOVERY = "disaster-recovery"


# Installs one schedule of a profile (profile, key, --install, how the set's inventory says
# the lost host had its schedules) and says what it wrote; the schedule package's, handed
# in by the tool (operations sit above sets).
ScheduleInstaller = Callable[[Profile, str, str, Schedules | None], list[str]]


@dataclass
class _Plan:
    """What recover found before writing anything."""

    chosen: BackupSet
    snapshot_id: str
    manifest: Manifest
    nodes: list[Node]  # the set's nodes under `listed`
    listed: set[str]  # the source paths listed: all for a dry run, else the profile files
    # and the roots in place (absent or empty roots cannot conflict; counted on disk)
    stored: dict[str, bytes]  # the profile files' bytes, by source path
    waiting: list[SourcePath]  # the profile files not in place
    main_file: Path
    profile: Profile  # the set's profile, loaded from its files or a temporary copy
    steps: list[PlannedStep]
    conflicts: list[str]
    schedules: Schedules | None  # the schedules the lost host had installed


def recover(session: Session, request: RecoverRequest,
            install_schedule: ScheduleInstaller) -> RecoveryResult:
    started = datetime.now(UTC)
    clock = time.monotonic()
    parts = chosen_parts(request.only, request.skip)
    repo_name, engine = session.engine(request.destination)
    url = session.profile.repositories[repo_name].url
    target_root = Path(request.target).expanduser().absolute() if request.target else Path("/")
    plan = _plan(session, engine, repo_name, request, parts, target_root)
    profile_step = RecoveryStep(kind="profile", part=None, name="profile files",
                                targets=[str(retarget(s, target_root)) for s in plan.stored],
                                files=len(plan.stored),
                                bytes=sum(map(len, plan.stored.values())))
    result = RecoveryResult(
        set=plan.chosen.name, id=plan.chosen.id, time=plan.chosen.time,
        profile=plan.manifest.profile, profile_file=str(plan.main_file),
        repository=_shown(url), target=str(target_root), dry_run=request.dry_run,
        started=started, conflicts=plan.conflicts,
        steps=[profile_step, *(p.step for p in plan.steps)],
        rpo=round((started - plan.chosen.time).total_seconds(), 3),
        bytes=profile_step.bytes + sum(p.step.bytes for p in plan.steps),
    )
    if request.target is None and "schedules" in parts and plan.profile.schedules:
        result.follow_up.append(_note("schedules are reinstalled as the profile has them"))
    elif request.target is not None and plan.profile.schedules:
        result.follow_up.append(_note("schedules are not installed with --target"))
    if request.dry_run:
        result.follow_up = follow_ups(plan.profile, result.steps,
                                      secret_places(plan.profile)) + result.follow_up
        result.rto = round(time.monotonic() - clock, 3)
        return result
    if plan.conflicts and not request.force:
        raise ConflictError(conflict_message(plan.chosen, plan.conflicts))

    if plan.waiting:
        run_step(profile_step, lambda: write_profile_files(
            {s.source: plan.stored[s.source] for s in plan.waiting}, plan.nodes, target_root))
    else:
        profile_step.result = "in-place"
    if profile_step.result == "failed":
        raise StrongroomError(f"the profile files of {plan.chosen.name} could not be restored, "
                              f"so nothing else was: {profile_step.error}")
    profile = _load(plan.main_file)  # the recovered profile, from its restored file
    streams = _stream_plans(profile, plan.steps, target_root, request.force)
    vault_engines: dict[str, Engine] = {}

    def read_vaults() -> None:
        opened = open_vaults(profile, engine, plan.chosen, plan.manifest)
        _restore_vault_steps(opened, plan, target_root, request.force, vault_engines)
        streams.update(_stream_plans(profile, [p for p in plan.steps if p.repository],
                                     target_root, request.force))
    _run_all(plan, lambda planned: _action(planned, profile, vault_engines.get(
                 planned.repository or "", engine), plan, streams, target_root, request,
                 install_schedule),
             lambda ready: _restore_file_steps(engine, plan, ready, target_root, request.force),
             read_vaults if any(planned.repository for planned in plan.steps) else None)
    result.profile = profile.profile_name
    result.bytes = profile_step.bytes + sum(planned.step.bytes for planned in plan.steps)
    result.ok = all(step.result != "failed" for step in result.steps)
    result.follow_up = follow_ups(profile, result.steps, secret_places(profile), plan.steps,
                                  plan.chosen.name) + result.follow_up
    if session.profile.profile_free:
        result.follow_up += _repository_notes(profile, url)
    result.rto = round(time.monotonic() - clock, 3)
    result.report = str(store_report(Session(profile).state.root, result))
    return result


def _plan(session: Session, engine: Engine, repo_name: str, request: RecoverRequest,
          parts: Sequence[RecoverPart], target_root: Path) -> _Plan:
    """The set, its profile and every step with its conflicts; nothing written."""
    moment = parse_timestamp(request.timestamp) if request.timestamp else None
    chosen = _choose(session, engine, repo_name, request.backup, moment)
    final = chosen.final
    assert final is not None  # select_set returns complete sets only
    manifest = read_manifest(engine, final, chosen.base).located(chosen.parts)
    profile_sources = [item for item in manifest.sources() if item.kind == "profile"]
    if not profile_sources:
        raise UsageError(f"set {chosen.name} holds no profile files: recover needs a "
                         "disaster-recovery set (create-backup --type disaster-recovery)")
    homes = {path.logical: path.repository for path in manifest.paths if path.repository}
    listed = [item.source for item in manifest.sources() if item.logical not in homes and (
        request.dry_run or item.kind == "profile"
        or occupied(retarget(item.source, target_root)))]
    with worker("recover-ls") as pool:
        listing = pool.submit(engine.ls, final.id, listed)  # beside the profile's dumps
        try:
            stored = read_profile_files(engine, final.id, profile_sources)
        except StrongroomError:
            check_profile_nodes(profile_sources, listing.result())  # the clearer message
            raise
        nodes = listing.result()
    check_profile_nodes(profile_sources, nodes, stored)
    waiting = [s for s in profile_sources if not _in_place(s.source, stored, target_root)]
    conflicts = [str(path) for path in (retarget(s.source, target_root) for s in waiting)
                 if path.exists() or path.is_symlink()]
    main_file = retarget(profile_sources[0].source, target_root)
    with _staged(stored, target_root, main_file, bool(waiting)) as planning_file:
        profile = _load(planning_file)
    steps = plan_steps(manifest.sources(), manifest.streams, profile, parts,
                       with_schedules=request.target is None, homes=homes)
    for planned in steps:
        if planned.sources:
            planned.step.files, planned.step.bytes = counted(nodes, planned.sources)
    conflicts += find_conflicts(nodes, [s for p in steps for s in p.sources], target_root)
    # A vault cannot be listed before its password is back: anything at its roots counts.
    conflicts += [str(path) for p in steps if p.repository for path in (
        retarget(s.source, target_root) for s in p.sources) if occupied(path)]
    streams = _stream_plans(profile, steps, target_root, request.force)
    if not request.dry_run:
        _wait_for_servers(profile, streams, request.wait)
    for planned in steps:
        if planned.stream is not None:
            found = database_conflict(profile, streams[id(planned)])
            if found.startswith(CANNOT_CHECK):
                planned.step.error = found
            elif found:
                conflicts.append(found)
    recorded = read_inventory_schedules(engine, final, chosen.base) if request.install == \
        "auto" and any(planned.schedule for planned in steps) else None
    return _Plan(chosen, final.id, manifest, nodes, set(listed), stored, waiting, main_file,
                 profile, steps, conflicts, recorded)


def _choose(session: Session, engine: Engine, repo_name: str, backup: str | None,
            moment: datetime | None) -> BackupSet:
    url = session.profile.repositories[repo_name].url
    sets = load_sets(session, engine, url)
    if backup is not None and backup != "latest":
        chosen = choose_set(session, engine, repo_name, sets, backup, moment)
        if chosen.type != DISASTER_RECOVERY:
            raise UsageError(f"set {chosen.name} is a {chosen.type} set: recover needs a "
                             "disaster-recovery set, which carries the profile")
        return chosen
    recovery = [entry for entry in sets if entry.type == DISASTER_RECOVERY]
    owners = sorted({entry.profile for entry in recovery if entry.complete})
    if len(owners) > 1:
        raise UsageError(f"the repository holds disaster-recovery sets of {len(owners)} "
                         f"profiles ({', '.join(owners)}): say which with --backup NAME "
                         "(see list-backups)")
    try:
        return choose_set(session, engine, repo_name, recovery, backup, moment)
    except NotFoundError as exc:
        raise NotFoundError(f"no complete disaster-recovery set to recover from in "
                            f"{repo_name}{' at or before ' + moment.isoformat() if moment else ''}"
                            f" ({exc.message})") from None


def _in_place(source: str, stored: dict[str, bytes], target_root: Path) -> bool:
    path = retarget(source, target_root)
    try:
        return path.is_file() and not path.is_symlink() and path.read_bytes() == stored[source]
    except OSError:
        return False


@contextmanager
def _staged(stored: dict[str, bytes], target_root: Path, main_file: Path,
            needed: bool) -> Iterator[Path]:
    """The main profile file to plan with: in place, or a private temporary copy of every
    profile file at the same relative places (so `extends` finds its bases)."""
    if not needed:
        yield main_file
        return
    with tempfile.TemporaryDirectory(prefix="strongroom-recover-") as folder:
        for source, data in stored.items():
            copy = Path(folder) / str(retarget(source, target_root)).lstrip("/")
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(data)
        yield Path(folder) / str(main_file).lstrip("/")


def _load(path: Path) -> Profile:
    from orchestrator.profile.load import load_profile

    return load_profile(path)


def _stream_plans(profile: Profile, steps: Sequence[PlannedStep], target_root: Path,
                  force: bool) -> dict[int, StreamRestore]:
    plans: dict[int, StreamRestore] = {}
    for planned in steps:
        stream = planned.stream
        if stream is None:
            continue
        renames = {stream.database: str(retarget(stream.database, target_root))} \
            if stream.hook in FILE_TARGET_HOOKS else {}
        (plans[id(planned)],) = restore_plans(profile, [stream], renames, force)
    return plans


def _wait_for_servers(profile: Profile, streams: dict[int, StreamRestore], wait: float
                      ) -> None:
    waited: set[tuple[str, int]] = set()
    for stream in streams.values():
        key = (stream.ref.service, stream.ref.index)
        if key not in waited:
            waited.add(key)
            wait_for_server(profile, stream, wait)


def _action(planned: PlannedStep, profile: Profile, engine: Engine, plan: _Plan,
            streams: dict[int, StreamRestore], target_root: Path, request: RecoverRequest,
            install_schedule: ScheduleInstaller) -> Callable[[], object]:
    if planned.step.error:  # the server could not be reached when the plan was made
        return partial(fail_with, planned.step.error)
    if planned.stream is not None:
        stream = streams[id(planned)]
        return lambda: restore_stream(engine, profile, stream)
    assert planned.schedule is not None  # file steps run together, in _restore_file_steps
    key = planned.schedule
    return lambda: planned.step.targets.extend(install_schedule(
        profile, key, request.install, plan.schedules))


def _run_all(plan: _Plan, action_of: Callable[[PlannedStep], Callable[[], object]],
             restore_files_of: Callable[[list[PlannedStep]], None],
             read_vaults: Callable[[], None] | None = None) -> None:
    """Every step after the profile's. The main repository's file steps share one restic
    restore; its dumps into database servers run beside it, as the plan reached each
    server before any file was written (none of them waits on a restored file); then the
    vaults' files (their passwords may be among the files), and the rest (sqlite files,
    containers, VM disks, the vaults' dumps, schedules) in order."""
    file_steps = [planned for planned in plan.steps
                  if planned.sources and planned.repository is None]
    beside = [planned for planned in plan.steps if planned.stream is not None
              and planned.stream.hook in SERVER_HOOKS and planned.repository is None]
    after = [planned for planned in plan.steps
             if not planned.sources and not any(planned is other for other in beside)]
    with worker("recover-files") as pool:
        files = pool.submit(restore_files_of, file_steps) if file_steps else None
        for planned in beside:
            run_step(planned.step, action_of(planned))
        if files is not None:
            files.result()
    if read_vaults is not None:
        read_vaults()
    for planned in after:
        run_step(planned.step, action_of(planned))


def _restore_vault_steps(opened: OpenedVaults, plan: _Plan, target_root: Path, force: bool,
                         vault_engines: dict[str, Engine]) -> None:
    """Each vault's file steps in one restore; a vault that cannot be read fails all its
    steps with the same message (its dumps fail when their turn comes)."""
    for vault in sorted({planned.repository for planned in plan.steps if planned.repository}):
        mine = [planned for planned in plan.steps if planned.repository == vault]
        problem = opened.problem(vault)
        vault_engine = opened.engine(vault)
        if problem is not None or vault_engine is None:
            for planned in mine:
                planned.step.error = problem or f"vault {vault} cannot be read"
                if planned.sources:
                    run_step(planned.step, partial(fail_with, planned.step.error))
            continue
        vault_engines[vault] = vault_engine
        for planned in mine:
            if planned.stream is not None:
                planned.stream = opened.located(planned.stream)
        _restore_file_steps(vault_engine, plan, [p for p in mine if p.sources], target_root,
                            force, snapshot_id=opened.snapshot_id(vault))


def _restore_file_steps(engine: Engine, plan: _Plan, file_steps: list[PlannedStep],
                        target_root: Path, force: bool, snapshot_id: str | None = None
                        ) -> None:
    """The file steps in one restic restore (of the set's final snapshot, or of a vault's
    part); a step whose target is refused fails alone, and the steps restored together
    share the restore's duration and result."""
    ready: list[PlannedStep] = []
    for planned in file_steps:
        run_step(planned.step, partial(check_target, target_root, planned.sources))
        if planned.step.result == "ok":
            ready.append(planned)

    def restore() -> None:
        restore_files(engine, snapshot_id or plan.snapshot_id,
                      [item for planned in ready for item in planned.sources],
                      plan.nodes, target_root, force)
        for planned in ready:
            planned.step.files, planned.step.bytes = counted(plan.nodes, planned.sources) \
                if all(item.source in plan.listed for item in planned.sources) else \
                counted_on_disk([retarget(item.source, target_root)
                                 for item in planned.sources])
    if ready:
        run_steps([planned.step for planned in ready], restore)


def _repository_notes(profile: Profile, url: str) -> list[FollowUp]:
    """This recovery read the --repo URL; the recovered profile's own repositories are
    what its schedules will write to."""
    named = [name for name, repo in profile.repositories.items() if repo.url == url]
    if named:
        return []
    listed = ", ".join(f"{name} ({_shown(repo.url)})"
                       for name, repo in profile.repositories.items())
    return [_note(f"read from {_shown(url)}, which the recovered profile does not name: its "
                  f"repositories are {listed}; check them before the next scheduled backup")]


def _shown(url: str) -> str:
    """The URL without a password it may carry (rest:https://user:secret@host/)."""
    return re.sub(r"//[^/@]*:[^/@]*@", "//***@", url)


def _note(text: str) -> FollowUp:
    return FollowUp(kind="note", text=text)


__all__ = ["recover"]
