"""The set manifest, metadata.json: what a set holds and where each piece belongs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.engines.base import Engine, Snapshot
from orchestrator.errors import StrongroomError
from orchestrator.sets.layout import Kind, SourcePath
from orchestrator.sets.naming import MANIFEST_TAG

MANIFEST_FILE = "metadata.json"
LOG_FILE = "logs/backup.log"
VERIFICATION_LOG = "logs/verification.log"  # a part of its own, stored by verify-backup
# A disaster-recovery set's runbook and host inventory (sets/runbook.py, inventory.py).
RECOVERY_FILE = "strongroom/RECOVERY.md"
INVENTORY_FILE = "strongroom/inventory.json"


class ManifestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ManifestPath(ManifestModel):
    source: str
    logical: str
    kind: Kind
    owner: str
    excludes: list[str] = []
    repository: str | None = None  # a service's own repository (vault); None: the set's own

    def as_source(self) -> SourcePath:
        return SourcePath(self.source, self.logical, self.kind, self.owner, tuple(self.excludes))


class ManifestStream(ManifestModel):
    """A dump stored as its own snapshot; digest is `algorithm:hex` of the exact stream."""

    part: str
    logical: str
    snapshot_id: str
    bytes: int
    digest: str | None = None
    hook: str
    service: str
    index: int = 0
    database: str
    format: str
    # What a hook records beyond the stream itself, e.g. a disk's format and virtual size.
    details: dict[str, str | int] = {}
    repository: str | None = None  # a service's own repository (vault); None: the set's own


class ManifestAudit(ManifestModel):
    """The audit log's last line when the set was made (seq 0: the log was empty)."""

    seq: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class ManifestVault(ManifestModel):
    """A service's own repository and the part that holds the set's files there (its
    streams are listed among the manifest's streams, each naming the repository)."""

    repository: str
    url: str
    services: list[str]
    snapshot_id: str
    files: int
    bytes: int


class Manifest(ManifestModel):
    format: Literal[1] = 1
    set: str
    name: str
    type: str
    profile: str
    host: str
    started: datetime
    services: list[str]
    include_data: bool
    compress: bool
    paths: list[ManifestPath]
    streams: list[ManifestStream] = []
    tools: dict[str, str] = {}
    log: list[str] = []  # the run's log, for sets of dumps alone (no logs/backup.log file)
    audit: ManifestAudit | None = None  # absent in sets made before anchors existed
    vaults: list[ManifestVault] = []  # the services' own repositories the set spans

    def in_vault(self, repository: str | None) -> Manifest:
        """The manifest narrowed to the parts in one repository (None: the set's own)."""
        return self.model_copy(update={
            "paths": [p for p in self.paths if p.repository == repository],
            "streams": [s for s in self.streams if s.repository == repository]})

    def to_bytes(self) -> bytes:
        # A set within one repository keeps the manifest it always had: no vault fields.
        exclude: dict[str, Any] = {
            "paths": {i: {"repository"} for i, p in enumerate(self.paths) if not p.repository},
            "streams": {i: {"repository"} for i, s in enumerate(self.streams)
                        if not s.repository}}
        if not self.vaults:
            exclude["vaults"] = True
        return (self.model_dump_json(indent=2, exclude=exclude) + "\n").encode()

    def sources(self) -> list[SourcePath]:
        return [item.as_source() for item in self.paths]

    def located(self, parts: Mapping[str, Snapshot]) -> Manifest:
        """The manifest with each stream's snapshot id as it is in this repository: a set
        copied by backup-sync keeps its manifest, but its parts get new snapshot ids."""
        streams = []
        for stream in self.streams:
            here = parts.get(stream.part) if stream.repository is None else None
            if here is not None and not here.id.startswith(stream.snapshot_id):
                stream = stream.model_copy(update={"snapshot_id": here.id})
            streams.append(stream)
        return self.model_copy(update={"streams": streams})

    def missing_streams(self, stored_ids: Iterable[str]) -> list[ManifestStream]:
        """The stream parts whose snapshot is not among `stored_ids` (full or short ids)."""
        present = set(stored_ids)
        return [s for s in self.streams if s.snapshot_id not in present
                and not any(full.startswith(s.snapshot_id) for full in present)]


def paths_from(sources: list[SourcePath], repository: str | None = None) -> list[ManifestPath]:
    return [
        ManifestPath(
            source=item.source, logical=item.logical, kind=item.kind, owner=item.owner,
            excludes=list(item.excludes), repository=repository,
        )
        for item in sources
    ]


def manifest_dir_in(final: Snapshot, base: str) -> str:
    """The staged manifest folder among the final snapshot's paths."""
    for path in final.paths:
        if path.rstrip("/").endswith(f"/sets/{base}"):
            return path.rstrip("/")
        if path.endswith(f"/sets/{base}/{MANIFEST_FILE}"):  # a set of dumps alone
            return path[: -len(MANIFEST_FILE) - 1]
    raise StrongroomError(f"snapshot {final.short_id} holds no strongroom manifest")


def read_manifest(engine: Engine, final: Snapshot, base: str,
                  staged: Path | None = None) -> Manifest:
    """The set's manifest: the `staged` copy when its sha256 is the one the final
    snapshot's tags record, else read from the repository."""
    data = staged_copy(final, staged)
    if data is None:
        data = engine.dump(final.id, f"{manifest_dir_in(final, base)}/{MANIFEST_FILE}")
    try:
        return Manifest.model_validate(json.loads(data))
    except (ValueError, ValidationError) as exc:
        raise StrongroomError(
            f"the manifest of snapshot {final.short_id} cannot be read: {exc}"
        ) from None


def staged_copy(final: Snapshot, staged: Path | None) -> bytes | None:
    """The bytes of `staged` when they are the manifest the final snapshot records."""
    recorded = final.tag(MANIFEST_TAG)
    if staged is None or recorded is None:
        return None
    try:
        data = staged.read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == recorded else None
