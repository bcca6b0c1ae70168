"""The checks of a drill: each part of a set restored into a sandbox and examined.

The sandbox remembers everything a check makes (temporary databases and volumes; files
stay inside its folder) before it is made, so that the clean-up removes it whatever
happened meanwhile, a failure or Ctrl-C included.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hooks.base import SandboxedDatabase
from orchestrator import run
from orchestrator.engines.base import Engine, Node
from orchestrator.engines.restic_args import escape_pattern
from orchestrator.errors import StrongroomError
from orchestrator.models import DrillCheck, DrillKind, DrillTable
from orchestrator.profile.schema import Profile
from orchestrator.run.pipes import read_chunks
from orchestrator.sets.digest import StreamDigest
from orchestrator.sets.dumps import StreamRestore, context_for, restore_plans, restore_streams
from orchestrator.sets.layout import SourcePath
from orchestrator.sets.manifest import ManifestStream

log = logging.getLogger("strongroom")
SQL_HOOKS = frozenset({"postgresql", "mysql", "mariadb"})
DATABASE_NAME_LIMIT = 63  # PostgreSQL's; MySQL allows 64
SHOWN_PROBLEMS = 10


@dataclass
class Sandbox:
    """The drill's private folder and what it created outside it."""

    folder: Path
    token: str  # makes every temporary name of this drill unique
    keep: bool = False
    created: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def made(self, what: str, remove: Callable[[], None]) -> None:
        self.created.append((what, remove))

    def temporary_name(self, name: str, separator: str = "_") -> str:
        plain = re.sub(r"[^a-z0-9]+", separator, name.lower()).strip(separator) or "db"
        prefix = f"strongroom{separator}drill{separator}{self.token}{separator}"
        return (prefix + plain)[:DATABASE_NAME_LIMIT]

    def clean(self) -> tuple[list[str], list[str]]:
        """(what was kept, what could not be removed)."""
        if self.keep:
            return [what for what, _ in self.created] + [str(self.folder)], []
        left: list[str] = []
        for what, remove in reversed(self.created):
            try:
                remove()
            except (StrongroomError, OSError) as exc:
                left.append(f"{what}: {exc}")
        shutil.rmtree(self.folder, ignore_errors=True)
        if self.folder.exists():
            left.append(str(self.folder))
        return [], left


@contextmanager
def checking(part: str, kind: DrillKind, checks: list[DrillCheck]) -> Iterator[DrillCheck]:
    """A check that fails with the message of whatever went wrong inside the block."""
    check = DrillCheck(part=part, kind=kind, ok=False, detail="")
    clock = time.monotonic()
    try:
        yield check
        check.ok = True
    except StrongroomError as exc:
        check.ok, check.detail = False, exc.message
    except OSError as exc:  # a sandbox file that cannot be written or read
        check.ok, check.detail = False, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
    finally:
        check.duration = round(time.monotonic() - clock, 3)
        checks.append(check)


def tree_problems(nodes: Sequence[Node], root: Path) -> list[str]:
    """What a restored tree lacks against the snapshot's listing: a missing entry, another
    kind of entry, or a file of another size."""
    problems = []
    for node in nodes:
        path = root / node.path.lstrip("/")
        if not path.exists() and not path.is_symlink():
            problems.append(f"{node.path}: missing")
        elif node.type == "dir" and not path.is_dir():
            problems.append(f"{node.path}: not a directory")
        elif node.type == "symlink" and not path.is_symlink():
            problems.append(f"{node.path}: not a symlink")
        elif node.type == "file" and (path.is_symlink() or not path.is_file()):
            problems.append(f"{node.path}: not a file")
        elif node.type == "file" and path.stat().st_size != node.size:
            problems.append(f"{node.path}: {path.stat().st_size} bytes, {node.size} stored")
    return problems


