"""backup-containers and backup-vm-snapshot: sets of container and VM disk streams.

Both take the profile's hooks (all of them, one service's, or one VM's) or an item
named on the command line, and make a set of their streams alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hooks import hook_for, parse_config
from hooks.base import DumpPlan
from hooks.vm import safe
from orchestrator.engines.base import ProgressCallback
from orchestrator.errors import UsageError
from orchestrator.models import (
    BackupContainersRequest,
    BackupVmSnapshotRequest,
    CreateBackupRequest,
    CreateBackupResult,
)
from orchestrator.sets.dumps import HookRef, hook_refs, plan_refs
from orchestrator.sets.make import make_set
from orchestrator.sets.session import Session


def backup_containers(
    session: Session, request: BackupContainersRequest,
    on_progress: ProgressCallback | None = None,
) -> CreateBackupResult:
    profile = session.profile
    if request.service is not None and request.service not in profile.services:
        have = ", ".join(profile.services) or "none"
        raise UsageError(f"unknown service {request.service!r} (profile has: {have})")
    services = [request.service] if request.service else list(profile.services)
    declared = [ref for ref in hook_refs(profile, services) if ref.kind == "containers"]
    if request.image or request.volume:
        # Named items use the runtime settings of the service's (or the first) hook.
        entry: dict[str, object] = {"type": "containers", "images": list(request.image),
                                    "volumes": list(request.volume)}
        if declared:
            settings = declared[0].config.model_dump(include={"runtime", "binary", "options",
                                                              "stop", "helper_image"})
            entry.update(settings)
        service = request.service or "containers"
        refs = [HookRef(service, 0, "containers", hook_for("containers"), parse_config(entry))]
    elif declared:
        refs = declared
    else:
        where = f"service {request.service!r}" if request.service else "the profile"
        raise UsageError(f"{where} declares no containers hook; name what to save with "
                         "--image NAME or --volume NAME")
    return _stream_set(session, refs, request.name or "containers", "containers",
                       request.destination, request.verify, on_progress)


def backup_vm_snapshot(
    session: Session, request: BackupVmSnapshotRequest,
    on_progress: ProgressCallback | None = None,
) -> CreateBackupResult:
    profile = session.profile
    if (request.disk is None) == (request.vm is None):
        raise UsageError("say which disks: --disk PATH or --vm NAME (one of them)")
    if request.disk is not None:
        path = Path(request.disk).expanduser().absolute()
        refs = [HookRef("vms", 0, "vm", hook_for("vm"),
                        parse_config({"type": "vm", "disks": [str(path)]}))]
        base = request.name or f"vm-{safe(path.stem)}"
    else:
        vms = [ref for ref in hook_refs(profile, list(profile.services)) if ref.kind == "vm"]
        refs = [ref for ref in vms if _vm_name(ref) == request.vm]
        if not refs:
            have = ", ".join(sorted({_vm_name(ref) for ref in vms})) or "none"
            raise UsageError(f"the profile declares no VM named {request.vm!r} (have: {have})")
        base = request.name or f"vm-{safe(request.vm or '')}"
    return _stream_set(session, refs, base, "vm", request.destination, request.verify,
                       on_progress)


def _vm_name(ref: HookRef) -> str:
    from hooks.vm import VmConfig, vm_name

    assert isinstance(ref.config, VmConfig)
    return vm_name(ref.config)


def _stream_set(
    session: Session, refs: Sequence[HookRef], base: str, set_type: str,
    destination: str | None, verify: bool, on_progress: ProgressCallback | None,
) -> CreateBackupResult:
    def plan() -> list[DumpPlan]:
        return plan_refs(session.profile, refs)

    create = CreateBackupRequest(type="service", name=base, destination=destination,
                                 verify=verify)
    services = sorted({ref.service for ref in refs})
    return make_set(session, create, base, [], services, on_progress, set_type=set_type,
                    plan_dumps=plan)
