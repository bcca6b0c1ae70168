"""Containers with the real podman: images saved and loaded, volumes exported and imported.

podman runs rootful with its storage (vfs: no mounts to leave behind) under the test's
directory, and test images come from `podman import` of a rootfs tar the test makes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.conftest import Site, compare_trees, require_binary

IMAGE = "localhost/strongroom-test:1"


class Podman:
    def __init__(self, root: Path, runroot: Path) -> None:
        self.binary = require_binary("podman")
        # podman refuses a runroot path longer than 50 characters.
        self.options = ["--root", str(root / "storage"), "--runroot", str(runroot),
                        "--storage-driver", "vfs"]

    def __call__(self, *args: str, check: bool = True) -> str:
        proc = subprocess.run([self.binary, *self.options, *args], capture_output=True,
                              text=True, timeout=120, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {proc.stderr}")
        return proc.stdout.strip()

    def toml(self) -> str:
        return f'runtime = "podman"\noptions = {json.dumps(self.options)}\n'

    def image_id(self, image: str) -> str:
        return self("image", "inspect", "--format", "{{.Id}}", image)

    def mountpoint(self, volume: str) -> Path:
        return Path(self("volume", "inspect", "--format", "{{.Mountpoint}}", volume))


@pytest.fixture
def podman(tmp_path: Path) -> Iterator[Podman]:
    runroot = Path(tempfile.mkdtemp(prefix="sr-podman-"))
    try:
        yield _with_image(Podman(tmp_path / "podman", runroot), tmp_path)
    finally:
        shutil.rmtree(runroot, ignore_errors=True)


def _with_image(engine: Podman, tmp_path: Path) -> Podman:
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc/motd").write_text("strongroom test image\n")
    (rootfs / "bin").mkdir()
    (rootfs / "bin/tool").write_bytes(os.urandom(200_000))
    with tarfile.open(tmp_path / "rootfs.tar", "w") as archive:
        archive.add(rootfs, arcname=".")
    engine("import", str(tmp_path / "rootfs.tar"), IMAGE)
    return engine


def fill_volume(podman: Podman, volume: str, labels: tuple[str, ...] = ()) -> Path:
    podman("volume", "create", *(f"--label={label}" for label in labels), volume)
    data = podman.mountpoint(volume)
    (data / "conf").mkdir(mode=0o750)
    (data / "conf/app.ini").write_text("[app]\nkey = value\n")
    (data / "conf/app.ini").chmod(0o600)
    (data / "blob.bin").write_bytes(os.urandom(3 << 20))
    (data / "données ✓.txt").write_text("unicode name\n")
    (data / "empty").mkdir()
    os.symlink("conf/app.ini", data / "link")
    return data


def snapshot_of(data: Path, into: Path) -> Path:
    shutil.copytree(data, into, symlinks=True)
    shutil.copystat(data, into)
    return into


def add_hook(site: Site, text: str) -> None:
    site.profile.write_text(site.profile.read_text() + "\n" + text)


def test_image_volume_and_compose_round_trip(site: Site, podman: Podman, tmp_path: Path) -> None:
    image_id = podman.image_id(IMAGE)
    appdata = snapshot_of(fill_volume(podman, "appdata"), tmp_path / "appdata-before")
    stack = site.root / "stack"
    stack.mkdir()
    (stack / "compose.yaml").write_text("services:\n  db:\n    volumes: [db:/var/lib/db]\n"
                                        "volumes:\n  db: {}\n")
    stack_db = snapshot_of(fill_volume(podman, "stack_db", ("com.docker.compose.project=stack",)),
                           tmp_path / "stack-before")
    add_hook(site, f"""
