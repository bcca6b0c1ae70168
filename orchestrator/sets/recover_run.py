"""The steps of a recover, one function each: files, one dump, one schedule; waiting for a
database server; storing the report. recover.py decides the order and what to run."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path, PurePosixPath
from stat import S_ISREG

from hooks.base import HookError
from orchestrator.engines.base import Engine, Node, Snapshot
from orchestrator.engines.restic_args import escape_pattern
from orchestrator.errors import StrongroomError
from orchestrator.models import RecoveryResult, RecoveryStep
from orchestrator.profile.schema import Profile
from orchestrator.run.tempfiles import write_atomic
from orchestrator.sets.dumps import StreamRestore, conflicts_of, context_for, restore_streams
from orchestrator.sets.inventory import Schedules
from orchestrator.sets.layout import SourcePath
from orchestrator.sets.recover_plan import SERVER_HOOKS
from orchestrator.sets.restore import check_target, clear_for_overwrite, find_conflicts

log = logging.getLogger("strongroom")
WAIT_EVERY = 1.0
REPORTS = "recoveries"
MAX_PROFILE_BYTES = 4 << 20
CANNOT_CHECK = "cannot check"


def restore_files(engine: Engine, snapshot_id: str, sources: Sequence[SourcePath],
                  nodes: Sequence[Node], target_root: Path, force: bool) -> tuple[int, int]:
    """Restore these source paths of the set; (files, bytes) restored."""
    if not sources:
        return 0, 0
    check_target(target_root, sources)
    if force and find_conflicts(nodes, sources, target_root):
        clear_for_overwrite(nodes, sources, target_root)
    engine.restore(snapshot_id, target_root,
                   includes=[escape_pattern(item.source) for item in sources])
    return counted(nodes, sources)


def counted(nodes: Sequence[Node], sources: Sequence[SourcePath]) -> tuple[int, int]:
    """(files, bytes) of the set's nodes under these source paths."""
    inside = [node for node in nodes if node.type == "file"
              and any(_within(node.path, item.source) for item in sources)]
    return len(inside), sum(node.size for node in inside)


def counted_on_disk(roots: Sequence[Path]) -> tuple[int, int]:
    """(files, bytes) of the regular files under these restored roots: what a restore
    into absent or empty roots wrote, without listing the set."""
    files = size = 0
    for root in roots:
        if root.is_symlink():
            continue  # a link, as restic's listing counts it: not a file
        if root.is_file():
            files, size = files + 1, size + root.stat().st_size
            continue
        for folder, _dirs, names in os.walk(root):
            for name in names:
                stat = os.lstat(os.path.join(folder, name))
                if S_ISREG(stat.st_mode):
                    files, size = files + 1, size + stat.st_size
    return files, size


def _within(path: str, root: str) -> bool:
    root = root.rstrip("/") or "/"
    return path == root or path.startswith(root + "/")


def read_profile_files(engine: Engine, snapshot_id: str, sources: Sequence[SourcePath]
                       ) -> dict[str, bytes]:
    """The profile files a set carries, read into memory: each must be a plain absolute
    path (the manifest is the repository's word) holding no more than a profile's size;
    check_profile_nodes checks them against the set's listing once it is there."""
    stored: dict[str, bytes] = {}
    for item in sources:
        path = PurePosixPath(item.source)
        if not path.is_absolute() or ".." in path.parts or str(path) != item.source:
            raise StrongroomError(f"the set names a profile file {item.source!r}, which is "
                                  "not a plain absolute path; refused")
        with engine.open_dump(snapshot_id, item.source) as stream:
            data = stream.read(MAX_PROFILE_BYTES + 1)
            if len(data) > MAX_PROFILE_BYTES:  # leaving early stops the dump
                raise StrongroomError(f"the set's profile file {item.source} holds more "
                                      f"than a profile ({MAX_PROFILE_BYTES} bytes); refused")
        stored[item.source] = data
    return stored


def check_profile_nodes(sources: Sequence[SourcePath], nodes: Sequence[Node],
                        stored: dict[str, bytes] | None = None) -> None:
    """Each profile file is a regular file of the set (of the size read, once read)."""
    for item in sources:
        node = next((n for n in nodes if n.path == item.source), None)
        if node is None or node.type != "file" or (
                stored is not None and node.size != len(stored[item.source])):
            raise StrongroomError(f"the set holds no profile file at {item.source}")


def occupied(path: Path) -> bool:
    """Whether anything is at a root a restore would write: not so for an absent path
    or an empty directory."""
    if not os.path.lexists(path):
        return False
    if path.is_symlink() or not path.is_dir():
        return True
    try:
        with os.scandir(path) as entries:
            return next(entries, None) is not None
    except OSError:
        return True


