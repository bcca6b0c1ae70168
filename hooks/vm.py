"""VM disks, streamed as raw images from a consistent point in time.

A qcow2 disk not in use gets an internal snapshot that the dump reads and that is
deleted afterwards (or kept, replacing the previous one, with keep_snapshot). A
running libvirt domain gets an external disk-only snapshot: the guest writes to an
overlay while the original file is read, then the overlay is committed back. A
VirtualBox VM gets a snapshot that freezes its base medium. Raw streams deduplicate
across days, and the zeros of unused space compress away. Restore writes the raw
stream into a new disk of the original format beside the target and renames it into
place, so an existing disk is replaced whole (with force) or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import Field

from hooks.base import (
    Command,
    DumpPlan,
    HookContext,
    HookError,
    HookModel,
    Prepare,
    PreparedDump,
    RestorePlanInput,
    RestoreTarget,
    file_name,
    finish_staged,
    output_of,
    staging_path,
)
from hooks.vm_args import (
    SNAPSHOT_PREFIX,
    Tools,
    blockcommit_argv,
    create_argv,
    domblklist_argv,
    domstate_argv,
    external_snapshot_argv,
    info_argv,
    overlay_path,
    parse_domblklist,
    parse_info,
    read_argv,
    snapshot_create_argv,
    snapshot_delete_argv,
    snapshot_name,
    vbox_delete_argv,
    vbox_take_argv,
    write_argv,
)
from orchestrator import run

log = logging.getLogger("strongroom")
# Formats a restored disk may be created in (the manifest says which; it is not trusted).
DISK_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "vhdx", "vpc", "qed")
DiskFormat = Literal["auto", "qcow2", "raw", "vdi", "vmdk", "vpc", "vhdx"]


class VmConfig(HookModel):
    type: Literal["vm"]
    name: str | None = Field(default=None, description="default: the first disk's name")
    disks: list[Path] = Field(min_length=1)
    format: DiskFormat = "auto"
    keep_snapshot: bool = Field(default=False, description="keep the newest internal snapshot")
    domain: str | None = Field(default=None, description="libvirt domain using the disks")
    virtualbox_vm: str | None = Field(default=None, description="VirtualBox VM using the disks")
    qemu_img: str = "qemu-img"
    qemu_nbd: str = "qemu-nbd"
    nbdcopy: str = "nbdcopy"
    virsh: str = "virsh"
    vboxmanage: str = "VBoxManage"

    def tools(self) -> Tools:
        return Tools(self.qemu_img, self.qemu_nbd, self.nbdcopy, self.virsh, self.vboxmanage)


def vm_name(config: VmConfig) -> str:
    return config.name or config.disks[0].stem


def safe(value: str) -> str:
    return file_name(value, "disk")


def disk_logicals(vm: str, disks: list[Path]) -> list[str]:
    taken: set[str] = set()
    result = []
    for disk in disks:
        base = candidate = safe(disk.stem)
        counter = 2
        while candidate in taken:
            candidate, counter = f"{base}-{counter}", counter + 1
        taken.add(candidate)
        result.append(f"infrastructure/vm-snapshots/{safe(vm)}/{candidate}.raw")
    return result


def _run(argv: list[str], what: str) -> str:
    try:
        return output_of(argv, what)
    except HookError as exc:
        if "lock" not in exc.message:
            raise
        raise HookError(f"{exc.message}\n  the disk is in use: stop the VM, or name its "
                        "libvirt domain (domain = …) so that an external snapshot is taken"
                        ) from None


class VmHook:
    config_model = VmConfig

    def describe(self, config: HookModel) -> str:
        assert isinstance(config, VmConfig)
        return f"vm {vm_name(config)} ({', '.join(str(d) for d in config.disks)})"

    def check(self, config: HookModel, ctx: HookContext) -> None:
        assert isinstance(config, VmConfig)
        tools = config.tools()
        for program in (tools.qemu_img, tools.qemu_nbd, tools.nbdcopy):
            run.which(program)
        for disk in config.disks:
            if not ctx.path(disk).is_file():
                raise HookError(f"VM disk {ctx.path(disk)} does not exist")

    def plan_dumps(self, config: HookModel, ctx: HookContext, service: str, index: int,
                   schema_only: bool) -> list[DumpPlan]:
        assert isinstance(config, VmConfig)
        if schema_only:
            return []
        tools, vm = config.tools(), vm_name(config)
        plans = []
        for disk, logical in zip(config.disks, disk_logicals(vm, config.disks), strict=True):
            path = ctx.path(disk)
            info = parse_info(_run(info_argv(tools, path), f"cannot read VM disk {path}"))
            fmt = info.format if config.format == "auto" else config.format
            details: dict[str, str | int] = {"vm": vm, "source_format": fmt,
                                             "virtual_size": info.virtual_size}
            plans.append(DumpPlan("vm", service, index, str(path), logical, "raw",
                                  Command(tuple(read_argv(tools, path, fmt))), details,
                                  prepare=_consistent(config, path, fmt)))
        return plans

    def inspect_target(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> RestoreTarget:
        exists = Path(plan.target).exists()
        return RestoreTarget(plan.target, exists=exists, empty=not exists,
                             conflict=f"VM disk {plan.target} exists")

    def restore(self, config: HookModel, ctx: HookContext, plan: RestorePlanInput) -> Command:
        assert isinstance(config, VmConfig)
        size = plan.details.get("virtual_size")
        fmt = str(plan.details.get("source_format", "raw"))
        if not isinstance(size, int) or size < 0:
            raise HookError(f"{plan.logical}: the manifest records no virtual size")
        if fmt not in DISK_FORMATS:
            raise HookError(f"{plan.logical}: the manifest records the disk format {fmt!r}, "
                            f"not one of {', '.join(DISK_FORMATS)}")
        staging = staging_path(Path(plan.target))
        tools = config.tools()
        _run(create_argv(tools, staging, fmt, size), f"cannot create disk {staging}")
        return Command(tuple(write_argv(tools, staging, fmt)))

    def finish_restore(self, plan: RestorePlanInput, succeeded: bool) -> None:
        finish_staged(Path(plan.target), succeeded)

    def read_back_argv(self, config: HookModel, disk: Path, fmt: str) -> list[str]:
        """What streams a restored disk as raw bytes, as its dump did: a drill digests it."""
        assert isinstance(config, VmConfig)
        return read_argv(config.tools(), disk, fmt)

    def untrusted_risk(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> str | None:
        return None  # qemu-img writes the raw stream as disk data


def _consistent(config: VmConfig, disk: Path, fmt: str) -> Prepare:
    @contextmanager
    def prepare(set_name: str) -> Iterator[PreparedDump]:
        name = snapshot_name(set_name)
        if config.domain and _domain_running(config):
            flow = _libvirt_snapshot(config, disk, fmt, name)
        elif config.virtualbox_vm:
            flow = _virtualbox_snapshot(config, disk, fmt, name)
        elif fmt == "qcow2":
            flow = _internal_snapshot(config, disk, name)
        else:
            flow = _as_is(config, disk, fmt)
        with flow as prepared:
            yield prepared

    return prepare


def _domain_running(config: VmConfig) -> bool:
    assert config.domain is not None
    try:
        run.which(config.virsh)
    except run.MissingBinaryError:
        return False
    state = _run(domstate_argv(config.tools(), config.domain),
                 f"cannot ask libvirt about domain {config.domain}")
    return state.strip() == "running"


@contextmanager
def _as_is(config: VmConfig, disk: Path, fmt: str) -> Iterator[PreparedDump]:
    log.info("%s (%s) has no snapshots: read as it is; keep its VM stopped", disk, fmt)
    yield PreparedDump(Command(tuple(read_argv(config.tools(), disk, fmt))),
                       {"consistency": "none"})


@contextmanager
def _internal_snapshot(config: VmConfig, disk: Path, name: str) -> Iterator[PreparedDump]:
    tools = config.tools()
    _run(snapshot_create_argv(tools, disk, name), f"cannot snapshot VM disk {disk}")
    kept = False
    try:
        yield PreparedDump(Command(tuple(read_argv(tools, disk, "qcow2", snapshot=name))),
                           {"consistency": "internal-snapshot", "snapshot": name})
        kept = config.keep_snapshot
    finally:
        if kept:
            older = [s for s in parse_info(_run(info_argv(tools, disk), f"cannot read {disk}"))
                     .snapshots if s.startswith(SNAPSHOT_PREFIX) and s != name]
        else:
            older = [name]
        for snapshot in older:
            _run(snapshot_delete_argv(tools, disk, snapshot),
                 f"cannot delete snapshot {snapshot} of {disk}")


@contextmanager
def _libvirt_snapshot(config: VmConfig, disk: Path, fmt: str,
                      name: str) -> Iterator[PreparedDump]:
    tools, domain = config.tools(), str(config.domain)
    attached = parse_domblklist(_run(domblklist_argv(tools, domain),
                                     f"cannot list the disks of domain {domain}"))
    if str(disk) not in attached:
        raise HookError(f"disk {disk} is not attached to libvirt domain {domain}")
    device, overlay = attached[str(disk)], overlay_path(disk, name)
    devices = {dev: (overlay if dev == device else None) for dev in attached.values()}
    _run(external_snapshot_argv(tools, domain, name, devices),
         f"cannot take an external snapshot of domain {domain}")
    try:
        yield PreparedDump(Command(tuple(read_argv(tools, disk, fmt, shared=True))),
                           {"consistency": "libvirt-external-snapshot", "snapshot": name})
    finally:
        try:
            _run(blockcommit_argv(tools, domain, device),
                 f"cannot commit {overlay} back into {disk}")
        except HookError as exc:
            raise HookError(f"{exc.message}\n  domain {domain} still writes to {overlay}: "
                            f"commit it with virsh blockcommit {domain} {device} --active "
                            "--pivot") from None
        overlay.unlink(missing_ok=True)


@contextmanager
def _virtualbox_snapshot(config: VmConfig, disk: Path, fmt: str,
                         name: str) -> Iterator[PreparedDump]:
    tools, vm = config.tools(), str(config.virtualbox_vm)
    _run(vbox_take_argv(tools, vm, name), f"cannot snapshot VirtualBox VM {vm}")
    try:
        yield PreparedDump(Command(tuple(read_argv(tools, disk, fmt, shared=True))),
                           {"consistency": "virtualbox-snapshot", "snapshot": name})
    finally:
        if not config.keep_snapshot:
            _run(vbox_delete_argv(tools, vm, name), f"cannot delete snapshot {name} of {vm}")
