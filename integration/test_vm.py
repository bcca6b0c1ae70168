"""VM disks with the real qemu-img, qemu-io, qemu-nbd and nbdcopy.

libvirt and VirtualBox cannot run here: their commands are stand-in scripts that
record their argv (the contract), while the disk itself is read by the real qemu-nbd.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from integration.conftest import BOTH_ENGINES, Site, require_binary


def qemu(*args: str) -> str:
    return subprocess.run(list(args), capture_output=True, text=True, check=True,
                          timeout=120).stdout


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    for program in ("qemu-img", "qemu-io", "qemu-nbd", "nbdcopy"):
        require_binary(program)
    path = tmp_path / "vms" / "web-root.qcow2"
    path.parent.mkdir()
    qemu("qemu-img", "create", "-q", "-f", "qcow2", str(path), "96M")
    qemu("qemu-io", "-c", "write -P 0xab 0 1M", "-c", "write -P 0x5c 40M 3M",
         "-c", "write -P 0x01 95M 512k", str(path))
    return path


def snapshots(path: Path) -> list[str]:
    info = json.loads(qemu("qemu-img", "info", "--output=json", "-U", str(path)))
    return [item["name"] for item in info.get("snapshots", [])]


def identical(a: Path, b: Path) -> bool:
    proc = subprocess.run(["qemu-img", "compare", "-U", str(a), str(b)], capture_output=True,
                          text=True, timeout=120, check=False)
    return proc.returncode == 0 and "identical" in proc.stdout


def add_vm(site: Site, disk: Path, extra: str = "") -> None:
    site.profile.write_text(site.profile.read_text() + f"""
[services.hypervisor]

[[services.hypervisor.hooks]]
type = "vm"
name = "web"
disks = ["{disk}"]
{extra}""")


@BOTH_ENGINES
def test_qcow2_round_trip_through_an_internal_snapshot(site: Site, disk: Path,
                                                        tmp_path: Path) -> None:
    add_vm(site, disk)
    before = tmp_path / "before.qcow2"
    shutil.copy(disk, before)
    made = site.run("backup-vm-snapshot", "--vm", "web", "--json").json()
    assert made["type"] == "vm"
    assert made["parts"][0]["part"] == "infrastructure/vm-snapshots/web/web-root.raw"
    assert made["parts"][0]["bytes"] == 96 << 20
    assert snapshots(disk) == []  # the snapshot the dump read is gone

    moved = tmp_path / "restored" / "web.qcow2"
    site.run("restore-backup", "--backup", made["set"], "--as-database", f"{disk}={moved}")
    info = json.loads(qemu("qemu-img", "info", "--output=json", str(moved)))
    assert (info["format"], info["virtual-size"]) == ("qcow2", 96 << 20)
    assert info["actual-size"] < 16 << 20  # zeros stay unallocated
    assert identical(before, moved)

    refused = site.run("restore-backup", "--backup", made["set"], check=False)
    assert refused.returncode == 3 and f"VM disk {disk} exists" in refused.stderr
    qemu("qemu-io", "-c", "write -P 0xee 0 2M", str(disk))
    assert not identical(before, disk)
    site.run("restore-backup", "--backup", made["set"], "--force")
    assert identical(before, disk)
    assert not list(disk.parent.glob(".*.strongroom-restore"))

    full = site.run("create-backup", "--type", "full", "--json").json()
    assert "infrastructure/vm-snapshots/web/web-root.raw" in [p["part"] for p in full["parts"]]


def test_keep_snapshot_keeps_only_the_newest(site: Site, disk: Path) -> None:
    add_vm(site, disk, "keep_snapshot = true\n")
    first = site.run("backup-vm-snapshot", "--vm", "web", "--json").json()
    assert snapshots(disk) == [f"strongroom-{first['set']}"]
    second = site.run("backup-vm-snapshot", "--vm", "web", "--json").json()
    assert snapshots(disk) == [f"strongroom-{second['set']}"]


def test_raw_disk_named_on_the_command_line(site: Site, tmp_path: Path) -> None:
    require_binary("nbdcopy")
    raw = tmp_path / "data.img"
    raw.write_bytes(b"\x00" * (4 << 20) + bytes(range(256)) * 4096)
    made = site.run("backup-vm-snapshot", "--disk", str(raw), "--json").json()
    assert made["set"].startswith("vm-data-")
    raw.unlink()
    site.run("restore-backup", "--backup", made["set"])
    assert raw.read_bytes() == b"\x00" * (4 << 20) + bytes(range(256)) * 4096
    missing = site.run("backup-vm-snapshot", "--disk", str(tmp_path / "nope.qcow2"),
                       check=False)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "does not exist" in missing.stderr
    unknown = site.run("backup-vm-snapshot", "--vm", "nosuch", check=False)
    assert unknown.returncode == 2 and "no VM named 'nosuch'" in unknown.stderr


def test_a_copy_failing_midway_removes_the_snapshot(site: Site, disk: Path,
                                                    tmp_path: Path) -> None:
    # The real nbdcopy, cut off after 1 MiB as if the disk became unreadable.
    failing = tmp_path / "nbdcopy-failing"
    failing.write_text(f"""#!/bin/sh
{shutil.which('nbdcopy')} "$@" | head -c 1048576
echo "nbdcopy: read error at offset 1048576" >&2
exit 1
""")
    failing.chmod(0o755)
    add_vm(site, disk, f'nbdcopy = "{failing}"\n')
    failed = site.run("backup-vm-snapshot", "--vm", "web", check=False)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert "read error at offset" in failed.stderr
    assert snapshots(disk) == []
    listed = site.run("list-backups", "--all", "--json").json()["backups"]
    assert [(b["type"], b["status"]) for b in listed] == [("vm", "incomplete")]


def stand_in(path: Path, log: Path, replies: dict[str, str]) -> Path:
    """A script that appends its argv to `log` and prints the reply for its first word."""
    cases = ""
    for word, reply in replies.items():
        answer = path.with_name(f"{path.name}.{word}")
        answer.write_text(reply + "\n")
        cases += f'  {word}) cat "{answer}" ;;\n'
    path.write_text(f"""#!/bin/sh
