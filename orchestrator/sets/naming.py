"""Backup sets: naming, tags, grouping snapshots into sets, and choosing one.

A set is what the user calls "a backup". All its snapshots carry the tags
`strongroom`, `set=…`, `part=…`, `type=…`, `profile=…` and share one time. The
`files` part is written last and holds the manifest, so a set without it is
incomplete; it also says how many stream parts the set must have (`streams=N`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from orchestrator.engines.base import Snapshot
from orchestrator.errors import NotFoundError, UsageError

if TYPE_CHECKING:
    from orchestrator.models.drill import DrillOutcome

STAMP_FORMAT = "%Y%m%d-%H%M%S"
STAMP_PATTERN = re.compile(r"^(?P<base>.+)-(?P<stamp>[0-9]{8}-[0-9]{6})$")
DAY_FORMAT = "%Y%m%d"
DAY_PATTERN = re.compile(r"^(?P<base>.+)-(?P<day>[0-9]{8})$")
FILES_PART = "files"
PRODUCT_TAG = "strongroom"
# A set spanning repositories: its final snapshot carries `vault=<repository>` for each
# service's own repository it has parts in; there, the final-like part is `part=vault`.
VAULT_TAG = "vault"
VAULT_PART = "vault"


def set_name(base: str, moment: datetime) -> str:
    """BASE-YYYYMMDD-HHMMSS (UTC). A base already ending in that day's -YYYYMMDD (as
    `--name "nextcloud-$(date +%Y%m%d)"` makes) gets only -HHMMSS: no date twice."""
    utc = moment.astimezone(UTC)
    day = DAY_PATTERN.match(base)
    if day and day["day"] == utc.strftime(DAY_FORMAT):
        return f"{base}-{utc.strftime('%H%M%S')}"
    return f"{base}-{utc.strftime(STAMP_FORMAT)}"


def split_set_name(name: str) -> tuple[str, datetime] | None:
    match = STAMP_PATTERN.match(name)
    if not match:
        return None
    # YYYYMMDD-HHMMSS read by hand, datetime checking the ranges as strptime would:
    # strptime's first call imports and compiles its locale tables (~3 ms of a run).
    stamp = match["stamp"]
    moment = datetime(int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[9:11]),
                      int(stamp[11:13]), int(stamp[13:15]), tzinfo=UTC)
    return match["base"], moment


# A drill's result is a small part of the set it rehearsed, so that retention forgets it
# with the set; its `logs/` prefix keeps it out of the set's stream count.
DRILL_PART = "logs/drill.json"
DRILL_TAG = "drill"
DRILL_RESULT_TAG = "drill-result"


def drill_tags(name: str, backup_type: str, profile: str, services: Sequence[str],
               ok: bool) -> list[str]:
    return set_tags(name, DRILL_PART, backup_type, profile, services) + [
        f"{DRILL_TAG}={name}", f"{DRILL_RESULT_TAG}={'ok' if ok else 'failed'}"]


AUDIT_TAG = "audit"
ANCHOR_PREFIX = 16


def anchor_tag(seq: int, sha256: str) -> str:
    """The audit chain's head when a set was made, as a tag of its final snapshot. Only
    digits, a-f and '-' after `audit=`: nothing restic's tag syntax treats apart (a comma
    separates tags in `--tag a,b`)."""
    return f"{AUDIT_TAG}={seq}-{sha256[:ANCHOR_PREFIX]}"


MANIFEST_TAG = "manifest"


def manifest_tag(data: bytes) -> str:
    """The sha256 of the set's manifest as a tag of its final snapshot: a copy of the
    manifest with this digest is the stored one, without a restic process to read it."""
    return f"{MANIFEST_TAG}={hashlib.sha256(data).hexdigest()}"


def set_tags(
    name: str,
    part: str,
    backup_type: str,
    profile: str,
    services: Sequence[str] = (),
    streams: int | None = None,
) -> list[str]:
    tags = [PRODUCT_TAG, f"set={name}", f"part={part}", f"type={backup_type}",
            f"profile={profile}"]
    tags += [f"service={svc}" for svc in services]
    if streams is not None:
        tags.append(f"streams={streams}")
    return tags


@dataclass
class BackupSet:
    name: str
    base: str
    type: str
    profile: str
    time: datetime
    host: str = ""
    parts: dict[str, Snapshot] = field(default_factory=dict)
    services: tuple[str, ...] = ()
    problem: str | None = None
    size: int | None = None
    # A vault of the set that could not be opened: its parts are neither found nor missing.
    unchecked: str | None = None
    # What each vault holds of the set (repository → part → snapshot), once checked.
    vault_parts: dict[str, dict[str, Snapshot]] = field(default_factory=dict)
    # Where each vault's parts are read from, for the repository the set was listed in
    # (its `vaults` map); a vault not mapped is read from itself.
    vault_homes: dict[str, str] = field(default_factory=dict)

    def home(self, vault: str) -> str:
        """The repository that holds a vault's parts of this set, where it was listed."""
        return self.vault_homes.get(vault, vault)

    @property
    def vaults(self) -> list[str]:
        """The services' own repositories this set has parts in (sets/vaults.py)."""
        return self.final.tag_values(VAULT_TAG) if self.final else []

    @property
    def drill(self) -> DrillOutcome:
        """The last drill's outcome: ok, failed or never."""
        snap = self.parts.get(DRILL_PART)
        result = snap.tag(DRILL_RESULT_TAG) if snap else None
        return "ok" if result == "ok" else "failed" if result == "failed" else "never"

    @property
    def drilled(self) -> datetime | None:
        snap = self.parts.get(DRILL_PART)
        return snap.time if snap else None

    @property
    def final(self) -> Snapshot | None:
        return self.parts.get(FILES_PART)

    @property
    def complete(self) -> bool:
        return self.problem is None

    @property
    def status(self) -> str:
        return "complete" if self.problem is None else "incomplete"

    @property
    def id(self) -> str:
        return self.final.short_id if self.final else ""


