"""What a recover does, in which order: pure functions over the set's manifest and the
recovered profile, so the order can be read (and tested) without a repository.

The order is the order of dependencies: the profile files first (everything else is read
through the profile they hold), then configuration and network files, each service's
config and data, the databases (roles first), container images and volumes, VM disks, and
last the schedules, so that no scheduled backup runs over a half-rebuilt host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from orchestrator.errors import UsageError
from orchestrator.models import RECOVER_PARTS, FollowUp, RecoverPart, RecoveryStep
from orchestrator.profile.schema import Profile
from orchestrator.sets.layout import SourcePath
from orchestrator.sets.manifest import ManifestStream

# Hooks whose streams are not databases, and the part of recover they belong to.
STREAM_PARTS: dict[str, RecoverPart] = {"containers": "containers", "vm": "vms"}
# Hooks that talk to a server recover waits for; the others read and write files.
SERVER_HOOKS = frozenset({"postgresql", "mysql", "mariadb", "mongodb"})


@dataclass
class PlannedStep:
    """One step and what it restores: source paths, one dump, or one schedule; from the
    set's own repository, or from a service's own repository (a vault)."""

    step: RecoveryStep
    sources: list[SourcePath] = field(default_factory=list)
    stream: ManifestStream | None = None
    schedule: str | None = None
    repository: str | None = None

    @property
    def services(self) -> list[str]:
        found = {item.service for item in self.sources if item.service}
        return sorted(found | ({self.stream.service} if self.stream else set()))


def chosen_parts(only: Sequence[str], skip: Sequence[str]) -> list[RecoverPart]:
    """The parts a recover restores: all, or --only's, less --skip's."""
    for option, values in (("--only", only), ("--skip", skip)):
        unknown = [value for value in values if value not in RECOVER_PARTS]
        if unknown:
            raise UsageError(f"{option} {','.join(unknown)}: not a part of a recovery "
                             f"(parts: {', '.join(RECOVER_PARTS)})")
    chosen = [part for part in RECOVER_PARTS if not only or part in only]
    chosen = [part for part in chosen if part not in skip]
    if not chosen:
        raise UsageError("--only/--skip leave nothing to recover but the profile files")
    return chosen


def plan_steps(sources: Sequence[SourcePath], streams: Sequence[ManifestStream],
               profile: Profile, parts: Sequence[RecoverPart],
               with_schedules: bool = True, homes: Mapping[str, str] | None = None
               ) -> list[PlannedStep]:
    """Every step after the profile's, in recovery order, for the chosen parts; `homes`
    names the vault of each source path (by logical name) kept in one."""
    steps: list[PlannedStep] = []
    if "files" in parts:
        steps += _file_steps(sources, homes or {})
    ordered = [s for s in streams if s.format == "globals"] + [
        s for s in streams if s.format != "globals"]
    for wanted in ("databases", "containers", "vms"):
        if wanted not in parts:
            continue
        for stream in ordered:
            if STREAM_PARTS.get(stream.hook, "databases") != wanted:
                continue
            kind = {"databases": "database", "containers": "containers", "vms": "vm"}[wanted]
            steps.append(PlannedStep(RecoveryStep(
                kind=kind, part=wanted,  # type: ignore[arg-type]
                name=f"{stream.hook} {stream.database} (service {stream.service})"
                     + _from(stream.repository),
                targets=[stream.database], bytes=stream.bytes), stream=stream,
                repository=stream.repository))
    if "schedules" in parts and with_schedules:
        for key in profile.schedules:
            steps.append(PlannedStep(RecoveryStep(kind="schedule", part="schedules",
                                                  name=f"schedule {key}"), schedule=key))
    return steps


def _from(repository: str | None) -> str:
    return f" from vault {repository}" if repository else ""


def _file_steps(sources: Sequence[SourcePath], homes: Mapping[str, str]
                ) -> list[PlannedStep]:
    groups: dict[tuple[str, str, str | None], list[SourcePath]] = {}
    for item in sources:
        home = homes.get(item.logical)
        if item.kind == "config":
            key = ("config", f"config group {item.owner}", home)
        elif item.kind == "network":
            key = ("network", "network configuration", home)
        elif item.kind in ("service-config", "service-data"):
            key = ("service", f"service {item.owner}: config and data{_from(home)}", home)
        else:
            continue  # the profile files have their own first step
        groups.setdefault(key, []).append(item)
    rank = {"config": 0, "network": 1, "service": 2}
    ordered = sorted(groups.items(), key=lambda entry: rank[entry[0][0]])  # stable per kind
    return [PlannedStep(RecoveryStep(kind=kind, part="files", name=name,  # type: ignore[arg-type]
                                     targets=[item.source for item in items]), sources=items,
                        repository=home)
            for (kind, name, home), items in ordered]


def follow_ups(profile: Profile, steps: Sequence[RecoveryStep],
               secrets: Sequence[str], planned: Sequence[PlannedStep] = (),
               set_name: str = "latest") -> list[FollowUp]:
    """What a person still has to do: secrets (where they lived, never their values),
    services to start, steps to redo (those of a vault that could not be read: once per
    vault, with the restore that brings its services back)."""
    found = [FollowUp(kind="secret", text=f"put back the {place}") for place in secrets]
    found += [FollowUp(kind="service", text=f"start service {name}")
              for name in profile.services]
    unread: dict[str, set[str]] = {}
    in_vaults: set[int] = set()  # steps failed because their vault could not be read
    for entry in planned:
        if entry.repository and entry.step.result == "failed" and \
                (entry.step.error or "").startswith(f"vault {entry.repository}"):
            unread.setdefault(entry.repository, set()).update(entry.services)
            in_vaults.add(id(entry.step))
    for vault, services in sorted(unread.items()):
        found.append(FollowUp(kind="note", text=(
            f"vault {vault} could not be read: put its password back (as the profile names "
            f"it) and run restore-backup --backup {set_name} "
            f"--services {','.join(sorted(services))}")))
    for step in steps:
        if step.result == "failed" and id(step) not in in_vaults:
            found.append(FollowUp(kind="note", text=f"{step.name} failed: redo it with "
                                  "restore-backup once its cause is fixed"))
    return found
