"""Which source paths a backup set holds, and where each sits in the logical layout.

The logical layout is the tree users see in exports and listings (DESIGN.md):
`config/<group>/…`, `services/<svc>/{config,data}/…`, `infrastructure/network-configs/…`,
`strongroom/profiles/…`. Restores put files back at their absolute source paths.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from orchestrator.engines.restic_args import escape_pattern
from orchestrator.errors import NotFoundError, UsageError
from orchestrator.profile.schema import Profile

log = logging.getLogger("strongroom")

Kind = Literal["config", "service-config", "service-data", "network", "profile"]
CONFIG_KINDS: frozenset[str] = frozenset({"config", "service-config", "network", "profile"})


@dataclass(frozen=True)
class SourcePath:
    source: str
    logical: str
    kind: Kind
    owner: str
    excludes: tuple[str, ...] = ()
    missing: str = "fail"  # when the path does not exist: fail, warn or skip

    @property
    def service(self) -> str | None:
        return self.owner if self.kind in ("service-config", "service-data") else None


def logical_paths(prefix: str, paths: Sequence[Path]) -> list[str]:
    """One path sits at the prefix itself; several sit under it by base name, made unique."""
    if len(paths) == 1:
        return [prefix]
    taken: set[str] = set()
    result: list[str] = []
    for path in paths:
        base = path.name or "root"
        candidate, counter = base, 2
        while candidate in taken:
            candidate, counter = f"{base}-{counter}", counter + 1
        taken.add(candidate)
        result.append(f"{prefix}/{candidate}")
    return result


def anchored_excludes(source: str, patterns: Iterable[str]) -> tuple[str, ...]:
    """Exclude globs relative to a source path, anchored so they touch nothing else."""
    anchored: list[str] = []
    root = escape_pattern(source.rstrip("/"))
    for pattern in patterns:
        if pattern.startswith("/"):
            anchored.append(pattern)
        elif "/" not in pattern.rstrip("/"):
            anchored.append(f"{root}/**/{pattern}")
        else:
            anchored.append(f"{root}/{pattern.removeprefix('./')}")
    return tuple(anchored)


def _group(
    prefix: str, paths: Sequence[Path], kind: Kind, owner: str, excludes: Sequence[str] = (),
    missing: str = "fail",
) -> list[SourcePath]:
    return [
        SourcePath(str(path), logical, kind, owner, anchored_excludes(str(path), excludes),
                   missing)
        for path, logical in zip(paths, logical_paths(prefix, paths), strict=True)
    ]


def plan_sources(
    profile: Profile,
    backup_type: str,
    services: Sequence[str] = (),
    include_data: bool = False,
) -> list[SourcePath]:
    """The file parts of a set of this type, in layout order."""
    unknown = [name for name in services if name not in profile.services]
    if unknown:
        have = ", ".join(profile.services) or "none"
        raise UsageError(f"unknown service(s): {', '.join(unknown)} (profile has: {have})")
    if backup_type == "service" and not services:
        raise UsageError("--type service needs --services NAME[,NAME…]")
    if backup_type == "config" and include_data:
        if services:
            raise UsageError("--include-data does not apply to --type config: give --type "
                             f"service --services {','.join(services)} --include-data (or "
                             f"--service {services[0]}), or --type full for every service")
        raise UsageError("--include-data does not apply to --type config; use --type full")

    chosen = list(services) or list(profile.services)
    with_data = backup_type in ("full", "disaster-recovery") or include_data
    sources: list[SourcePath] = []
    if backup_type != "service":
        for group, spec in profile.config.items():
            sources += _group(f"config/{group}", spec.paths, "config", group, spec.exclude,
                              spec.missing)
    for name in chosen:
        svc = profile.services[name]
        config = svc.config + [p for p in _hook_config_files(profile, name) if p not in svc.config]
        sources += _group(f"services/{name}/config", config, "service-config", name,
                          svc.exclude, svc.missing)
        if with_data:
            sources += _group(f"services/{name}/data", svc.data, "service-data", name,
                              svc.exclude, svc.missing)
    if backup_type != "service":
        sources += _group("infrastructure/network-configs", profile.infrastructure.network,
                          "network", "network")
    if backup_type == "disaster-recovery":
        sources += _group("strongroom/profiles", profile.source_files, "profile", "profile")
    return _first_of_each(sources)


def _hook_config_files(profile: Profile, service: str) -> list[Path]:
    """Files that define a hook's source (compose files), relative to the profile's folder."""
    from hooks import parse_config

    base = profile.source_files[0].parent if profile.source_files else Path.cwd()
    files = []
    for entry in profile.services[service].hooks:
        for path in parse_config(entry.model_dump()).config_files():
            files.append(path if path.is_absolute() else base / path)
    return files


def _first_of_each(sources: list[SourcePath]) -> list[SourcePath]:
    seen: set[str] = set()
    unique = []
    for item in sources:
        if item.source not in seen:
            seen.add(item.source)
            unique.append(item)
    return unique


def check_sources_exist(sources: Sequence[SourcePath]) -> list[SourcePath]:
    """The sources that exist. An absent one fails the set unless its group or service
    says `missing = "warn"` (logged) or `"skip"`: then it is left out."""
    absent = [item for item in sources if not Path(item.source).exists()]
    failing = [item for item in absent if item.missing == "fail"]
    if failing:
        lines = "\n".join(f"  {item.source} ({item.logical})" for item in failing)
        raise NotFoundError(
            f"{len(failing)} source path(s) do not exist:\n{lines}",
            hint='missing = "warn" or "skip" in its [config] group or service leaves an '
                 "absent path out instead")
    for item in absent:
        level = logging.WARNING if item.missing == "warn" else logging.INFO
        log.log(level, "%s (%s) does not exist: left out of the set (missing = %r)",
                item.source, item.logical, item.missing)
    return [item for item in sources if item not in absent]


def missing_paths(profile: Profile) -> list[str]:
    """Profile paths that do not exist, as warnings (`profile validate`); `skip` ones are
    expected to come and go and are not reported."""
    warnings = []
    for item in plan_sources(profile, "disaster-recovery"):
        if item.missing != "skip" and not Path(item.source).exists():
            effect = "a backup fails" if item.missing == "fail" else "a backup leaves it out"
            warnings.append(f"{item.source} ({item.logical}) does not exist: {effect} "
                            f'(missing = "{item.missing}")')
    return warnings


def select_for_restore(
    sources: Sequence[SourcePath], mode: str, services: Sequence[str] = (),
    check_services: bool = True,
) -> list[SourcePath]:
    """The parts of a set that a restore mode brings back."""
    chosen = list(sources)
    if mode == "config-only":
        chosen = [item for item in chosen if item.kind in CONFIG_KINDS]
    if mode == "selective" and not services:
        raise UsageError("--mode selective needs --services NAME[,NAME…]")
    if services:
        present = {item.service for item in sources if item.service}
        unknown = [name for name in services if name not in present]
        if unknown and check_services:
            raise UsageError(
                f"the backup holds no service named {', '.join(unknown)} "
                f"(it has: {', '.join(sorted(present)) or 'none'})"
            )
        chosen = [item for item in chosen if item.service in services]
    return chosen
