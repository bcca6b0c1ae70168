"""MySQL and MariaDB: mariadb-dump / mysqldump per database, credentials through a pipe.

The client options (user, password, host, port, socket) reach every child as
`--defaults-extra-file=/dev/fd/N`, never on argv. A database is dumped without
`--databases`, so that it carries no `USE` statement and can be restored under
another name; the restore creates the database when it is missing.
"""

from __future__ import annotations

import functools
import shutil
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
    TableStats,
    logical_component,
    read_secret,
)
from orchestrator import run

SYSTEM_SCHEMAS = ("information_schema", "performance_schema", "sys", "mysql")


class MysqlConfig(HookModel):
    type: Literal["mysql", "mariadb"]
    databases: list[str] = Field(default_factory=lambda: ["all"], min_length=1)
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    socket: Path | None = None
    username: str | None = None
    password_file: Path | None = None
    include_system: bool = Field(default=False, description="with all: the mysql schema too")
    options: list[str] = Field(default_factory=list, description="extra dump options")
    dump_command: str | None = Field(default=None, description="mariadb-dump or mysqldump")
    client_command: str | None = Field(default=None, description="mariadb or mysql")
    schema_in_config: bool = False


def option_value(value: str) -> str:
    """A value for a MySQL option file: quoted, with backslash and quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def defaults_file(config: MysqlConfig, password: str | None) -> bytes:
    lines = ["[client]"]
    if config.username:
        lines.append(f"user={option_value(config.username)}")
    if password is not None:
        lines.append(f"password={option_value(password)}")
    if config.host:
        lines.append(f"host={option_value(config.host)}")
    if config.port:
        lines.append(f"port={config.port}")
    if config.socket:
        lines.append(f"socket={option_value(str(config.socket))}")
    return ("\n".join(lines) + "\n").encode()


def pick(configured: str | None, *candidates: str) -> str:
    if configured:
        return configured
    for name in candidates:
        if shutil.which(name):
            return name
    return candidates[0]


def first_arg() -> str:
    # --defaults-extra-file must come first on the command line.
    return f"--defaults-extra-file=/dev/fd/{SECRET_FD}"


def dump_argv(config: MysqlConfig, database: str, schema_only: bool) -> list[str]:
    argv = [pick(config.dump_command, "mariadb-dump", "mysqldump"), first_arg(),
            "--single-transaction", "--routines", "--events", "--triggers",
            "--hex-blob", "--default-character-set=utf8mb4"]
    if schema_only:
        argv.append("--no-data")
    return [*argv, *config.options, "--", database]


def client_argv(config: MysqlConfig, *args: str) -> list[str]:
    return [pick(config.client_command, "mariadb", "mysql"), first_arg(), *args]


def restore_argv(config: MysqlConfig, database: str, sandbox: bool) -> list[str]:
    # --sandbox: `system`, `\\!`, `source` and `tee` lines in the stream are refused.
    return client_argv(config, *(["--sandbox"] if sandbox else []), "--", database)


@functools.cache
def has_sandbox(client: str) -> bool:
    """Whether the client knows --sandbox (MariaDB 10.5.25, 10.6.18, 10.11.8, 11.x)."""
    try:
        run.run([client, "--sandbox", "--version"], timeout=30)
    except (run.CommandError, OSError):
        return False
    return True


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def quote_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def where(config: MysqlConfig) -> str:
    place = config.host or (str(config.socket) if config.socket else "the local socket")
    port = f":{config.port}" if config.port else ""
    user = f" as {config.username}" if config.username else ""
    return f"MySQL/MariaDB at {place}{port}{user}"


class MysqlHook:
    config_model = MysqlConfig

    def describe(self, config: HookModel) -> str:
        assert isinstance(config, MysqlConfig)
        return f"{config.type} {', '.join(config.databases)} ({where(config)})"

    def _secret(self, config: MysqlConfig, ctx: HookContext) -> bytes:
        path = ctx.path(config.password_file) if config.password_file else None
        return defaults_file(config, read_secret(path, config.type))

    def _sql(self, config: MysqlConfig, ctx: HookContext, sql: str) -> str:
        command = Command(tuple(client_argv(config, "-N", "-B", "-e", sql)),
                          secret=self._secret(config, ctx))
        try:
            return run.run_command(command, timeout=60).stdout.strip()
        except run.CommandError as exc:
            detail = exc.stderr_tail.strip().splitlines()[-1:] or ["no message"]
            raise HookError(f"cannot connect to {where(config)}: {detail[0]}") from None

    def check(self, config: HookModel, ctx: HookContext) -> None:
        assert isinstance(config, MysqlConfig)
        self._sql(config, ctx, "SELECT VERSION()")

    def databases(self, config: MysqlConfig, ctx: HookContext) -> list[str]:
        if config.databases != ["all"]:
            return list(config.databases)
        skip = SYSTEM_SCHEMAS[:3] if config.include_system else SYSTEM_SCHEMAS
        return [name for name in self._sql(config, ctx, "SHOW DATABASES").splitlines()
                if name not in skip]

    def plan_dumps(self, config: HookModel, ctx: HookContext, service: str, index: int,
                   schema_only: bool) -> list[DumpPlan]:
        assert isinstance(config, MysqlConfig)
        secret = self._secret(config, ctx)
        return [
            DumpPlan(config.type, service, index, database,
                     f"services/{service}/{logical_component(database)}.sql",
                     "sql", Command(tuple(dump_argv(config, database, schema_only)),
                                    secret=secret))
            for database in self.databases(config, ctx)
        ]

    def inspect_target(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> RestoreTarget:
        assert isinstance(config, MysqlConfig)
        name = quote_literal(plan.target)
        exists = self._sql(config, ctx, "SELECT COUNT(*) FROM information_schema.schemata "
                                        f"WHERE schema_name = {name}")
        if exists in ("", "0"):
            return RestoreTarget(plan.target, exists=False, empty=True)
        tables = self._sql(config, ctx, "SELECT COUNT(*) FROM information_schema.tables "
                                        f"WHERE table_schema = {name}")
        return RestoreTarget(plan.target, exists=True, empty=tables in ("", "0"))

    def restore(self, config: HookModel, ctx: HookContext, plan: RestorePlanInput) -> Command:
        assert isinstance(config, MysqlConfig)
        self._sql(config, ctx, f"CREATE DATABASE IF NOT EXISTS {quote_ident(plan.target)}")
        client = client_argv(config)[0]
        return Command(tuple(restore_argv(config, plan.target, has_sandbox(client))),
                       secret=self._secret(config, ctx))

    def finish_restore(self, plan: RestorePlanInput, succeeded: bool) -> None:
        return None

    def table_stats(self, config: HookModel, ctx: HookContext,
                    database: str) -> list[TableStats]:
        """Each table's rows and CHECKSUM TABLE, for a drill's restored copy."""
        assert isinstance(config, MysqlConfig)
        listed = self._sql(config, ctx, "SELECT table_name FROM information_schema.tables "
                                        f"WHERE table_schema = {quote_literal(database)} "
                                        "AND table_type = 'BASE TABLE' ORDER BY 1")
        tables = [name for name in listed.splitlines() if name]
        if not tables:
            return []
        names = [f"{quote_ident(database)}.{quote_ident(name)}" for name in tables]
        counted = dict(line.split("\t", 1) for line in self._sql(config, ctx, " UNION ALL ".join(
            f"SELECT {index}, COUNT(*) FROM {name}" for index, name in enumerate(names)
        )).splitlines() if "\t" in line)
        counts = [counted.get(str(index), "") for index in range(len(names))]
        sums = [line.rsplit("\t", 1)[-1] for line in self._sql(
            config, ctx, "CHECKSUM TABLE " + ", ".join(names) + " EXTENDED").splitlines()]
        if "" in counts or len(sums) != len(tables):
            raise HookError(f"cannot read the tables of {database}: unexpected answer")
        return [TableStats(name, int(count), f"checksum-table:{checksum}")
                for name, count, checksum in zip(tables, counts, sums, strict=True)]

    def drop_database(self, config: HookModel, ctx: HookContext, database: str) -> None:
        assert isinstance(config, MysqlConfig)
        self._sql(config, ctx, f"DROP DATABASE IF EXISTS {quote_ident(database)}")

    def untrusted_risk(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> str | None:
        assert isinstance(config, MysqlConfig)
        client = client_argv(config)[0]
        if has_sandbox(client):
            return None
        return (f"{client} has no --sandbox, and it obeys `system` and `\\!` lines in a dump "
                "(upgrade to MariaDB 10.5.25, 10.6.18, 10.11.8 or later)")