def check_files(engine: Engine, snapshot_id: str, sources: Sequence[SourcePath],
                sandbox: Sandbox, checks: list[DrillCheck], part: str = "files") -> None:
    """The file parts restored under the sandbox; restic re-reads every restored file
    against the repository's content hashes, and the tree is compared with the listing."""
    with checking(part, "files", checks) as check:
        target = sandbox.folder / "files"
        check.sandbox = str(target)
        nodes = engine.ls(snapshot_id, [item.source for item in sources])
        nodes = [node for node in nodes if any(_within(node.path, item.source)
                                                for item in sources)]
        engine.restore(snapshot_id, target, includes=[escape_pattern(item.source)
                                                      for item in sources], verify=True)
        problems = tree_problems(nodes, target)
        if problems:
            raise StrongroomError("restored files differ from the backup: " + _some(problems))
        files = [node for node in nodes if node.type == "file"]
        check.bytes = sum(node.size for node in files)
        check.detail = (f"{len(files)} file(s) of {len(sources)} path(s) restored and "
                        "re-read against the repository")


def _within(path: str, root: str) -> bool:
    root = root.rstrip("/") or "/"
    return path == root or path.startswith(root + "/") or root == "/"


def _some(problems: Sequence[str]) -> str:
    more = len(problems) - SHOWN_PROBLEMS
    return "; ".join(problems[:SHOWN_PROBLEMS]) + (f"; … and {more} more" if more > 0 else "")


def check_stream(engine: Engine, profile: Profile, stream: ManifestStream, sandbox: Sandbox,
                 checks: list[DrillCheck]) -> None:
    """One dump restored the sandboxed way its hook allows, or only re-read."""
    if stream.hook in SQL_HOOKS and stream.format != "globals":
        _check_sql(engine, profile, stream, sandbox, checks)
    elif stream.hook == "sqlite":
        _check_sqlite(engine, profile, stream, sandbox, checks)
    elif stream.hook == "containers" and stream.format == "volume-tar":
        _check_volume(engine, profile, stream, sandbox, checks)
    elif stream.hook == "vm":
        _check_disk(engine, profile, stream, sandbox, checks)
    else:
        _check_digest(engine, stream, checks)


def _restore_as(engine: Engine, profile: Profile, stream: ManifestStream,
                target: str) -> StreamRestore:
    (plan,) = restore_plans(profile, [stream], {stream.database: target}, force=False)
    restore_streams(engine, profile, [plan])  # the stream's digest is checked on the way
    return plan


def _check_sql(engine: Engine, profile: Profile, stream: ManifestStream, sandbox: Sandbox,
               checks: list[DrillCheck]) -> None:
    with checking(stream.logical, "database", checks) as check:
        temporary = sandbox.temporary_name(stream.database)
        check.sandbox = temporary
        (plan,) = restore_plans(profile, [stream], {stream.database: temporary}, force=False)
        hook, config, ctx = plan.ref.hook, plan.ref.config, context_for(profile)
        if not isinstance(hook, SandboxedDatabase):
            raise StrongroomError(f"the {stream.hook} hook cannot drop a database")
        if hook.inspect_target(config, ctx, plan.plan).exists:
            raise StrongroomError(f"a database named {temporary} exists already; nothing "
                                  "was restored into it")
        sandbox.made(f"{stream.hook} database {temporary}",
                     lambda: hook.drop_database(config, ctx, temporary))
        restore_streams(engine, profile, [plan])
        stats = hook.table_stats(config, ctx, temporary)
        check.tables = [DrillTable(table=t.table, rows=t.rows, checksum=t.checksum)
                        for t in stats]
        check.bytes = stream.bytes
        check.detail = (f"restored as {temporary}: the stream matches its digest; "
                        f"{len(stats)} table(s), {sum(t.rows for t in stats)} row(s)")


def _check_sqlite(engine: Engine, profile: Profile, stream: ManifestStream, sandbox: Sandbox,
                  checks: list[DrillCheck]) -> None:
    with checking(stream.logical, "sqlite", checks) as check:
        target = sandbox.folder / "sqlite" / f"{stream.index}-{Path(stream.database).name}"
        check.sandbox = str(target)
        _restore_as(engine, profile, stream, str(target))
        verdict, tables = sqlite_stats(target)
        if verdict != "ok":
            raise StrongroomError(f"PRAGMA integrity_check of the restored copy: {verdict}")
        check.tables = tables
        check.bytes = stream.bytes
        check.detail = (f"restored to a temporary file: the stream matches its digest, "
                        f"integrity_check ok; {len(tables)} table(s), "
                        f"{sum(t.rows for t in tables)} row(s)")


