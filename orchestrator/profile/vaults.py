"""Per-service repositories (vaults): a service may keep its parts of a set in a repository
of its own, under its own password and so its own master key. The checks a profile's
vaults must pass; the set's manifest always stays in the main repository."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class _Repository(Protocol):
    @property
    def engine(self) -> str: ...
    @property
    def vaults(self) -> Mapping[str, str]: ...


class _Service(Protocol):
    @property
    def repository(self) -> str | None: ...
    @property
    def hooks(self) -> Sequence[Any]: ...


class _Schedule(Protocol):
    @property
    def destination(self) -> str | None: ...
    @property
    def sync_to(self) -> list[str]: ...


class Profile(Protocol):
    """The parts of a profile these checks read (schema.py imports this module)."""

    @property
    def repositories(self) -> Mapping[str, _Repository]: ...
    @property
    def services(self) -> Mapping[str, _Service]: ...


def vault_names(profile: Profile) -> set[str]:
    """The repositories some service keeps its parts in (per-service keys), and those a
    repository's `vaults` map sends them to."""
    return {svc.repository for svc in profile.services.values() if svc.repository} | {
        home for repository in profile.repositories.values()
        for home in repository.vaults.values()}


def vault_problems(profile: Profile, svc_name: str,
                    service: _Service) -> list[tuple[tuple[str | int, ...], str]]:
    """A service's own repository must exist, be restic, and not be the default destination
    (a vault holds one service's parts, never a set's manifest)."""
    name = service.repository
    where: tuple[str | int, ...] = ("services", svc_name, "repository")
    if name is None:
        return []
    if name not in profile.repositories:
        return [(where, f"no repository named {name!r} (have: {', '.join(profile.repositories)})")]
    if profile.repositories[name].engine != "restic":
        return [(where, f"{name!r} is a borg repository: a service's own repository must be "
                 "restic in this version")]
    if any(getattr(hook, "type", None) == "postgresql" and (hook.model_extra or {}).get(
            "continuous") for hook in service.hooks):
        return [(where, "continuous backup (a postgresql hook with continuous = true) does "
                 "not follow a service's own repository in this version: its WAL would go "
                 "to the main repository")]
    if name == next(iter(profile.repositories)):
        return [(where, f"{name!r} is the profile's first repository, the default destination "
                 "of sets: a service's own repository must be another one")]
    return []


def vault_map_problems(profile: Profile) -> list[tuple[tuple[str | int, ...], str]]:
    """A repository's `vaults` map names, for each vault, another restic repository of the
    profile that holds those parts of its sets (backup-sync copies them there)."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for repo_name, repository in profile.repositories.items():
        for vault, home in repository.vaults.items():
            where: tuple[str | int, ...] = ("repositories", repo_name, "vaults", vault)
            if home not in profile.repositories:
                problems.append((where, f"no repository named {home!r} (have: "
                                 f"{', '.join(profile.repositories)})"))
            elif home == repo_name:
                problems.append((where, f"{home!r} is this repository: a vault's parts go "
                                 "to another one"))
            elif profile.repositories[home].engine != "restic":
                problems.append((where, f"{home!r} is a borg repository: a vault's parts "
                                 "go to a restic one in this version"))
    return problems


def vault_used_as_main(profile: Profile, sched_name: str,
                        sched: _Schedule) -> list[tuple[tuple[str | int, ...], str]]:
    vaults = vault_names(profile)
    problems: list[tuple[tuple[str | int, ...], str]] = []
    if sched.destination in vaults:
        problems.append((("schedules", sched_name, "destination"),
                         f"{sched.destination!r} is a service's own repository (a vault); a "
                         "schedule's sets go to another repository"))
    for index, target in enumerate(sched.sync_to):
        if target in vaults:
            problems.append((("schedules", sched_name, "sync_to", index),
                             f"{target!r} is a service's own repository (a vault): sets are "
                             "not copied into it"))
    return problems