[[services.web.hooks]]
type = "containers"
{podman.toml()}images = ["{IMAGE}"]
volumes = ["appdata"]
compose = [{{ file = "{stack / 'compose.yaml'}" }}]
""")
    made = site.run("backup-containers", "--json").json()
    assert made["type"] == "containers"
    assert [part["part"] for part in made["parts"][:-1]] == [
        "infrastructure/container-images/localhost_strongroom-test_1.tar",
        "infrastructure/docker-volumes/appdata.tar",
        "infrastructure/docker-volumes/stack_db.tar",
    ]
    full = site.run("create-backup", "--type", "full", "--json").json()
    assert {p["part"] for p in full["parts"]} >= {p["part"] for p in made["parts"][:-1]}
    config_set = site.run("create-backup", "--type", "config", "--json").json()
    assert len(config_set["parts"]) == 1  # images and volumes are data, not configuration

    podman("rmi", IMAGE)
    podman("volume", "rm", "appdata", "stack_db")
    site.run("restore-backup", "--backup", made["set"])
    assert podman.image_id(IMAGE) == image_id
    compare_trees(appdata, podman.mountpoint("appdata"), mtimes=False)  # tar: seconds
    compare_trees(stack_db, podman.mountpoint("stack_db"), mtimes=False)

    refused = site.run("restore-backup", "--backup", made["set"], check=False)
    assert refused.returncode == 3
    assert "volume appdata is not empty" in refused.stderr
    (podman.mountpoint("appdata") / "conf/app.ini").write_text("changed\n")
    site.run("restore-backup", "--backup", made["set"], "--force")
    compare_trees(appdata, podman.mountpoint("appdata"), mtimes=False)  # tar: seconds

    # The compose file is the service's configuration, in config sets too.
    listing = site.run("download-backup", "--backup", config_set["set"], "--format", "tar.gz",
                       "--output", str(tmp_path / "config.tar.gz"))
    assert listing.returncode == 0
    with tarfile.open(tmp_path / "config.tar.gz") as archive:
        names = archive.getnames()
    assert any(name.endswith("compose.yaml") and name.startswith("services/web/config")
               for name in names)


def test_named_items_and_bad_names(site: Site, podman: Podman) -> None:
    fill_volume(podman, "solo")
    add_hook(site, f"""
[[services.web.hooks]]
type = "containers"
{podman.toml()}images = ["{IMAGE}"]
""")
    made = site.run("backup-containers", "--volume", "solo", "--name", "solo-vol",
                    "--json").json()
    assert [p["part"] for p in made["parts"][:-1]] == ["infrastructure/docker-volumes/solo.tar"]
    missing = site.run("backup-containers", "--image", "localhost/nope:1", check=False)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert "container image localhost/nope:1 not found" in missing.stderr
    images_only = site.run("backup-database", "--service", "web", check=False)
    assert images_only.returncode == 2 and "has no database hooks" in images_only.stderr
    unknown = site.run("backup-containers", "--service", "nosuch", check=False)
    assert unknown.returncode == 2 and "unknown service 'nosuch'" in unknown.stderr


def test_runtime_failing_midway_leaves_no_set(site: Site, podman: Podman, tmp_path: Path) -> None:
    fill_volume(podman, "appdata")
    # The real podman, except that a volume export dies after writing part of its tar.
    wrapper = tmp_path / "podman-failing"
    wrapper.write_text(f"""#!/bin/sh
for arg in "$@"; do
  if [ "$arg" = export ]; then
    {podman.binary} "$@" > "{tmp_path}/whole.tar"
    head -c 100000 "{tmp_path}/whole.tar"
    echo "podman: volume export interrupted" >&2
    exit 125
  fi
done
exec {podman.binary} "$@"
""")
    wrapper.chmod(0o755)
    add_hook(site, f"""
[[services.web.hooks]]
type = "containers"
binary = "{wrapper}"
{podman.toml()}images = ["{IMAGE}"]
volumes = ["appdata"]
""")
    failed = site.run("backup-containers", check=False)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert "appdata" in failed.stderr and "volume export interrupted" in failed.stderr
    listed = site.run("list-backups", "--all", "--json").json()["backups"]
    assert [(b["type"], b["status"]) for b in listed] == [("containers", "incomplete")]
    env = {**os.environ, "RESTIC_REPOSITORY": str(site.repository),
           "RESTIC_PASSWORD_FILE": str(site.password_file)}
    snapshots = json.loads(subprocess.run(["restic", "snapshots", "--json"], env=env,
                                          capture_output=True, check=True).stdout)
    assert snapshots == []  # the image part stored first was forgotten
