"""Anchors of the audit log off this host: every backup set records the log's head.

A set's manifest holds `"audit": {"seq": N, "sha256": …}`, the last line of the log when
the set was made (seq 0 and 64 zeros for an empty log), and its final snapshot carries
the tag `audit=<seq>-<first 16 hex of the sha256>`, so one `restic snapshots` listing
yields every anchor. A log that is shorter than an anchor, or whose line differs from
one, was truncated, edited or recomputed, whatever `audit.head` says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orchestrator.access import audit
from orchestrator.access.audit import Problem, Report
from orchestrator.engines.base import Snapshot
from orchestrator.errors import StrongroomError
from orchestrator.sets.naming import AUDIT_TAG as TAG_KEY
from orchestrator.sets.naming import FILES_PART, PRODUCT_TAG

if TYPE_CHECKING:
    from orchestrator.profile.schema import Profile
    from orchestrator.sets.session import Session

_TAG_VALUE = re.compile(r"^(?P<seq>0|[1-9][0-9]{0,17})-(?P<hash>[0-9a-f]{16,64})$")


@dataclass(frozen=True)
class Anchor:
    seq: int
    sha256: str  # the whole hash or its first PREFIX hex digits
    set: str = ""

    def matches(self, line: bytes) -> bool:
        return audit.digest(line).startswith(self.sha256)


def parse_tag(value: str, set_name: str = "") -> Anchor | None:
    match = _TAG_VALUE.match(value)
    if match is None:
        return None
    return Anchor(int(match["seq"]), match["hash"], set_name)


def from_snapshots(snapshots: Iterable[Snapshot], profile: str, host: str) -> list[Anchor]:
    """The anchors on the final snapshots of this profile's sets made on this host."""
    found = []
    for snap in snapshots:
        if PRODUCT_TAG not in snap.tags:
            continue
        if (snap.tag("part") or FILES_PART) != FILES_PART or snap.tag("profile") != profile \
                or snap.hostname != host:
            continue
        for value in snap.tag_values(TAG_KEY):
            anchor = parse_tag(value, snap.tag("set") or snap.short_id)
            if anchor is not None:
                found.append(anchor)
    return sorted(found, key=lambda item: (item.seq, item.set))


def check(lines: list[bytes] | None, anchors: list[Anchor]) -> list[Problem]:
    """Problems of the log's lines (None: no log file) against the anchors."""
    held = [anchor for anchor in anchors if anchor.seq > 0]
    if not held:
        return []
    newest = held[-1]
    if not lines:
        what = "missing" if lines is None else "empty"
        return [Problem(newest.seq, f"the log is {what}, but set {newest.set} anchored line "
                                    f"{newest.seq}: the log was deleted or emptied")]
    problems = []
    if newest.seq > len(lines):
        gone = f"line {newest.seq} was" if newest.seq == len(lines) + 1 else \
            f"lines {len(lines) + 1}..{newest.seq} were"
        problems.append(Problem(newest.seq, f"the log ends at line {len(lines)}, but set "
                                            f"{newest.set} anchored line {newest.seq}: {gone} "
                                            "removed (truncated)"))
    seen: set[tuple[int, str]] = set()
    for anchor in held:
        if anchor.seq > len(lines) or (anchor.seq, anchor.sha256) in seen:
            continue
        seen.add((anchor.seq, anchor.sha256))
        if not anchor.matches(lines[anchor.seq - 1]):
            problems.append(Problem(anchor.seq, f"its hash differs from the anchor in set "
                                                f"{anchor.set}: the line was edited, or the "
                                                "chain was recomputed"))
    return problems


def profile_key(profile: Profile) -> bytes | None:
    key_file = profile.audit.key_file
    return audit.read_key(key_file) if key_file is not None else None


def verify(state_dir: Path, key: bytes | None, anchors: list[Anchor] | None) -> Report:
    """The chain, head and hmacs; then, unless `anchors` is None, the anchors."""
    report = audit.verify_chain(state_dir, key)
    if anchors is not None:
        report.problems.extend(check(report.lines, anchors))
        report.anchors = len(anchors)
    return report


def verify_session(session: Session, destination: str | None, use_anchors: bool) -> Report:
    """`strongroom audit verify`: anchors from the repository's sets when it can be read."""
    key = profile_key(session.profile)
    if not use_anchors:
        report = verify(session.state.root, key, None)
        report.notes.append("anchors not checked (--no-anchors)")
        return report
    name, _ = session.profile.repository(destination)  # an unknown name is an error
    try:
        snapshots = session.engine(name)[1].snapshots([PRODUCT_TAG])
    except StrongroomError as exc:
        report = verify(session.state.root, key, None)
        report.notes.append(f"anchors not checked: repository {name!r} cannot be read: "
                            f"{exc.message.splitlines()[0] if exc.message else exc}")
        return report
    anchors = from_snapshots(snapshots, session.profile.profile_name, session.host)
    report = verify(session.state.root, key, anchors)
    report.notes.append(f"{len(anchors)} anchor(s) checked in repository {name!r}")
    return report
