"""The containers and VM hooks' argv builders and config models: pure, no runtimes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hooks import config_problems, containers, vm, vm_args
from hooks.base import HookContext

CTX = HookContext(base_dir=Path("/etc/strongroom"))
PODMAN: containers.Runtime = ("podman", ["podman", "--root", "/s"])
DOCKER: containers.Runtime = ("docker", ["docker", "--context", "prod"])
TOOLS = vm_args.Tools()


def test_podman_exports_and_imports_volumes_itself() -> None:
    assert containers.volume_export_argv(PODMAN, "data", "helper") == [
        "podman", "--root", "/s", "volume", "export", "data"]
    assert containers.volume_import_argv(PODMAN, "data", "helper") == [
        "podman", "--root", "/s", "volume", "import", "data", "-"]
    assert containers.save_argv(PODMAN, "app:1") == ["podman", "--root", "/s", "save", "app:1"]
    assert containers.load_argv(PODMAN) == ["podman", "--root", "/s", "load"]


def test_docker_volumes_go_through_a_throwaway_helper_container() -> None:
    dump = containers.volume_export_argv(DOCKER, "data", "busybox:stable")
    assert dump == ["docker", "--context", "prod", "run", "--rm", "--network", "none", "-v",
                    "data:/volume:ro", "busybox:stable", "tar", "-C", "/volume", "-cf", "-", "."]
    back = containers.volume_import_argv(DOCKER, "data", "busybox:stable")
    assert back == ["docker", "--context", "prod", "run", "--rm", "-i", "--network", "none",
                    "-v", "data:/volume", "busybox:stable", "tar", "-C", "/volume", "-xpf", "-"]


def test_stop_and_start_the_containers_using_a_volume() -> None:
    assert containers.users_argv(DOCKER, "db") == [
        "docker", "--context", "prod", "ps", "--filter", "volume=db", "--filter",
        "status=running", "--format", "{{.ID}}"]
    assert containers.stop_argv(PODMAN, ["a1", "b2"])[-3:] == ["stop", "a1", "b2"]
    assert containers.start_argv(PODMAN, ["a1"])[-2:] == ["start", "a1"]


def test_compose_volumes_are_found_by_the_project_label() -> None:
    assert containers.project_volumes_argv(PODMAN, "stack")[-5:] == [
        "ls", "--filter", "label=com.docker.compose.project=stack", "--format", "{{.Name}}"]
    assert containers.project_name(Path("/srv/My Stack.v2/compose.yaml")) == "mystackv2"


def test_logical_names_are_single_path_components() -> None:
    assert containers.image_logical("ghcr.io/org/app:1.2") == \
        "infrastructure/container-images/ghcr.io_org_app_1.2.tar"
    assert containers.volume_logical("../etc") == "infrastructure/docker-volumes/etc.tar"
    assert vm.disk_logicals("web", [Path("/a/root.qcow2"), Path("/b/root.img")]) == [
        "infrastructure/vm-snapshots/web/root.raw", "infrastructure/vm-snapshots/web/root-2.raw"]


def test_runtime_choice() -> None:
    config = containers.ContainersConfig(type="containers", binary="/opt/bin/docker",
                                         options=["-H", "unix:///d.sock"])
    assert containers.resolve_runtime(config) == ("docker", ["/opt/bin/docker", "-H",
                                                             "unix:///d.sock"])
    explicit = containers.ContainersConfig(type="containers", runtime="podman")
    assert containers.resolve_runtime(explicit) == ("podman", ["podman"])


def test_containers_config_is_strict() -> None:
    problems = config_problems({"type": "containers", "image": ["x"]})
    assert problems == [(("image",), "unknown key")]
    with pytest.raises(ValidationError):
        containers.ContainersConfig.model_validate({"type": "containers", "runtime": "lxc"})
    config = containers.ContainersConfig.model_validate(
        {"type": "containers", "compose": [{"file": "stack/compose.yaml"}]})
    assert config.config_files() == [Path("stack/compose.yaml")]


def test_disk_read_through_nbdcopy() -> None:
    assert vm_args.read_argv(TOOLS, Path("/v/d.qcow2"), "qcow2", snapshot="strongroom-s1") == [
        "nbdcopy", "--", "[", "qemu-nbd", "-r", "-l", "snapshot.name=strongroom-s1", "-f",
        "qcow2", "/v/d.qcow2", "]", "-"]
    shared = vm_args.read_argv(TOOLS, Path("/v/a,b.qcow2"), "qcow2", shared=True)
    assert shared[shared.index("--image-opts") + 1] == (
        "driver=qcow2,file.driver=file,file.filename=/v/a,,b.qcow2,force-share=on")


def test_disk_written_back_sparse_into_a_new_image() -> None:
    assert vm_args.create_argv(TOOLS, Path("/v/n.qcow2"), "qcow2", 1 << 30) == [
        "qemu-img", "create", "-q", "-f", "qcow2", "/v/n.qcow2", str(1 << 30)]
    assert vm_args.write_argv(TOOLS, Path("/v/n.qcow2"), "qcow2") == [
        "nbdcopy", "--", "-", "[", "qemu-nbd", "-f", "qcow2", "--discard=unmap",
        "--detect-zeroes=unmap", "/v/n.qcow2", "]"]


def test_qemu_img_info_parsed() -> None:
    info = vm_args.parse_info('{"format": "qcow2", "virtual-size": 1024, '
                              '"snapshots": [{"name": "strongroom-a"}]}')
    assert info == vm_args.DiskInfo("qcow2", 1024, ("strongroom-a",))
    assert vm_args.parse_info('{"format": "raw", "virtual-size": 5}').snapshots == ()


def test_libvirt_snapshot_and_commit() -> None:
    listing = (" Type   Device   Target   Source\n---\n file disk vda /v/my disk.qcow2\n"
               " file   cdrom    sda      /iso/x.iso\n block  disk     vdb      /dev/sdb\n")
    assert vm_args.parse_domblklist(listing) == {"/v/my disk.qcow2": "vda"}
    argv = vm_args.external_snapshot_argv(TOOLS, "web", "strongroom-s", {
        "vda": Path("/v/o.overlay"), "vdc": None})
    assert argv[-4:] == ["--diskspec", "vda,snapshot=external,file=/v/o.overlay",
                         "--diskspec", "vdc,snapshot=no"]
    assert vm_args.blockcommit_argv(TOOLS, "web", "vda") == [
        "virsh", "blockcommit", "web", "vda", "--active", "--pivot", "--wait"]


def test_virtualbox_snapshot_argv() -> None:
    assert vm_args.vbox_take_argv(TOOLS, "Desk VM", "strongroom-s") == [
        "VBoxManage", "snapshot", "Desk VM", "take", "strongroom-s", "--live"]
    assert vm_args.vbox_delete_argv(TOOLS, "Desk VM", "strongroom-s") == [
        "VBoxManage", "snapshot", "Desk VM", "delete", "strongroom-s"]


def test_vm_config_needs_a_disk() -> None:
    assert config_problems({"type": "vm", "disks": []})[0][0] == ("disks",)
    assert config_problems({"type": "vm", "disks": ["d.qcow2"], "format": "iso"})[0][0] == (
        "format",)
    assert vm.vm_name(vm.VmConfig(type="vm", disks=[Path("/v/web.qcow2")])) == "web"
