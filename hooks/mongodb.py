"""MongoDB: mongodump --archive (no --gzip, so restic deduplicates), mongorestore --drop.

The connection string, which holds the password, is read from `uri_file` and handed
to the tools as a YAML config file through a pipe (`--config=/dev/fd/N`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import Field

from hooks.base import (
    SECRET_FD,
    Command,
    DumpPlan,
    HookContext,
    HookError,
    HookModel,
    RestorePlanInput,
    RestoreTarget,
    logical_component,
    read_secret,
)

ALL = "all"


class MongodbConfig(HookModel):
    type: Literal["mongodb"]
    uri_file: Path = Field(description="file holding the mongodb:// connection string")
    databases: list[str] = Field(default_factory=lambda: [ALL], min_length=1)
    mongodump: str = "mongodump"
    mongorestore: str = "mongorestore"
    options: list[str] = Field(default_factory=list)
    schema_in_config: bool = False


def config_file(uri: str) -> bytes:
    # JSON strings are valid YAML scalars, with every character escaped safely.
    return f"uri: {json.dumps(uri)}\n".encode()


def dump_argv(config: MongodbConfig, database: str) -> list[str]:
    argv = [config.mongodump, f"--config=/dev/fd/{SECRET_FD}", "--archive"]
    if database != ALL:
        argv.append(f"--db={database}")
    return [*argv, *config.options]


def restore_argv(config: MongodbConfig, database: str, target: str) -> list[str]:
    argv = [config.mongorestore, f"--config=/dev/fd/{SECRET_FD}", "--archive", "--drop"]
    if database != ALL and target != database:
        argv += [f"--nsFrom={database}.*", f"--nsTo={target}.*"]
    elif database != ALL:
        argv.append(f"--nsInclude={database}.*")
    return argv


class MongodbHook:
    config_model = MongodbConfig

    def describe(self, config: HookModel) -> str:
        assert isinstance(config, MongodbConfig)
        return f"mongodb {', '.join(config.databases)}"

    def _secret(self, config: MongodbConfig, ctx: HookContext) -> bytes:
        uri = read_secret(ctx.path(config.uri_file), "mongodb")
        if not uri:
            raise HookError(f"mongodb: uri_file {config.uri_file} is empty")
        return config_file(uri)

    def check(self, config: HookModel, ctx: HookContext) -> None:
        assert isinstance(config, MongodbConfig)
        self._secret(config, ctx)

    def plan_dumps(self, config: HookModel, ctx: HookContext, service: str, index: int,
                   schema_only: bool) -> list[DumpPlan]:
        assert isinstance(config, MongodbConfig)
        if schema_only:
            return []
        secret = self._secret(config, ctx)
        return [
            DumpPlan("mongodb", service, index, database,
                     f"services/{service}/mongodb-{logical_component(database)}.archive",
                     "archive",
                     Command(tuple(dump_argv(config, database)), secret=secret))
            for database in config.databases
        ]

    def inspect_target(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> RestoreTarget:
        # mongorestore --drop replaces the collections it restores; nothing to inspect.
        return RestoreTarget(plan.target, exists=True, empty=True)

    def restore(self, config: HookModel, ctx: HookContext, plan: RestorePlanInput) -> Command:
        assert isinstance(config, MongodbConfig)
        return Command(tuple(restore_argv(config, plan.database, plan.target)),
                       secret=self._secret(config, ctx))

    def finish_restore(self, plan: RestorePlanInput, succeeded: bool) -> None:
        return None

    def untrusted_risk(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> str | None:
        return None  # mongorestore reads BSON documents; nothing in them is run