def _problem(final: Snapshot | None, parts: dict[str, Snapshot]) -> str | None:
    if final is None:
        return "its final part (files and manifest) is missing"
    if final.tag("status") == "incomplete":
        return "some source files could not be read"
    expected = int(final.tag("streams") or 0)
    streams = len([name for name in parts if name != FILES_PART and not name.startswith(
        "logs/")])
    if streams < expected:
        return f"{expected - streams} of {expected} stream part(s) are missing"
    return None


def group_sets(snapshots: Iterable[Snapshot]) -> list[BackupSet]:
    """Snapshots grouped by their `set=` tag, oldest first; untagged ones are ignored."""
    by_name: dict[str, BackupSet] = {}
    for snap in snapshots:
        name = snap.tag("set")
        if name is None or PRODUCT_TAG not in snap.tags:
            continue
        entry = by_name.get(name)
        if entry is None:
            split = split_set_name(name)
            entry = BackupSet(
                name=name,
                base=split[0] if split else name,
                type=snap.tag("type") or "?",
                profile=snap.tag("profile") or "?",
                time=snap.time,
                host=snap.hostname,
            )
            by_name[name] = entry
        part = snap.tag("part") or FILES_PART
        earlier = entry.parts.get(part)
        if part == DRILL_PART and earlier is not None and earlier.time > snap.time:
            continue  # the last drill counts
        if part != DRILL_PART and entry.time > snap.time:
            entry.time = snap.time  # a drill part may be listed before the set's own
        entry.parts[part] = snap
        entry.services = tuple(sorted(set(entry.services) | set(snap.tag_values("service"))))
    for entry in by_name.values():
        entry.problem = _problem(entry.final, entry.parts)
        sizes = [snap.total_bytes for snap in entry.parts.values()]
        if sizes and all(size is not None for size in sizes):
            entry.size = sum(size or 0 for size in sizes)
    return sorted(by_name.values(), key=lambda entry: (entry.time, entry.name))


