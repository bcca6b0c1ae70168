"""`backup-database --base`: `pg_basebackup --format=tar --wal-method=none` streamed into
the repository, then the part that records its WAL range. The range is read from the
stream as it passes (the tar's backup_label and the end of its backup_manifest), so the
data never touches the disk."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from hooks.postgresql import child_env
from orchestrator import run
from orchestrator.engines.base import ProducerFailed
from orchestrator.errors import StrongroomError, UsageError
from orchestrator.models import BackupDatabaseRequest
from orchestrator.models.pitr import BaseBackupResult
from orchestrator.pitr.archive import (
    BASE_INFO_KIND,
    BASE_KIND,
    base_filename,
    family_tags,
    stamp,
)
from orchestrator.pitr.pgargs import basebackup_argv
from orchestrator.pitr.service import context_for, continuous_service
from orchestrator.pitr.setup import wal_segment_size
from orchestrator.pitr.walnames import lsn_value, segment_of
from orchestrator.sets.naming import set_name
from orchestrator.sets.session import Session

BLOCK = 512
LABEL = "backup_label"
MANIFEST = "backup_manifest"
MANIFEST_TAIL = 64 * 1024


class BaseBackupError(StrongroomError):
    pass


class LabelTap:
    """Follows a tar stream's headers and keeps backup_label and the tail of
    backup_manifest; everything else is skipped without being held."""

    def __init__(self) -> None:
        self.header = bytearray()
        self.member: str | None = None
        self.remaining = 0  # data bytes left in the current member
        self.padding = 0
        self.label = bytearray()
        self.manifest_tail = bytearray()
        self.total = 0

    def update(self, data: memoryview) -> None:
        self.total += len(data)
        view = data
        while len(view):
            if self.remaining:
                take = min(self.remaining, len(view))
                self._keep(view[:take])
                self.remaining -= take
                view = view[take:]
                continue
            if self.padding:
                take = min(self.padding, len(view))
                self.padding -= take
                view = view[take:]
                continue
            take = min(BLOCK - len(self.header), len(view))
            self.header += view[:take]
            view = view[take:]
            if len(self.header) == BLOCK:
                self._start_member(bytes(self.header))
                self.header.clear()

    def _keep(self, chunk: memoryview) -> None:
        if self.member == LABEL and len(self.label) < 1 << 16:
            self.label += chunk
        elif self.member == MANIFEST:
            self.manifest_tail += chunk
            del self.manifest_tail[:-MANIFEST_TAIL]

    def _start_member(self, header: bytes) -> None:
        if not header.strip(b"\0"):
            self.member = None
            return
        name = header[:100].split(b"\0", 1)[0].decode("utf-8", "replace")
        size_field = header[124:136]
        if size_field[0] & 0x80:  # base-256 for members over 8 GiB
            size = int.from_bytes(size_field[1:], "big")
        else:
            size = int(size_field.split(b"\0", 1)[0].strip() or b"0", 8)
        self.member = name
        self.remaining = size
        self.padding = (-size) % BLOCK


def label_fields(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(": ")
        fields[key.strip()] = value.strip()
    return fields


def wal_range(tap: LabelTap) -> tuple[int, str, str]:
    """(timeline, start LSN, stop LSN) from what the tap saw."""
    fields = label_fields(tap.label.decode("utf-8", "replace"))
    start = re.match(r"([0-9A-F]+/[0-9A-F]+)", fields.get("START WAL LOCATION", ""))
    ranges = re.findall(rb'"Timeline":\s*(\d+),\s*"Start-LSN":\s*"([0-9A-F/]+)",\s*'
                        rb'"End-LSN":\s*"([0-9A-F/]+)"', bytes(tap.manifest_tail))
    if not start or not fields.get("START TIMELINE") or not ranges:
        raise BaseBackupError("pg_basebackup's stream held no backup_label or no WAL range in "
                              "its backup_manifest (is the server PostgreSQL 13 or newer?)")
    timeline = int(fields["START TIMELINE"])
    return timeline, start[1], ranges[-1][2].decode()


def base_backup(session: Session, request: BackupDatabaseRequest) -> BaseBackupResult:
    if not request.service:
        raise UsageError("--base needs --service (a service with a continuous postgresql "
                         "hook)")
    others = [option for option, value in (
        ("--database", request.database), ("--type", request.type), ("--host", request.host),
        ("--port", request.port), ("--username", request.username),
        ("--password-file", request.password_file), ("--path", request.path)) if value]
    if others:
        raise UsageError(f"--base backs up the service's whole cluster as its hook says: drop "
                         f"{', '.join(others)}")
    service = continuous_service(session.profile, request.service)
    repo_name, engine = session.engine(request.destination)
    profile = session.profile.profile_name
    started = datetime.now(UTC)
    name = set_name(request.name or f"{request.service}-base", started)
    env = child_env(service.config, context_for(session.profile))
    producer = run.Command(tuple(basebackup_argv(service.config, f"strongroom {name}")), env)
    segment_size = wal_segment_size(session.profile, service)
    tap = LabelTap()
    tags = [*family_tags(profile, request.service, BASE_KIND), f"base={name}"]
    try:
        summary = engine.backup_stream(producer, base_filename(request.service, name, "tar"),
                                       tags=tags, time=started, host=session.host, tap=tap)
    except ProducerFailed as exc:
        if exc.partial_snapshot:
            engine.forget([exc.partial_snapshot])
        raise BaseBackupError(f"pg_basebackup failed: {exc.stderr_tail.strip()[-400:]}"
                              ) from None
    timeline, start_lsn, stop_lsn = wal_range(tap)
    start_wal = segment_of(timeline, lsn_value(start_lsn), segment_size)
    stop_wal = segment_of(timeline, lsn_value(stop_lsn), segment_size)
    finished = datetime.now(UTC)
    info = {"base": name, "timeline": timeline, "start_lsn": start_lsn, "stop_lsn": stop_lsn,
            "start_wal": start_wal, "stop_wal": stop_wal, "started": started.isoformat(),
            "finished": finished.isoformat(), "segment_size": segment_size,
            "data_snapshot": summary.snapshot_id}
    info_tags = [*family_tags(profile, request.service, BASE_INFO_KIND), f"base={name}",
                 f"timeline={timeline}", f"start-lsn={start_lsn}", f"stop-lsn={stop_lsn}",
                 f"start-wal={start_wal}", f"stop-wal={stop_wal}", f"started={stamp(started)}",
                 f"finished={stamp(finished)}", f"segsize={segment_size}"]
    pending = engine.start_stream_backup(base_filename(request.service, name, "json"),
                                         tags=info_tags, time=started, host=session.host)
    pending.finish(json.dumps(info, indent=2).encode())
    return BaseBackupResult(base=name, repository=repo_name, snapshot_id=summary.snapshot_id,
                            timeline=timeline, start_lsn=start_lsn, stop_lsn=stop_lsn,
                            start_wal=start_wal, stop_wal=stop_wal, bytes=tap.total)
