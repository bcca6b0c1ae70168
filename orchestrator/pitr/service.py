"""A service's continuous PostgreSQL hook: its config, spool and data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hooks import parse_config
from hooks.base import HookContext
from hooks.postgresql import PostgresqlConfig
from orchestrator.errors import UnknownName, UsageError
from orchestrator.profile.schema import Profile

FAMILY = "continuous"


@dataclass(frozen=True)
class ContinuousService:
    name: str
    config: PostgresqlConfig
    data_directory: Path
    spool: Path


def context_for(profile: Profile) -> HookContext:
    base = profile.source_files[0].parent if profile.source_files else Path.cwd()
    return HookContext(base_dir=base)


def continuous_service(profile: Profile, service: str) -> ContinuousService:
    """The service's postgresql hook with `continuous = true`, or one clear error."""
    spec = profile.services.get(service)
    if spec is None:
        have = ", ".join(profile.services) or "none"
        raise UnknownName(f"no service named {service!r} in the profile (have: {have})")
    found = [parse_config(hook.model_dump()) for hook in spec.hooks if hook.type == "postgresql"]
    chosen = [config for config in found
              if isinstance(config, PostgresqlConfig) and config.continuous]
    if not chosen:
        raise UsageError(f"service {service!r} has no postgresql hook with continuous = true",
                         hint="add continuous = true and data_directory to its hook")
    if len(chosen) > 1:
        raise UsageError(f"service {service!r} has {len(chosen)} continuous postgresql hooks; "
                         "one cluster per service")
    config = chosen[0]
    ctx = context_for(profile)
    assert config.data_directory is not None  # the hook's model requires it
    spool = config.spool_directory()
    assert spool is not None
    return ContinuousService(service, config, ctx.path(config.data_directory), ctx.path(spool))
