"""PostgreSQL: pg_dump -Fc -Z0 per database (or plain SQL), globals with pg_dumpall.

Dumps are uncompressed so that restic deduplicates and compresses them. The
password goes to the children as PGPASSWORD in their environment, never on argv.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from hooks.base import (
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

log = logging.getLogger("strongroom.hooks.postgresql")
GLOBALS = "postgresql-globals"
LIST_DATABASES = (
    "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1"
)
COUNT_RELATIONS = (
    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r','v','m','S','f','p') "
    "AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
)


class PostgresqlConfig(HookModel):
    type: Literal["postgresql"]
    databases: list[str] = Field(default_factory=lambda: ["all"], min_length=1)
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    username: str | None = None
    password_file: Path | None = None
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = (
        None
    )
    format: Literal["custom", "plain"] = "custom"
    globals: bool | None = Field(default=None, description="default: with databases = ['all']")
    options: list[str] = Field(default_factory=list, description="extra pg_dump options")
    pg_dump: str = "pg_dump"
    schema_in_config: bool = False
    # Continuous archiving (WAL through the repository) for point-in-time recovery.
    continuous: bool = False
    data_directory: Path | None = Field(default=None, description="the cluster's PGDATA")
    archive_timeout: str = Field(default="60s", pattern=r"^[1-9][0-9]{0,6}(ms|s|min|h)?$",
                                 description="bounds the RPO of an idle server")
    spool: Path | None = Field(default=None, description="WAL spool folder (default: "
                               "strongroom-wal-spool beside data_directory)")

    @model_validator(mode="after")
    def _continuous_needs_data_directory(self) -> PostgresqlConfig:
        if self.continuous and self.data_directory is None:
            raise ValueError("continuous = true needs data_directory (the cluster's PGDATA)")
        return self

    def spool_directory(self) -> Path | None:
        if self.spool is not None:
            return self.spool
        if self.data_directory is None:
            return None
        return self.data_directory.parent / "strongroom-wal-spool"


def tool(config: PostgresqlConfig, name: str) -> str:
    """pg_dump's siblings (psql, pg_restore, pg_dumpall) from the same folder."""
    folder = Path(config.pg_dump).parent
    return name if str(folder) == "." else str(folder / name)


def connection_args(config: PostgresqlConfig) -> list[str]:
    args: list[str] = []
    if config.host:
        args += ["-h", config.host]
    if config.port:
        args += ["-p", str(config.port)]
    if config.username:
        args += ["-U", config.username]
    return args


def child_env(config: PostgresqlConfig, ctx: HookContext) -> dict[str, str | None]:
    password = read_secret(ctx.path(config.password_file) if config.password_file else None,
                           "postgresql")
    env: dict[str, str | None] = {"PGCONNECT_TIMEOUT": "10"}
    if password is not None:
        env["PGPASSWORD"] = password
    if config.sslmode:
        env["PGSSLMODE"] = config.sslmode
    return env


