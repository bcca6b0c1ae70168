"""inventory.json of a disaster-recovery set: what the host was, as facts, never secrets.

The model is the schema; `build_inventory` is pure, and each fact that reads the system
is gathered by one small function, so tests hand in their own facts.
"""

from __future__ import annotations

import os
import platform
import socket
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from orchestrator.profile.schema import Profile

# Where schedule-backup writes a schedule's job; schedule/install.py reads the same.
SYSTEMD_DIR_ENV, CRON_FILE_ENV = "STRONGROOM_SYSTEMD_DIR", "STRONGROOM_CRON_FILE"
SYSTEM_UNITS_DIR, SYSTEM_CRON_FILE = Path("/etc/systemd/system"), Path("/etc/cron.d/strongroom")
# Filesystems worth recreating: block devices, network and pool filesystems.
REAL_FILESYSTEMS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "vfat", "exfat",
                              "ntfs", "ntfs3", "f2fs", "jfs", "reiserfs", "nfs", "nfs4", "cifs",
                              "smb3", "fuse.sshfs", "ceph", "glusterfs"})


def schedule_places(environ: Mapping[str, str], user: bool) -> tuple[Path, Path | None]:
    """The folder of strongroom's systemd units and its cron file (None: the crontab)."""
    config = Path(environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    systemd_dir = Path(environ[SYSTEMD_DIR_ENV]) if environ.get(SYSTEMD_DIR_ENV) \
        else (config / "systemd" / "user" if user else SYSTEM_UNITS_DIR)
    cron_file = Path(environ[CRON_FILE_ENV]) if environ.get(CRON_FILE_ENV) \
        else (None if user else SYSTEM_CRON_FILE)
    return systemd_dir, cron_file


class InventoryModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Mount(InventoryModel):
    source: str
    target: str
    fstype: str
    options: str


class DatabaseServer(InventoryModel):
    service: str
    hook: str
    host: str | None = None  # None: the local default (socket)
    port: int | None = None
    socket: str | None = None
    username: str | None = None
    databases: list[str] = []
    path: str | None = None  # sqlite: the database file


class ContainerRuntime(InventoryModel):
    service: str
    runtime: str
    binary: str | None = None


class Schedules(InventoryModel):
    systemd_dir: str
    systemd_units: list[str] = []
    cron_file: str | None = None
    cron_blocks: list[str] = []  # profile/key of each strongroom block


class Inventory(InventoryModel):
    format: int = 1
    set: str
    profile: str
    hostname: str
    os_release: dict[str, str] = {}
    kernel: str
    tools: dict[str, str] = {}
    schedules: Schedules
    mounts: list[Mount] = []
    database_servers: list[DatabaseServer] = []
    container_runtimes: list[ContainerRuntime] = []

    def to_bytes(self) -> bytes:
        return (self.model_dump_json(indent=2) + "\n").encode()


def build_inventory(
    profile: Profile, set_name: str, tools: Mapping[str, str], *, hostname: str,
    os_release: Mapping[str, str], kernel: str, schedules: Schedules, mounts: list[Mount],
) -> Inventory:
    return Inventory(
        set=set_name, profile=profile.profile_name, hostname=hostname,
        os_release=dict(os_release), kernel=kernel, tools=dict(tools), schedules=schedules,
        mounts=mounts, database_servers=database_servers(profile),
        container_runtimes=container_runtimes(profile),
    )


def database_servers(profile: Profile) -> list[DatabaseServer]:
    """Where each database hook connects: host, port, socket, user; no password, no URI."""
    found = []
    for service, svc in profile.services.items():
        for entry in svc.hooks:
            options = entry.model_extra or {}
            if entry.type in ("postgresql", "mysql", "mariadb"):
                found.append(DatabaseServer(
                    service=service, hook=entry.type, host=options.get("host"),
                    port=options.get("port"),
                    socket=str(options["socket"]) if options.get("socket") else None,
                    username=options.get("username"),
                    databases=list(options.get("databases", ["all"]))))
            elif entry.type == "sqlite":
                found.append(DatabaseServer(service=service, hook="sqlite",
                                            path=str(options.get("path"))))
            elif entry.type == "mongodb":  # its connection string is a secret: only the file
                found.append(DatabaseServer(service=service, hook="mongodb",
                                            databases=list(options.get("databases", ["all"]))))
    return found


def container_runtimes(profile: Profile) -> list[ContainerRuntime]:
    return [ContainerRuntime(service=service, runtime=str((entry.model_extra or {})
                                                          .get("runtime", "auto")),
                             binary=(entry.model_extra or {}).get("binary"))
            for service, svc in profile.services.items() for entry in svc.hooks
            if entry.type == "containers"]


def read_os_release(path: Path = Path("/etc/os-release")) -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return fields
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            fields[key.strip()] = value.strip().strip("'\"")
    return fields


def read_mounts(path: Path = Path("/proc/self/mounts")) -> list[Mount]:
    mounts: list[Mount] = []
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return mounts
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] in REAL_FILESYSTEMS:
            source, target = (p.replace("\\040", " ") for p in parts[:2])
            mounts.append(Mount(source=source, target=target, fstype=parts[2],
                                options=parts[3]))
    return mounts


def read_schedules(environ: Mapping[str, str] | None = None) -> Schedules:
    """strongroom's units in the units folder and its blocks in the cron file."""
    env = os.environ if environ is None else environ
    systemd_dir, cron_file = schedule_places(env, os.geteuid() != 0)
    try:
        units = sorted(p.name for p in systemd_dir.iterdir()
                       if p.name.startswith("strongroom-") and p.suffix in (".timer", ".service"))
    except OSError:
        units = []
    blocks: list[str] = []
    if cron_file is not None:
        try:
            blocks = [line.strip().removeprefix("# BEGIN strongroom ")
                      for line in cron_file.read_text(errors="replace").splitlines()
                      if line.strip().startswith("# BEGIN strongroom ")]
        except OSError:
            pass
    return Schedules(systemd_dir=str(systemd_dir), systemd_units=units,
                     cron_file=str(cron_file) if cron_file else None, cron_blocks=blocks)


def gather_inventory(profile: Profile, set_name: str, tools: Mapping[str, str]) -> Inventory:
    return build_inventory(profile, set_name, tools, hostname=socket.gethostname(),
                           os_release=read_os_release(), kernel=platform.release(),
                           schedules=read_schedules(), mounts=read_mounts())
