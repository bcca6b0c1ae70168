"""A local restic repository's snapshot listing without opening the repository.

Every restic process that opens a repository first derives its key (scrypt, about half
a second by restic's own calibration), so `restic snapshots` costs that much even when
nothing changed. For a repository on a local path the question "which snapshots are
there?" needs no key: a snapshot is the file `snapshots/<id>`, and its id is the
SHA-256 of its encrypted content, so the snapshot behind an id never changes (restic
refuses a file whose content does not hash to its name). This module keeps, in the
state directory, what restic itself printed for each id it has listed. When every
file in `snapshots/` has a known id, the listing is those entries, exactly as restic
would print them now; when any name is new, unknown or not an id, the caller asks
restic, and what it prints is kept for next time.

A listing from restic also proves that the password opens the repository. The kept
one is therefore used only with the password file restic last listed with, unchanged
since (its path, inode, size, mtime and ctime); a password from a command, a variable
or the profile always lists through restic. (Keeping a digest of the password itself
would hand anyone who reads the state directory a check far cheaper than restic's.)

    <state>/cache/listings/<digest of the path>.json
        {"repository": path, "config": sha256 of its config file and key names,
         "password": the password file's identity,
         "snapshots": {id: the item restic printed}}

The config file is written once by `restic init`, so a repository made anew at the
same path starts an empty record; so does any change among its key files.

A backup this host makes is recorded too (`made_item`): restic 0.14 reports only the
new snapshot's short id, but the one file in `snapshots/` with that prefix is its
id, and the fields strongroom reads are the ones it gave restic (host, time, tags,
paths made absolute, cleaned and sorted as restic stores them). So list-backups after
create-backup needs no restic process either. integration/test_opens.py checks the
recorded entries against restic's own listing.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.run.tempfiles import replace_quietly

SNAPSHOT_ID = re.compile(r"[0-9a-f]{64}")
Item = dict[str, Any]


class RepositoryListing:
    """The kept listing of one local repository (its path as restic is given it)."""

    def __init__(self, repository: Path, state_dir: Path, password: str) -> None:
        self.repository = Path(os.path.realpath(repository))
        self.password = password  # PasswordSource.file_identity
        digest = hashlib.sha256(os.fsencode(self.repository)).hexdigest()[:32]
        self.record = state_dir / "cache" / "listings" / f"{digest}.json"

    def current(self) -> list[Item] | None:
        """restic's items for every snapshot in the repository now, oldest first; None
        when one of them is not known here (or the repository cannot be read)."""
        ids = self._ids()
        config = self._config()
        if ids is None or config is None:
            return None
        known = self._known(config, self.password)
        if not ids.issubset(known):
            return None
        return sorted((known[snapshot_id] for snapshot_id in ids),
                      key=lambda item: str(item.get("time", "")))

    def remember(self, items: Iterable[Item]) -> None:
        """Keep what restic printed, for the ids that are in the repository now; ids no
        longer there are dropped. A state directory that cannot take it only means
        asking restic again."""
        self._remember(items, self._ids())

    def _remember(self, items: Iterable[Item], ids: set[str] | None) -> None:
        config = self._config()
        if ids is None or config is None:
            return
        kept = {key: value for key, value in self._known(config, None).items() if key in ids}
        for item in items:
            snapshot_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(snapshot_id, str) and snapshot_id in ids:
                kept[snapshot_id] = item
        data = {"repository": str(self.repository), "config": config,
                "password": self.password, "snapshots": kept}
        replace_quietly(self.record, json.dumps(data, separators=(",", ":")).encode())

    def record_made(self, short_id: str, item: Item) -> None:
        """A snapshot this host's restic just saved: `item` (made_item) under the one id
        in the repository that begins with `short_id`; nothing when that is not one."""
        ids = self._ids()
        found = [snapshot_id for snapshot_id in ids or () if snapshot_id.startswith(short_id)]
        if len(short_id) >= 8 and len(found) == 1:
            self._remember([{**item, "id": found[0], "short_id": found[0][:8]}], ids)

    def _ids(self) -> set[str] | None:
        """The snapshot ids in the repository; None if any name there is not one (a
        file being written, or something restic itself would have to judge)."""
        try:
            names = os.listdir(self.repository / "snapshots")
        except OSError:
            return None
        if not all(SNAPSHOT_ID.fullmatch(name) for name in names):
            return None
        return set(names)

    def _config(self) -> str | None:
        """What says which repository this is and which keys open it: its config file
        and the names of its key files (a key added or removed asks restic again)."""
        try:
            digest = hashlib.sha256((self.repository / "config").read_bytes())
            for name in sorted(os.listdir(self.repository / "keys")):
                digest.update(b"\0" + os.fsencode(name))
        except OSError:
            return None
        return digest.hexdigest()

    def _known(self, config: str, password: str | None) -> dict[str, Item]:
        """The kept items, if the record is this repository's (and, with `password`,
        was last listed with that password file)."""
        try:
            data = json.loads(self.record.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("config") != config \
                or data.get("repository") != str(self.repository) \
                or (password is not None and data.get("password") != password):
            return {}
        snapshots = data.get("snapshots")
        if not isinstance(snapshots, dict):
            return {}
        return {key: value for key, value in snapshots.items()
                if isinstance(value, dict) and value.get("id") == key}


def made_item(*, host: str, time: datetime, tags: Sequence[str],
              paths: Sequence[str]) -> Item | None:
    """The fields strongroom reads of a snapshot restic lists, for a backup given these
    (the id is added by record_made); None when restic's own could differ (a path given
    twice)."""
    stored = sorted(posixpath.normpath(os.path.abspath(path)) for path in paths)
    if len(set(stored)) != len(stored):
        return None
    item: Item = {"time": time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "hostname": host, "paths": stored}
    if tags:
        item["tags"] = list(tags)
    return item