def sqlite_stats(path: Path) -> tuple[str, list[DrillTable]]:
    """integrity_check's verdict, and each table's rows and an order-free digest of them."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        verdict = "; ".join(str(row[0]) for row in connection.execute(
            "PRAGMA integrity_check").fetchall()[:SHOWN_PROBLEMS])
        names = [row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        tables = []
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            rows, total = 0, 0
            for row in connection.execute(f"SELECT * FROM {quoted}"):  # noqa: S608
                rows += 1
                digest = hashlib.blake2b(repr(row).encode(), digest_size=16).digest()
                total = (total + int.from_bytes(digest, "big")) % (1 << 128)
            tables.append(DrillTable(table=name, rows=rows, checksum=f"sum-blake2b:{total:032x}"))
        return verdict, tables
    except sqlite3.DatabaseError as exc:
        return f"cannot read the restored copy: {exc}", []
    finally:
        connection.close()


def _check_volume(engine: Engine, profile: Profile, stream: ManifestStream, sandbox: Sandbox,
                  checks: list[DrillCheck]) -> None:
    with checking(stream.logical, "volume", checks) as check:
        temporary = sandbox.temporary_name(stream.database, "-")
        check.sandbox = temporary
        (plan,) = restore_plans(profile, [stream], {stream.database: temporary}, force=False)
        hook, config, ctx = plan.ref.hook, plan.ref.config, context_for(profile)
        remove = getattr(hook, "remove_volume", None)
        if remove is None:
            raise StrongroomError(f"the {stream.hook} hook cannot remove a volume")
        if hook.inspect_target(config, ctx, plan.plan).exists:
            raise StrongroomError(f"a volume named {temporary} exists already; nothing was "
                                  "restored into it")
        sandbox.made(f"volume {temporary}", lambda: remove(config, ctx, temporary))
        restore_streams(engine, profile, [plan])
        check.bytes = stream.bytes
        check.detail = f"imported into volume {temporary}: the stream matches its digest"


def _check_disk(engine: Engine, profile: Profile, stream: ManifestStream, sandbox: Sandbox,
                checks: list[DrillCheck]) -> None:
    with checking(stream.logical, "disk", checks) as check:
        target = sandbox.folder / "disks" / f"{stream.index}-{Path(stream.database).name}"
        check.sandbox = str(target)
        plan = _restore_as(engine, profile, stream, str(target))
        read_back = getattr(plan.ref.hook, "read_back_argv", None)
        if read_back is None:
            raise StrongroomError(f"the {stream.hook} hook cannot read a disk back")
        fmt = str(stream.details.get("source_format", "raw"))
        tap = StreamDigest()
        try:
            with run.reading(read_back(plan.ref.config, target, fmt)) as source:
                for chunk in read_chunks(source):
                    tap.update(memoryview(chunk))
        except run.CommandError as exc:
            raise StrongroomError(f"cannot read the restored disk back: "
                                  f"{exc.stderr_tail.strip() or exc.message}") from None
        if stream.digest and tap.label != stream.digest:
            raise StrongroomError(f"the restored disk reads back as {tap.label}, the stream "
                                  f"was {stream.digest}")
        check.bytes = tap.bytes
        check.detail = (f"written to a temporary {fmt} disk and read back: its "
                        f"{tap.bytes} bytes match the stream's digest")


def _check_digest(engine: Engine, stream: ManifestStream, checks: list[DrillCheck]) -> None:
    """A stream no sandbox holds (roles, images, other hooks): read back and digested."""
    with checking(stream.logical, "stream", checks) as check:
        tap = StreamDigest()
        with engine.open_dump(stream.snapshot_id, "/" + stream.logical) as source:
            for chunk in read_chunks(source):
                tap.update(memoryview(chunk))
        if stream.digest and tap.label != stream.digest:
            raise StrongroomError(f"digest {tap.label}, recorded {stream.digest}")
        if tap.bytes != stream.bytes:
            raise StrongroomError(f"{tap.bytes} bytes, recorded {stream.bytes}")
        check.bytes = tap.bytes
        check.detail = (f"not restored (a {stream.hook} {stream.format} stream has no "
                        "sandbox); read back, it matches its digest")
