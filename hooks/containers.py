"""Containers: images with `save`/`load`, volumes as tar streams, compose projects.

podman exports and imports volumes itself. Docker has no volume export, so a
throwaway container of a small helper image mounts the volume (read-only for the
dump) and runs tar. Compose projects add their compose files to the service's
configuration and their named volumes (found by compose's project label) to the dumps.
"""

from __future__ import annotations

import logging
import os
import re
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
    output_of,
)
from orchestrator import run

log = logging.getLogger("strongroom")
IMAGE_FORMAT = "image-archive"
VOLUME_FORMAT = "volume-tar"
PROJECT_LABEL = "com.docker.compose.project"
HELPER_MOUNT = "/volume"


class ComposeProject(HookModel):
    file: Path
    project: str | None = Field(default=None, description="default: the file's folder name")


class ContainersConfig(HookModel):
    type: Literal["containers"]
    runtime: Literal["auto", "podman", "docker"] = "auto"
    binary: str | None = Field(default=None, description="the runtime's program")
    options: list[str] = Field(default_factory=list,
                               description="global options, e.g. podman's --root DIR")
    images: list[str] = Field(default_factory=list)
    volumes: list[str] = Field(default_factory=list)
    compose: list[ComposeProject] = Field(default_factory=list)
    stop: bool = Field(default=False, description="stop the containers using a volume while "
                                                  "it is dumped")
    helper_image: str = Field(default="docker.io/library/busybox:stable",
                              description="docker only: the image whose tar reads volumes")

    def config_files(self) -> list[Path]:
        return [item.file for item in self.compose]


Runtime = tuple[Literal["podman", "docker"], list[str]]  # kind, argv prefix


def resolve_runtime(config: ContainersConfig) -> Runtime:
    """The runtime and the argv prefix every command starts with."""
    kind = config.runtime
    if kind == "auto":
        if config.binary:
            kind = "docker" if "docker" in os.path.basename(config.binary) else "podman"
        else:
            kind = "podman" if _installed("podman") or not _installed("docker") else "docker"
    program = config.binary or kind
    return kind, [program, *config.options]


def _installed(program: str) -> bool:
    try:
        run.which(program)
    except run.MissingBinaryError:
        return False
    return True


def safe_name(value: str) -> str:
    return file_name(value, "unnamed")


def project_name(file: Path) -> str:
    """Compose's default project name: the folder's name, lowercased, [a-z0-9_-] only."""
    return re.sub(r"[^a-z0-9_-]", "", file.parent.name.lower()) or "default"


def image_logical(image: str) -> str:
    return f"infrastructure/container-images/{safe_name(image)}.tar"


def volume_logical(volume: str) -> str:
    return f"infrastructure/docker-volumes/{safe_name(volume)}.tar"


def save_argv(runtime: Runtime, image: str) -> list[str]:
    return [*runtime[1], "save", image]


def load_argv(runtime: Runtime) -> list[str]:
    return [*runtime[1], "load"]


def image_inspect_argv(runtime: Runtime, image: str) -> list[str]:
    return [*runtime[1], "image", "inspect", "--format", "{{.Id}}", image]


def volume_inspect_argv(runtime: Runtime, volume: str) -> list[str]:
    return [*runtime[1], "volume", "inspect", "--format", "{{.Mountpoint}}", volume]


def volume_create_argv(runtime: Runtime, volume: str) -> list[str]:
    return [*runtime[1], "volume", "create", volume]


def volume_remove_argv(runtime: Runtime, volume: str) -> list[str]:
    return [*runtime[1], "volume", "rm", volume]


def project_volumes_argv(runtime: Runtime, project: str) -> list[str]:
    return [*runtime[1], "volume", "ls", "--filter", f"label={PROJECT_LABEL}={project}",
            "--format", "{{.Name}}"]


def volume_export_argv(runtime: Runtime, volume: str, helper: str) -> list[str]:
    if runtime[0] == "podman":
        return [*runtime[1], "volume", "export", volume]
    return [*runtime[1], "run", "--rm", "--network", "none", "-v",
            f"{volume}:{HELPER_MOUNT}:ro", helper, "tar", "-C", HELPER_MOUNT, "-cf", "-", "."]


def volume_import_argv(runtime: Runtime, volume: str, helper: str) -> list[str]:
    if runtime[0] == "podman":
        return [*runtime[1], "volume", "import", volume, "-"]
    return [*runtime[1], "run", "--rm", "-i", "--network", "none", "-v",
            f"{volume}:{HELPER_MOUNT}", helper, "tar", "-C", HELPER_MOUNT, "-xpf", "-"]


def users_argv(runtime: Runtime, volume: str) -> list[str]:
    """The running containers that mount a volume, one ID per line."""
    return [*runtime[1], "ps", "--filter", f"volume={volume}", "--filter", "status=running",
            "--format", "{{.ID}}"]


def stop_argv(runtime: Runtime, ids: list[str]) -> list[str]:
    return [*runtime[1], "stop", *ids]


def start_argv(runtime: Runtime, ids: list[str]) -> list[str]:
    return [*runtime[1], "start", *ids]


def _lines(argv: list[str], what: str) -> list[str]:
    return [line.strip() for line in output_of(argv, what, timeout=120).splitlines()
            if line.strip()]


