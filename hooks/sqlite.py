"""SQLite: the sqlite3 shell's `.dump`, which reads under one transaction, streamed.

Restore replays the SQL into a new file next to the target and renames it into
place, so an existing database is replaced whole (with force) or not at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from hooks.base import (
    Command,
    DumpPlan,
    HookContext,
    HookError,
    HookModel,
    RestorePlanInput,
    RestoreTarget,
    finish_staged,
    logical_component,
    staging_path,
)


class SqliteConfig(HookModel):
    type: Literal["sqlite"]
    path: Path
    name: str | None = Field(default=None, description="logical name; default: the file stem")
    sqlite3: str = "sqlite3"
    schema_in_config: bool = False

    @field_validator("name")
    @classmethod
    def plain_name(cls, value: str | None) -> str | None:
        if value is not None and logical_component(value) != value:
            raise ValueError("a name may not hold '/', '\\', '%' or control characters, "
                             "nor be '.' or '..'")
        return value


def dump_argv(config: SqliteConfig, path: Path, schema_only: bool) -> list[str]:
    return [config.sqlite3, "-readonly", "-batch", str(path),
            ".schema" if schema_only else ".dump"]


def restore_argv(config: SqliteConfig, staging: Path) -> list[str]:
    # -safe: the stream is SQL only; .shell, .system, ATTACH and writefile() are refused.
    return [config.sqlite3, "-safe", "-bail", "-batch", str(staging)]


class SqliteHook:
    config_model = SqliteConfig

    def describe(self, config: HookModel) -> str:
        assert isinstance(config, SqliteConfig)
        return f"sqlite {config.path}"

    def check(self, config: HookModel, ctx: HookContext) -> None:
        assert isinstance(config, SqliteConfig)
        path = ctx.path(config.path)
        if not path.is_file():
            raise HookError(f"sqlite database {path} does not exist")

    def plan_dumps(self, config: HookModel, ctx: HookContext, service: str, index: int,
                   schema_only: bool) -> list[DumpPlan]:
        assert isinstance(config, SqliteConfig)
        path = ctx.path(config.path)
        name = config.name or logical_component(path.stem)
        return [DumpPlan("sqlite", service, index, str(path), f"services/{service}/{name}.sql",
                         "sql", Command(tuple(dump_argv(config, path, schema_only))))]

    def inspect_target(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> RestoreTarget:
        target = Path(plan.target)
        exists = target.exists()
        return RestoreTarget(plan.target, exists=exists,
                             empty=not exists or target.stat().st_size == 0)

    def restore(self, config: HookModel, ctx: HookContext, plan: RestorePlanInput) -> Command:
        assert isinstance(config, SqliteConfig)
        target = Path(plan.target)
        staging = staging_path(target)
        return Command(tuple(restore_argv(config, staging)))

    def finish_restore(self, plan: RestorePlanInput, succeeded: bool) -> None:
        finish_staged(Path(plan.target), succeeded)

    def untrusted_risk(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> str | None:
        return None  # sqlite3 -safe