def write_profile_files(stored: dict[str, bytes], nodes: Sequence[Node], target_root: Path
                        ) -> tuple[int, int]:
    """Put the profile files back from the bytes already read, with their mode and
    mtime (one restic run fewer than a restore); (files, bytes) written."""
    from orchestrator.sets.restore import retarget

    for source, data in stored.items():
        node = next(n for n in nodes if n.path == source)
        target = retarget(source, target_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()  # only with --force: recover refuses existing paths otherwise
        write_atomic(target, data, mode=(node.mode & 0o7777) or 0o600)
        stamp = mtime_ns(node.mtime)
        if stamp is not None:
            os.utime(target, ns=(stamp, stamp), follow_symlinks=False)
    return len(stored), sum(map(len, stored.values()))


def mtime_ns(text: str) -> int | None:
    """restic's RFC 3339 time with nanoseconds as nanoseconds since the epoch."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)",
                         text)
    if match is None:
        return None
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    whole = datetime.fromisoformat(match.group(1) + zone)
    fraction = (match.group(2) or "").ljust(9, "0")
    return int(whole.timestamp()) * 1_000_000_000 + int(fraction)


def read_inventory_schedules(engine: Engine, final: Snapshot, base: str) -> Schedules | None:
    """The schedules the set's inventory says the host had installed; None for a set
    without a readable inventory (installing then follows --install auto)."""
    from pydantic import ValidationError

    from orchestrator.sets.inventory import Inventory
    from orchestrator.sets.manifest import INVENTORY_FILE, manifest_dir_in

    try:
        data = engine.dump(final.id, f"{manifest_dir_in(final, base)}/{INVENTORY_FILE}")
        return Inventory.model_validate_json(data[:MAX_PROFILE_BYTES]).schedules
    except (StrongroomError, ValidationError) as exc:
        log.info("recover: no inventory of installed schedules: %s", exc)
        return None


def database_conflict(profile: Profile, plan: StreamRestore) -> str:
    """A non-empty target ('' when free); 'cannot check …' when the server cannot say."""
    try:
        found = conflicts_of(profile, [plan])
    except StrongroomError as exc:
        return f"{CANNOT_CHECK} {plan.stream.logical}: {exc.message}"
    return found[0] if found else ""


def wait_for_server(profile: Profile, plan: StreamRestore, wait: float) -> None:
    """Until the hook's server accepts connections, or `wait` seconds pass (then the
    steps that need it fail with the server's last answer)."""
    if plan.ref.kind not in SERVER_HOOKS:
        return
    ctx = context_for(profile)
    deadline = time.monotonic() + wait
    while True:
        try:
            plan.ref.hook.check(plan.ref.config, ctx)
            return
        except HookError as exc:
            if time.monotonic() >= deadline:
                log.warning("recover: %s", exc.message)
                return
            log.info("recover: waiting for %s: %s", plan.ref.kind, exc.message)
        time.sleep(WAIT_EVERY)


def restore_stream(engine: Engine, profile: Profile, plan: StreamRestore) -> None:
    restore_streams(engine, profile, [plan])


def store_report(state_root: Path, result: RecoveryResult) -> Path:
    stamp = result.started.strftime("%Y%m%dT%H%M%SZ")
    path = state_root / REPORTS / f"{stamp}-{result.set}.json"
    result.report = str(path)
    write_atomic(path, (result.model_dump_json(indent=2) + "\n").encode())
    return path


def fail_with(message: str) -> None:
    raise StrongroomError(message)


@contextmanager
def worker(name: str) -> Iterator[ThreadPoolExecutor]:
    """One thread for work beside the main thread's. Leaving does not wait for it: on an
    interrupt the CLI ends every thread's children (run.end_children), which ends it."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    try:
        yield pool
    finally:
        pool.shutdown(wait=False)


def run_step(step: RecoveryStep, work: Callable[[], object]) -> None:
    run_steps([step], work)


def run_steps(steps: Sequence[RecoveryStep], work: Callable[[], object]) -> None:
    """Run the work of these steps; its failure (a hook's, restic's, the file system's)
    is their result, not the end of the recovery."""
    clock = time.monotonic()
    error: str | None = None
    try:
        work()
    except (StrongroomError, OSError) as exc:
        error = exc.message if isinstance(exc, StrongroomError) else str(exc)
    duration = round(time.monotonic() - clock, 3)
    for step in steps:
        step.result = "ok" if error is None else "failed"
        step.error = error
        step.duration = duration
        if error is not None:
            log.warning("recover: %s failed: %s", step.name, error)
