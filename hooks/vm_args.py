"""argv for VM disks: qemu-img, qemu-nbd through nbdcopy, virsh and VBoxManage. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SNAPSHOT_PREFIX = "strongroom-"


@dataclass(frozen=True)
class Tools:
    qemu_img: str = "qemu-img"
    qemu_nbd: str = "qemu-nbd"
    nbdcopy: str = "nbdcopy"
    virsh: str = "virsh"
    vboxmanage: str = "VBoxManage"


@dataclass(frozen=True)
class DiskInfo:
    format: str
    virtual_size: int
    snapshots: tuple[str, ...]


def snapshot_name(set_name: str) -> str:
    return SNAPSHOT_PREFIX + set_name


def info_argv(tools: Tools, disk: Path) -> list[str]:
    # --force-share: reading the header works while a VM has the disk open.
    return [tools.qemu_img, "info", "--output=json", "--force-share", str(disk)]


def parse_info(text: str) -> DiskInfo:
    data = json.loads(text)
    return DiskInfo(str(data["format"]), int(data["virtual-size"]),
                    tuple(str(item["name"]) for item in data.get("snapshots", [])))


def snapshot_create_argv(tools: Tools, disk: Path, name: str) -> list[str]:
    return [tools.qemu_img, "snapshot", "-c", name, str(disk)]


def snapshot_delete_argv(tools: Tools, disk: Path, name: str) -> list[str]:
    return [tools.qemu_img, "snapshot", "-d", name, str(disk)]


def _image_opts(disk: Path, fmt: str) -> str:
    path = str(disk).replace(",", ",,")
    return f"driver={fmt},file.driver=file,file.filename={path},force-share=on"


def read_argv(tools: Tools, disk: Path, fmt: str, snapshot: str | None = None,
              shared: bool = False) -> list[str]:
    """nbdcopy streaming the disk (or its internal snapshot) as raw bytes to stdout.
    `shared` reads a disk another process holds open (a backing file under an overlay)."""
    server = [tools.qemu_nbd, "-r"]
    if snapshot is not None:
        server += ["-l", f"snapshot.name={snapshot}"]
    if shared:
        server += ["--image-opts", _image_opts(disk, fmt)]
    else:
        server += ["-f", fmt, str(disk)]
    return [tools.nbdcopy, "--", "[", *server, "]", "-"]


def create_argv(tools: Tools, disk: Path, fmt: str, virtual_size: int) -> list[str]:
    return [tools.qemu_img, "create", "-q", "-f", fmt, str(disk), str(virtual_size)]


def write_argv(tools: Tools, disk: Path, fmt: str) -> list[str]:
    """nbdcopy writing raw bytes from stdin into a disk; zeros stay unallocated."""
    return [tools.nbdcopy, "--", "-", "[", tools.qemu_nbd, "-f", fmt, "--discard=unmap",
            "--detect-zeroes=unmap", str(disk), "]"]


# libvirt: a running domain gets an external disk-only snapshot; its disks' writes go to
# overlays meanwhile, the original files are read, then the overlays are committed back.
def domstate_argv(tools: Tools, domain: str) -> list[str]:
    return [tools.virsh, "domstate", domain]


def domblklist_argv(tools: Tools, domain: str) -> list[str]:
    return [tools.virsh, "domblklist", domain, "--details"]


def parse_domblklist(text: str) -> dict[str, str]:
    """{source path: target device} for the domain's file-backed disks."""
    found = {}
    for line in text.splitlines():
        fields = line.split(None, 3)
        if len(fields) == 4 and fields[0] == "file" and fields[1] == "disk":
            found[fields[3].strip()] = fields[2]
    return found


def overlay_path(disk: Path, name: str) -> Path:
    return disk.with_name(f"{disk.name}.{name}.overlay")


def external_snapshot_argv(tools: Tools, domain: str, name: str,
                           devices: dict[str, Path | None]) -> list[str]:
    """devices: {target device: its overlay, or None to leave it out}, one --diskspec each."""
    argv = [tools.virsh, "snapshot-create-as", "--domain", domain, "--name", name,
            "--disk-only", "--atomic", "--no-metadata"]
    for device, overlay in devices.items():
        spec = f"snapshot=external,file={overlay}" if overlay is not None else "snapshot=no"
        argv += ["--diskspec", f"{device},{spec}"]
    return argv


def blockcommit_argv(tools: Tools, domain: str, device: str) -> list[str]:
    return [tools.virsh, "blockcommit", domain, device, "--active", "--pivot", "--wait"]


# VirtualBox: a snapshot freezes the base medium (writes go to a differencing image),
# which qemu-nbd reads in its own format (vdi, vmdk, vhd); the snapshot is deleted after.
def vbox_take_argv(tools: Tools, vm: str, name: str) -> list[str]:
    return [tools.vboxmanage, "snapshot", vm, "take", name, "--live"]


def vbox_delete_argv(tools: Tools, vm: str, name: str) -> list[str]:
    return [tools.vboxmanage, "snapshot", vm, "delete", name]
