"""A generic hook: any program whose stdout is the dump and whose stdin takes it back.

`dump` and `restore` are argv lists. `shell = true` runs them as strings through
`bash -o pipefail -c` instead: the one place strongroom runs a shell, because the user
asked. pipefail makes a failed stage of a pipeline (`pg_dump … | gzip`) fail the whole
command, so a dump cut short is never stored as a complete one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from hooks.base import (
    Command,
    DumpPlan,
    HookContext,
    HookModel,
    RestorePlanInput,
    RestoreTarget,
)


class CommandConfig(HookModel):
    type: Literal["command"]
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="logical file name")
    dump: list[str] | str
    restore: list[str] | str | None = None
    shell: bool = False

    @model_validator(mode="after")
    def strings_need_shell(self) -> CommandConfig:
        for value in (self.dump, self.restore):
            if isinstance(value, str) and not self.shell:
                raise ValueError("dump/restore must be argv lists, or set shell = true")
            if isinstance(value, list) and not value:
                raise ValueError("dump/restore must not be empty")
        return self


SHELL = ("bash", "-o", "pipefail", "-c")


def argv_of(value: list[str] | str, shell: bool) -> tuple[str, ...]:
    if isinstance(value, str):
        return (*SHELL, value)
    return (*SHELL, " ".join(value)) if shell else tuple(value)


class CommandHook:
    config_model = CommandConfig

    def describe(self, config: HookModel) -> str:
        assert isinstance(config, CommandConfig)
        return f"command {config.name}"

    def check(self, config: HookModel, ctx: HookContext) -> None:
        return None

    def plan_dumps(self, config: HookModel, ctx: HookContext, service: str, index: int,
                   schema_only: bool) -> list[DumpPlan]:
        assert isinstance(config, CommandConfig)
        if schema_only:
            return []
        return [DumpPlan("command", service, index, config.name,
                         f"services/{service}/{config.name}", "raw",
                         Command(argv_of(config.dump, config.shell)))]

    def inspect_target(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> RestoreTarget:
        return RestoreTarget(plan.target, exists=False, empty=True)

    def restore(self, config: HookModel, ctx: HookContext, plan: RestorePlanInput) -> Command:
        assert isinstance(config, CommandConfig)
        from hooks.base import HookError

        if config.restore is None:
            raise HookError(f"command hook {config.name!r} has no restore command")
        return Command(argv_of(config.restore, config.shell))

    def finish_restore(self, plan: RestorePlanInput, succeeded: bool) -> None:
        return None

    def untrusted_risk(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> str | None:
        assert isinstance(config, CommandConfig)
        return (f"command hook {config.name!r} hands the stream to its own restore command, "
                "which strongroom cannot vouch for")