def query_argv(config: PostgresqlConfig, database: str, sql: str) -> list[str]:
    return [tool(config, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            *connection_args(config), "-d", database, "-c", sql]


def dump_argv(config: PostgresqlConfig, database: str, schema_only: bool) -> list[str]:
    argv = [config.pg_dump, *connection_args(config), "--no-password"]
    if config.format == "custom":
        argv += ["-Fc", "-Z0"]
    else:
        argv += ["-Fp", "--clean", "--if-exists"]
    if schema_only:
        argv.append("--schema-only")
    return [*argv, *config.options, "-d", database]


def globals_argv(config: PostgresqlConfig) -> list[str]:
    return [tool(config, "pg_dumpall"), *connection_args(config), "--no-password",
            "--globals-only"]


def restore_argv(config: PostgresqlConfig, database: str, dump_format: str) -> list[str]:
    if dump_format == "custom":
        return [tool(config, "pg_restore"), *connection_args(config), "--no-password",
                "--clean", "--if-exists", "--no-owner", "--exit-on-error", "-d", database]
    stop = [] if dump_format == "globals" else ["-v", "ON_ERROR_STOP=1"]
    return [tool(config, "psql"), "-X", "-q", *stop, *connection_args(config), "-d", database]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def logical_name(service: str, database: str, dump_format: str) -> str:
    name = logical_component(database)
    return f"services/{service}/{name}.{'dump' if dump_format == 'custom' else 'sql'}"


def where(config: PostgresqlConfig) -> str:
    host = config.host or "the local socket"
    port = f":{config.port}" if config.port else ""
    user = f" as {config.username}" if config.username else ""
    return f"PostgreSQL at {host}{port}{user}"


def plain_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "no message"
    last = re.sub(r"^(psql|pg_dump|pg_restore|pg_dumpall): error: ", "", last)
    return re.sub(r'^connection to server at "[^"]*"(, port \d+)? failed: ', "", last)


class PostgresqlHook:
    config_model = PostgresqlConfig

    def describe(self, config: HookModel) -> str:
        assert isinstance(config, PostgresqlConfig)
        return f"postgresql {', '.join(config.databases)} ({where(config)})"

    def _query(self, config: PostgresqlConfig, ctx: HookContext, database: str,
               sql: str) -> str:
        command = Command(tuple(query_argv(config, database, sql)), child_env(config, ctx))
        try:
            return run.run_command(command, timeout=60).stdout.strip()
        except run.CommandError as exc:
            raise HookError(f"cannot connect to {where(config)}: {plain_error(exc.stderr_tail)}"
                            ) from None

    def check(self, config: HookModel, ctx: HookContext) -> None:
        assert isinstance(config, PostgresqlConfig)
        server = int(self._query(config, ctx, "postgres", "SHOW server_version_num") or 0)
        client = run.run([config.pg_dump, "--version"]).stdout
        match = re.search(r"(\d+)(?:\.(\d+))?", client)
        if match and server and int(match.group(1)) < server // 10000:
            log.warning("pg_dump %s is older than the server (%d): dumps may fail or be "
                        "incomplete; install the newer client", match.group(0), server // 10000)

    def databases(self, config: PostgresqlConfig, ctx: HookContext) -> list[str]:
        if config.databases != ["all"]:
            return list(config.databases)
        return self._query(config, ctx, "postgres", LIST_DATABASES).splitlines()

    def plan_dumps(self, config: HookModel, ctx: HookContext, service: str, index: int,
                   schema_only: bool) -> list[DumpPlan]:
        assert isinstance(config, PostgresqlConfig)
        env = child_env(config, ctx)
        plans = []
        with_globals = config.globals if config.globals is not None else (
            config.databases == ["all"])
        if with_globals and not schema_only:
            plans.append(DumpPlan("postgresql", service, index, GLOBALS,
                                  f"services/{service}/{GLOBALS}.sql", "globals",
                                  Command(tuple(globals_argv(config)), env)))
        for database in self.databases(config, ctx):
            plans.append(DumpPlan(
                "postgresql", service, index, database,
                logical_name(service, database, config.format), config.format,
                Command(tuple(dump_argv(config, database, schema_only)), env)))
        return plans

    def inspect_target(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> RestoreTarget:
        assert isinstance(config, PostgresqlConfig)
        if plan.format == "globals":
            return RestoreTarget(plan.target, exists=True, empty=True)
        name = quote_literal(plan.target)
        found = self._query(config, ctx, "postgres",
                            f"SELECT 1 FROM pg_database WHERE datname = {name}")
        if not found:
            return RestoreTarget(plan.target, exists=False, empty=True)
        count = int(self._query(config, ctx, plan.target, COUNT_RELATIONS) or 0)
        return RestoreTarget(plan.target, exists=True, empty=count == 0)

    def restore(self, config: HookModel, ctx: HookContext, plan: RestorePlanInput) -> Command:
        assert isinstance(config, PostgresqlConfig)
        if plan.format == "globals":
            return Command(tuple(restore_argv(config, "postgres", "globals")),
                           child_env(config, ctx))
        target = self.inspect_target(config, ctx, plan)
        if not target.exists:
            self._query(config, ctx, "postgres", f"CREATE DATABASE {quote_ident(plan.target)}")
        return Command(tuple(restore_argv(config, plan.target, plan.format)),
                       child_env(config, ctx))

    def finish_restore(self, plan: RestorePlanInput, succeeded: bool) -> None:
        return None

    def table_stats(self, config: HookModel, ctx: HookContext,
                    database: str) -> list[TableStats]:
        """Each table's rows and contents digest, for a drill's restored copy."""
        assert isinstance(config, PostgresqlConfig)
        tables = [line for line in self._query(config, ctx, database, LIST_TABLES).splitlines()
                  if line]
        if not tables:
            return []
        command = Command(tuple(stats_argv(config, database, stats_sql(tables))),
                          child_env(config, ctx))
        try:
            output = run.run_command(command, timeout=3600).stdout
        except run.CommandError as exc:
            raise HookError(f"cannot read the tables of {database}: "
                            f"{plain_error(exc.stderr_tail)}") from None
        return parse_stats(output)

    def drop_database(self, config: HookModel, ctx: HookContext, database: str) -> None:
        assert isinstance(config, PostgresqlConfig)
        self._query(config, ctx, "postgres",
                    f"DROP DATABASE IF EXISTS {quote_ident(database)} WITH (FORCE)")

    def untrusted_risk(self, config: HookModel, ctx: HookContext,
                       plan: RestorePlanInput) -> str | None:
        if plan.format == "custom":
            return None  # pg_restore reads a catalogue; it has no client-side commands
        return "psql obeys backslash commands in plain SQL (\\! runs a shell command)"


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


FIELD, RECORD = "\x1f", "\x1e"  # psql -F / -R: no table name holds them in practice
LIST_TABLES = (
    "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
    "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
)


def stats_sql(tables: list[str]) -> str:
    """Row count and an order-free md5 of every row's text, per table (quoted names)."""
    return " UNION ALL ".join(
        f"SELECT {quote_literal(name)}, count(*), coalesce(md5(string_agg(md5(t::text), '' "
        f"ORDER BY md5(t::text))), '') FROM ONLY {name} t" for name in tables)


def stats_argv(config: PostgresqlConfig, database: str, sql: str) -> list[str]:
    return [tool(config, "psql"), "-X", "-A", "-t", "-F", FIELD, "-R", RECORD, "-v",
            "ON_ERROR_STOP=1", *connection_args(config), "-d", database, "-c", sql]


def parse_stats(output: str) -> list[TableStats]:
    found = []
    for record in output.split(RECORD):
        fields = record.strip("\n").split(FIELD)
        if len(fields) == 3:
            found.append(TableStats(fields[0], int(fields[1]), f"md5:{fields[2]}"))
    return found