def parse_timestamp(text: str) -> datetime:
    """ISO 8601; a time without a zone is local time. Returned in UTC."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise UsageError(
            f"not an ISO 8601 time: {text!r} (e.g. 2024-12-24T14:30:00Z, "
            "2024-12-24T14:30:00+01:00, or 2024-12-24 14:30 in local time)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(UTC)


# The order --timestamp prefers types in: the widest set first (a disaster-recovery set
# holds everything a full set holds, plus the profile and the runbook).
TYPE_PREFERENCE = ("disaster-recovery", "full")


@dataclass(frozen=True)
class Selection:
    """The set a user means, and why it is that one (shown in the restore plan)."""

    chosen: BackupSet
    reason: str


def select_set(
    sets: Sequence[BackupSet],
    backup: str | None = None,
    timestamp: datetime | None = None,
) -> BackupSet:
    """The set a user means by --backup and/or --timestamp (see `select`)."""
    return select(sets, backup, timestamp).chosen


def type_rank(set_type: str) -> int:
    """0 for the widest type; every type TYPE_PREFERENCE does not name ranks last."""
    return TYPE_PREFERENCE.index(set_type) if set_type in TYPE_PREFERENCE else len(
        TYPE_PREFERENCE)


def select(
    sets: Sequence[BackupSet],
    backup: str | None = None,
    timestamp: datetime | None = None,
    name: str | None = None,
    set_type: str | None = None,
) -> Selection:
    """The set a user means by --backup and/or --timestamp; only complete sets by default.

    --backup takes a full set name, a set's base name (its latest set), NAME-YYYYMMDD
    (the latest set of NAME made that day, UTC), `latest`, or a set id (a prefix of any
    length of the final snapshot's id, as long as one set has it). --timestamp keeps sets
    at or before it; alone, it takes the latest set of the widest type there
    (disaster-recovery, then full, then any other), unless --name or --type narrows it.
    """
    narrowed = [entry for entry in sets if (name is None or name in (entry.base, entry.name))
                and (set_type is None or entry.type == set_type)]
    if (name or set_type) and not narrowed:
        raise NotFoundError(_nothing_narrowed(sets, name, set_type))
    sets = narrowed
    complete = [entry for entry in sets if entry.complete]
    if timestamp is not None:
        complete = [entry for entry in complete if entry.time <= timestamp]
    narrowing = _narrowing(name, set_type)
    if backup is None or backup == "latest":
        if not complete:
            raise NotFoundError(_nothing_found(sets, backup, timestamp))
        if timestamp is None or backup == "latest" or name or set_type:
            before = f" at or before {timestamp.isoformat()}" if timestamp else ""
            return Selection(complete[-1], f"the latest complete set{narrowing}{before}")
        return _widest(complete, timestamp)
    exact = [entry for entry in sets if entry.name == backup]
    if exact:
        chosen = exact[-1]
        if timestamp is not None and chosen.time > timestamp:
            raise NotFoundError(f"backup {backup} was made after {timestamp.isoformat()}")
        if not chosen.complete:
            raise NotFoundError(f"backup {backup} is incomplete: {chosen.problem}")
        return Selection(chosen, "named by --backup")
    by_base = [entry for entry in complete if entry.base == backup]
    owners = sorted({entry.profile for entry in by_base})
    if len(owners) > 1:  # only when reading a repository without a profile (--repo)
        raise UsageError(f"sets named {backup!r} belong to profiles {', '.join(owners)}: "
                         "give the full set name or a set id (see list-backups)")
    if by_base:
        before = f" at or before {timestamp.isoformat()}" if timestamp else ""
        return Selection(by_base[-1], f"the latest complete set named {backup}{before}")
    by_day = _made_on(complete, backup)
    if by_day:
        return by_day
    if re.fullmatch(r"[0-9a-f]{1,64}", backup):
        by_id = [entry for entry in complete if entry.final and entry.final.id.startswith(backup)]
        if len(by_id) == 1:
            return Selection(by_id[0], f"its id starts with {backup}")
        if len(by_id) > 1:
            shown = ", ".join(f"{e.name} ({e.id})" for e in by_id[:10])
            more = f" and {len(by_id) - 10} more" if len(by_id) > 10 else ""
            raise UsageError(f"set id {backup} is ambiguous: it starts the ids of {shown}"
                             f"{more}; give more of the id")
    raise NotFoundError(_nothing_found(sets, backup, timestamp))


def _made_on(complete: Sequence[BackupSet], backup: str) -> Selection | None:
    """NAME-YYYYMMDD: the latest complete set of NAME made that day (UTC)."""
    match = DAY_PATTERN.match(backup)
    if not match:
        return None
    try:
        day = datetime.strptime(match["day"], DAY_FORMAT).date()
    except ValueError:
        return None
    made = [entry for entry in complete
            if entry.base == match["base"] and entry.time.astimezone(UTC).date() == day]
    if not made:
        return None
    return Selection(made[-1], f"the latest complete set named {match['base']} made on "
                     f"{day.isoformat()} (UTC)")


def _widest(complete: Sequence[BackupSet], timestamp: datetime) -> Selection:
    """The latest set of the widest type among complete sets at or before `timestamp`."""
    rank = min(type_rank(entry.type) for entry in complete)
    chosen = [entry for entry in complete if type_rank(entry.type) == rank][-1]
    latest = complete[-1]
    reason = (f"the latest complete {chosen.type} set at or before {timestamp.isoformat()}")
    if rank < len(TYPE_PREFERENCE):
        reason += f" ({chosen.type} is the widest type there"
        if latest is not chosen:
            reason += f"; {latest.name}, a {latest.type} set, is newer: --type " \
                      f"{latest.type} or --backup {latest.name} takes it"
        reason += ")"
    return Selection(chosen, reason)


def _narrowing(name: str | None, set_type: str | None) -> str:
    parts = ([f" named {name}"] if name else []) + ([f" of type {set_type}"] if set_type else [])
    return "".join(parts)


def _nothing_narrowed(sets: Sequence[BackupSet], name: str | None, set_type: str | None) -> str:
    what = f"no backup{_narrowing(name, set_type)}"
    names = sorted({f"{entry.base} ({entry.type})" for entry in sets})
    return what + (f" (the repository has: {', '.join(names)})" if names else
                   " (the repository has no backups of this profile yet)")


def _nothing_found(
    sets: Sequence[BackupSet], backup: str | None, timestamp: datetime | None
) -> str:
    what = f"no complete backup matches {backup!r}" if backup else "no complete backup"
    if timestamp is not None:
        what += f" at or before {timestamp.isoformat()}"
    recent = [entry.name for entry in sets if entry.complete][-5:]
    if recent:
        what += f" (latest: {', '.join(reversed(recent))}; see strongroom list-backups)"
    else:
        what += " (the repository has no complete backups of this profile yet)"
    return what
