"""The state directory: staged manifests and logs, the local record of runs, caches.

    <state>/sets/<base>/metadata.json     manifest of the latest run of that name
    <state>/sets/<base>/logs/backup.log   (both go into the set's final snapshot)
    <state>/runs/<set>.json               local record: running / complete / failed
    <state>/drills/<set>.json             the last drill of that set, and its repository
    <state>/cache/restic/                 restic's cache (it keys it per repository)
    <state>/cache/listings/               local repositories' snapshot listings
                                          (engines/restic_listing.py)

The staged manifest sits at the same path for every run of one name, so restic
finds the previous snapshot of the same paths as parent and skips unchanged files.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from orchestrator.profile.schema import Profile
from orchestrator.run.tempfiles import write_atomic


def state_dir(profile: Profile, environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("STRONGROOM_STATE_DIR"):
        return Path(env["STRONGROOM_STATE_DIR"]).expanduser().absolute()
    if profile.state_dir is not None:
        return profile.state_dir
    if os.geteuid() == 0:
        return Path("/var/lib/strongroom")
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "strongroom"


@dataclass
class RunRecord:
    """What this host knows of a run, so an interrupted one can be shown as incomplete."""

    set: str
    repository: str
    url: str
    profile: str
    type: str
    started: str
    status: str = "running"
    error: str | None = None
    snapshot_id: str | None = None
    bytes: int | None = None
    services: list[str] = field(default_factory=list)


class StateDir:
    def __init__(self, root: Path) -> None:
        self.root = root

    def staging(self, base: str) -> Path:
        return self.root / "sets" / base

    def claim_run(self, set_name: str) -> bool:
        """Reserve a set name on this host; False when a run of that name exists already."""
        folder = self.root / "runs"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            os.close(os.open(folder / f"{set_name}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             0o600))
        except FileExistsError:
            return False
        return True

    def save_run(self, record: RunRecord) -> None:
        path = self.root / "runs" / f"{record.set}.json"
        write_atomic(path, json.dumps(asdict(record), indent=2).encode())

    def mark_pruned(self, repository: str, url: str, moment: datetime) -> None:
        record = {"url": url, "time": moment.isoformat()}
        write_atomic(self.root / "pruned" / f"{repository}.json", json.dumps(record).encode())

    def last_pruned(self, repository: str, url: str) -> datetime | None:
        """When this host last pruned the repository (None: never, or it was another URL)."""
        try:
            record = json.loads((self.root / "pruned" / f"{repository}.json").read_text())
            return datetime.fromisoformat(record["time"]) if record["url"] == url else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save_drill(self, set_name: str, url: str, record: bytes) -> None:
        data = {"url": url, "record": json.loads(record)}
        write_atomic(self.root / "drills" / f"{set_name}.json", json.dumps(data).encode())

    def drills(self, url: str | None = None) -> list[Any]:
        """The drill records kept for a repository, or for every repository when `url`
        is None (as parsed JSON; unreadable ones left out)."""
        folder = self.root / "drills"
        found: list[Any] = []
        if not folder.is_dir():
            return found
        for path in sorted(folder.glob("*.json")):
            try:
                data = json.loads(path.read_text())
            except (ValueError, OSError):
                continue
            if isinstance(data, dict) and (url is None or data.get("url") == url):
                found.append(data.get("record"))
        return found

    def runs(self, url: str, profile: str) -> list[RunRecord]:
        folder = self.root / "runs"
        records: list[RunRecord] = []
        if not folder.is_dir():
            return records
        for path in sorted(folder.glob("*.json")):
            try:
                data: dict[str, Any] = json.loads(path.read_text())
                record = RunRecord(**data)
            except (ValueError, TypeError, OSError):  # a claim not yet written, or damaged
                continue
            if record.url == url and record.profile == profile:
                records.append(record)
        return records