@contextmanager
def stopped_users(runtime: Runtime, volume: str) -> Iterator[list[str]]:
    """The running containers that use a volume are stopped meanwhile, then started again."""
    ids = _lines(users_argv(runtime, volume), f"cannot list the containers using {volume}")
    if ids:
        log.info("stopping %s while volume %s is dumped", ", ".join(ids), volume)
        _lines(stop_argv(runtime, ids), f"cannot stop the containers using {volume}")
    try:
        yield ids
    finally:
        if ids:
            _lines(start_argv(runtime, ids), f"cannot start {', '.join(ids)} again")
            log.info("started %s again", ", ".join(ids))


class ContainersHook:
    config_model = ContainersConfig

    def __init__(self) -> None:
        self._created_volumes: dict[str, list[str]] = {}

    def describe(self, config: HookModel) -> str:
        assert isinstance(config, ContainersConfig)
        kind, _ = resolve_runtime(config)
        items = [*config.images, *config.volumes,
                 *(f"compose {item.file}" for item in config.compose)]
        return f"{kind} {', '.join(items) or '(nothing)'}"

    def check(self, config: HookModel, ctx: HookContext) -> None:
        assert isinstance(config, ContainersConfig)
        runtime = resolve_runtime(config)
        run.which(runtime[1][0])
        if not (config.images or config.volumes or config.compose):
            raise HookError("a containers hook needs images, volumes or compose projects")
        for image in config.images:
            _lines(image_inspect_argv(runtime, image), f"container image {image} not found")
        for volume in config.volumes:
            _lines(volume_inspect_argv(runtime, volume), f"volume {volume} not found")
        for item in config.compose:
            if not ctx.path(item.file).is_file():
                raise HookError(f"compose file {ctx.path(item.file)} does not exist")

    def volumes(self, config: ContainersConfig, ctx: HookContext) -> list[str]:
        """The volumes named in the config, then each compose project's named volumes."""
        runtime = resolve_runtime(config)
        chosen = list(config.volumes)
        for item in config.compose:
            project = item.project or project_name(ctx.path(item.file))
            found = _lines(project_volumes_argv(runtime, project),
                           f"cannot list the volumes of compose project {project}")
            chosen += [name for name in found if name not in chosen]
        return chosen

    def plan_dumps(self, config: HookModel, ctx: HookContext, service: str, index: int,
                   schema_only: bool) -> list[DumpPlan]:
        assert isinstance(config, ContainersConfig)
        if schema_only:
            return []
        runtime = resolve_runtime(config)
        plans = [
            DumpPlan("containers", service, index, image, image_logical(image), IMAGE_FORMAT,
                     Command(tuple(save_argv(runtime, image))), {"runtime": runtime[0]})
            for image in config.images
        ]
        for volume in self.volumes(config, ctx):
            command = Command(tuple(volume_export_argv(runtime, volume, config.helper_image)))
            plans.append(DumpPlan(
                "containers", service, index, volume, volume_logical(volume), VOLUME_FORMAT,
                command, {"runtime": runtime[0]},
                prepare=_stopping(runtime, volume, command) if config.stop else None))
        return plans

    def inspect_target(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> RestoreTarget:
        assert isinstance(config, ContainersConfig)
        if plan.format == IMAGE_FORMAT:
            return RestoreTarget(plan.target, exists=False, empty=True)  # load only adds
        runtime = resolve_runtime(config)
        try:
            mountpoint = run.run(volume_inspect_argv(runtime, plan.target)).stdout.strip()
        except run.CommandError:
            return RestoreTarget(plan.target, exists=False, empty=True)
        return RestoreTarget(plan.target, exists=True, empty=_empty_folder(runtime, mountpoint),
                             conflict=f"volume {plan.target} is not empty")

    def restore(self, config: HookModel, ctx: HookContext, plan: RestorePlanInput) -> Command:
        assert isinstance(config, ContainersConfig)
        runtime = resolve_runtime(config)
        if plan.format == IMAGE_FORMAT:
            return Command(tuple(load_argv(runtime)))
        if plan.format != VOLUME_FORMAT:
            raise HookError(f"{plan.logical}: unknown container stream format {plan.format!r}")
        if not self.inspect_target(config, ctx, plan).exists:
            _lines(volume_create_argv(runtime, plan.target), f"cannot create volume {plan.target}")
            self._created_volumes[plan.logical] = volume_remove_argv(runtime, plan.target)
        return Command(tuple(volume_import_argv(runtime, plan.target, config.helper_image)))

    def finish_restore(self, plan: RestorePlanInput, succeeded: bool) -> None:
        remove = self._created_volumes.pop(plan.logical, None)
        if remove is not None and not succeeded:
            run.run(remove, ok_codes=range(256))  # a volume this restore created half-filled

    def remove_volume(self, config: HookModel, ctx: HookContext, volume: str) -> None:
        """Remove a volume a drill restored into (it may be gone already)."""
        assert isinstance(config, ContainersConfig)
        runtime = resolve_runtime(config)
        try:
            run.run(volume_inspect_argv(runtime, volume))
        except run.CommandError:
            return
        _lines(volume_remove_argv(runtime, volume), f"cannot remove volume {volume}")

    def untrusted_risk(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> str | None:
        # load and volume import read image and tar data; nothing in them runs on the host
        return None


def _empty_folder(runtime: Runtime, mountpoint: str) -> bool:
    """Whether a local volume holds nothing; unknown (docker, remote drivers) counts as not."""
    if runtime[0] != "podman" or not mountpoint:
        return False
    try:
        with os.scandir(mountpoint) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def _stopping(runtime: Runtime, volume: str, command: Command) -> Prepare:
    @contextmanager
    def prepare(set_name: str) -> Iterator[PreparedDump]:
        with stopped_users(runtime, volume) as ids:
            yield PreparedDump(command, {"stopped_containers": len(ids)})

    return prepare
