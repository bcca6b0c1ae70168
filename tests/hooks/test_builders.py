"""The hooks' argv builders and config models: pure, no servers."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hooks import command as command_hook
from hooks import config_problems, hook_for, mongodb, mysql, parse_config, postgresql, sqlite
from hooks.base import SECRET_FD, HookContext, RestorePlanInput

CTX = HookContext(base_dir=Path("/etc/strongroom"))


def pg(**values: object) -> postgresql.PostgresqlConfig:
    return postgresql.PostgresqlConfig.model_validate({"type": "postgresql", **values})


def test_pg_dump_is_uncompressed_custom_format_with_no_password_on_argv() -> None:
    config = pg(host="db", port=5433, username="nc", password_file="nc.pass")
    argv = postgresql.dump_argv(config, "nextcloud", schema_only=False)
    assert argv == ["pg_dump", "-h", "db", "-p", "5433", "-U", "nc", "--no-password",
                    "-Fc", "-Z0", "-d", "nextcloud"]
    assert not any("pass" in item for item in argv[1:] if item != "--no-password")


def test_pg_plain_schema_only_and_extra_options() -> None:
    argv = postgresql.dump_argv(pg(format="plain", options=["--exclude-table=logs"]), "app", True)
    assert argv[-5:] == ["--if-exists", "--schema-only", "--exclude-table=logs", "-d", "app"]
    assert "-Fp" in argv and "--clean" in argv


def test_pg_tools_come_from_pg_dumps_folder() -> None:
    config = pg(pg_dump="/usr/lib/postgresql/16/bin/pg_dump")
    assert postgresql.restore_argv(config, "x", "custom")[0] == "/usr/lib/postgresql/16/bin/pg_restore"
    assert postgresql.globals_argv(config)[0] == "/usr/lib/postgresql/16/bin/pg_dumpall"
    assert postgresql.tool(pg(), "psql") == "psql"


def test_pg_restore_argv_by_format() -> None:
    custom = postgresql.restore_argv(pg(), "new", "custom")
    assert custom[:1] == ["pg_restore"] and custom[-2:] == ["-d", "new"]
    assert {"--clean", "--if-exists", "--no-owner", "--exit-on-error"} <= set(custom)
    plain = postgresql.restore_argv(pg(), "new", "plain")
    assert plain[0] == "psql" and "ON_ERROR_STOP=1" in plain
    assert "ON_ERROR_STOP=1" not in postgresql.restore_argv(pg(), "postgres", "globals")


def test_pg_password_goes_to_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\nsecond line ignored\n")
    env = postgresql.child_env(pg(password_file=str(secret), sslmode="require"), CTX)
    assert env["PGPASSWORD"] == "s3cret" and env["PGSSLMODE"] == "require"
    assert "PGPASSWORD" not in postgresql.child_env(pg(), CTX)


def test_pg_identifiers_and_literals_are_quoted() -> None:
    assert postgresql.quote_ident('we"ird') == '"we""ird"'
    assert postgresql.quote_literal("o'neil") == "'o''neil'"


def test_pg_plain_error_strips_tool_prefixes() -> None:
    stderr = ('psql: error: connection to server at "127.0.0.1", port 5433 failed: '
              "Connection refused\n")
    assert postgresql.plain_error(stderr) == "Connection refused"


def test_mysql_credentials_travel_in_an_option_file_never_argv() -> None:
    config = mysql.MysqlConfig.model_validate(
        {"type": "mariadb", "host": "127.0.0.1", "port": 3306, "username": "root"})
    argv = mysql.dump_argv(config, "shop", schema_only=False)
    assert argv[1] == f"--defaults-extra-file=/dev/fd/{SECRET_FD}"
    assert {"--single-transaction", "--routines", "--events", "--triggers"} <= set(argv)
    assert argv[-2:] == ["--", "shop"] and "--databases" not in argv
    assert "--no-data" in mysql.dump_argv(config, "shop", schema_only=True)
    text = mysql.defaults_file(config, 'p"a\\ss').decode()
    assert text.splitlines() == ["[client]", 'user="root"', 'password="p\\"a\\\\ss"',
                                 'host="127.0.0.1"', "port=3306"]


def test_mysql_quoting() -> None:
    assert mysql.quote_ident("we`ird") == "`we``ird`"
    assert mysql.quote_literal("o'ne\\il") == "'o\\'ne\\\\il'"


def test_sqlite_dump_is_read_only_and_restore_goes_to_a_staging_file() -> None:
    config = sqlite.SqliteConfig.model_validate({"type": "sqlite", "path": "/srv/app.db"})
    assert sqlite.dump_argv(config, Path("/srv/app.db"), False) == [
        "sqlite3", "-readonly", "-batch", "/srv/app.db", ".dump"]
    assert sqlite.dump_argv(config, Path("/srv/app.db"), True)[-1] == ".schema"



def test_a_staged_restore_lives_in_a_private_folder_until_it_is_finished(tmp_path: Path) -> None:
    target = tmp_path / "app.db"
    target.write_text("old")
    staged = sqlite.staging_path(target)
    assert staged.name == "app.db" and staged.parent.parent == tmp_path
    assert staged.parent.stat().st_mode & 0o777 == 0o700
    staged.write_text("new")
    sqlite.finish_staged(target, True)
    assert target.read_text() == "new" and list(tmp_path.iterdir()) == [target]
    sqlite.staging_path(target).write_text("half")
    sqlite.finish_staged(target, False)
    assert target.read_text() == "new" and list(tmp_path.iterdir()) == [target]


def test_mongodb_uri_travels_as_a_yaml_config_file() -> None:
    config = mongodb.MongodbConfig.model_validate({"type": "mongodb", "uri_file": "/x"})
    assert mongodb.dump_argv(config, "all") == ["mongodump", f"--config=/dev/fd/{SECRET_FD}",
                                                "--archive"]
    assert mongodb.config_file('mongodb://u:p"w@h/') == b'uri: "mongodb://u:p\\"w@h/"\n'
    assert mongodb.restore_argv(config, "shop", "shop")[-1] == "--nsInclude=shop.*"
    assert mongodb.restore_argv(config, "shop", "copy")[-2:] == ["--nsFrom=shop.*",
                                                                 "--nsTo=copy.*"]


def test_command_hook_needs_argv_lists_unless_shell_is_set() -> None:
    with pytest.raises(ValidationError, match="argv lists"):
        command_hook.CommandConfig.model_validate(
            {"type": "command", "name": "r.rdb", "dump": "redis-cli --rdb -"})
    config = command_hook.CommandConfig.model_validate(
        {"type": "command", "name": "r.rdb", "dump": "redis-cli --rdb - | cat", "shell": True})
    assert command_hook.argv_of(config.dump, config.shell) == (
        "bash", "-o", "pipefail", "-c", "redis-cli --rdb - | cat")
    assert command_hook.argv_of(["redis-cli", "--rdb", "-"], False) == ("redis-cli", "--rdb", "-")


def test_registry_and_config_problems_locate_inside_the_entry() -> None:
    assert hook_for("mariadb") is hook_for("mysql")
    assert isinstance(parse_config({"type": "postgresql"}), postgresql.PostgresqlConfig)
    problems = config_problems({"type": "postgresql", "databses": ["x"], "port": 0})
    assert (("databses",), "unknown key") in problems
    assert any(loc == ("port",) for loc, _ in problems)
    assert config_problems({"type": "sqlite"}) == [(("path",), "Field required")]


def test_restore_plan_input_defaults() -> None:
    plan = RestorePlanInput(database="a", target="b", format="custom", logical="services/x/a.dump")
    assert plan.force is False


def test_restore_clients_run_in_their_safe_modes() -> None:
    from hooks import mysql, sqlite

    config = sqlite.SqliteConfig(type="sqlite", path=Path("/x.db"))
    assert sqlite.restore_argv(config, Path("/x.db.tmp"))[:2] == ["sqlite3", "-safe"]
    my = mysql.MysqlConfig(type="mariadb", client_command="mariadb")
    sandboxed = mysql.restore_argv(my, "shop", sandbox=True)
    assert sandboxed[1].startswith("--defaults-extra-file=") and sandboxed[2] == "--sandbox"
    assert sandboxed[-2:] == ["--", "shop"]
    assert "--sandbox" not in mysql.restore_argv(my, "shop", sandbox=False)


def test_postgresql_table_statistics_query_and_answer() -> None:
    sql = postgresql.stats_sql(['public."odd\'name"', "app.items"])
    assert sql.count(" UNION ALL ") == 1
    assert "SELECT 'public.\"odd''name\"', count(*)" in sql  # the label is a literal
    assert 'FROM ONLY public."odd\'name" t' in sql and "ORDER BY md5(t::text)" in sql
    argv = postgresql.stats_argv(pg(host="db", username="u"), "copy", sql)
    assert argv[:8] == ["psql", "-X", "-A", "-t", "-F", "\x1f", "-R", "\x1e"]
    assert argv[-4:] == ["-d", "copy", "-c", sql] and "-h" in argv
    parsed = postgresql.parse_stats("public.a\x1f3\x1fabc\x1eapp.b|x\x1f0\x1f\x1e\n")
    assert [(t.table, t.rows, t.checksum) for t in parsed] == [
        ("public.a", 3, "md5:abc"), ("app.b|x", 0, "md5:")]