echo "$@" >> "{log}"
case "$1" in
{cases}esac
exit 0
""")
    path.chmod(0o755)
    return path


def test_running_libvirt_domain_contract(site: Site, disk: Path, tmp_path: Path) -> None:
    log = tmp_path / "virsh.log"
    virsh = stand_in(tmp_path / "virsh", log, {
        "domstate": "running",
        "domblklist": f" Type   Device   Target   Source\n{'-' * 40}\n"
                      f" file   disk     vda      {disk}\n file   cdrom    sda      /iso/x.iso\n"
                      f" file   disk     vdb      /var/lib/other.qcow2",
    })
    add_vm(site, disk, f'domain = "web"\nvirsh = "{virsh}"\n')
    made = site.run("backup-vm-snapshot", "--vm", "web", "--json").json()
    name = f"strongroom-{made['set']}"
    overlay = disk.with_name(f"{disk.name}.{name}.overlay")
    assert log.read_text().splitlines() == [
        "domstate web",
        "domblklist web --details",
        f"snapshot-create-as --domain web --name {name} --disk-only --atomic --no-metadata "
        f"--diskspec vda,snapshot=external,file={overlay} --diskspec vdb,snapshot=no",
        "blockcommit web vda --active --pivot --wait",
    ]
    restored = tmp_path / "out.qcow2"
    site.run("restore-backup", "--backup", made["set"], "--as-database", f"{disk}={restored}")
    assert identical(disk, restored)


def test_virtualbox_contract(site: Site, tmp_path: Path) -> None:
    require_binary("qemu-img")
    vdi = tmp_path / "box.vdi"
    qemu("qemu-img", "create", "-q", "-f", "vdi", str(vdi), "32M")
    qemu("qemu-io", "-f", "vdi", "-c", "write -P 0x42 1M 1M", str(vdi))
    log = tmp_path / "vbox.log"
    vbox = stand_in(tmp_path / "VBoxManage", log, {})
    site.profile.write_text(site.profile.read_text() + f"""
[services.desk]

[[services.desk.hooks]]
type = "vm"
disks = ["{vdi}"]
virtualbox_vm = "Desk VM"
vboxmanage = "{vbox}"
""")
    made = site.run("backup-vm-snapshot", "--vm", "box", "--json").json()
    name = f"strongroom-{made['set']}"
    assert log.read_text().splitlines() == [
        f"snapshot Desk VM take {name} --live", f"snapshot Desk VM delete {name}"]
    restored = tmp_path / "copy.vdi"
    site.run("restore-backup", "--backup", made["set"], "--as-database", f"{vdi}={restored}")
    assert json.loads(qemu("qemu-img", "info", "--output=json", str(restored)))["format"] == "vdi"
    assert identical(vdi, restored)
