from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hooks.base import HookContext, logical_component
from hooks.mysql import MysqlConfig, MysqlHook
from hooks.postgresql import logical_name
from hooks.sqlite import SqliteConfig, SqliteHook


@pytest.mark.parametrize(("name", "expected"), [
    ("nextcloud", "nextcloud"),
    ("my db-1.x", "my db-1.x"),
    ("../../../../tmp/x", "..%2F..%2F..%2F..%2Ftmp%2Fx"),
    ("..", "%2E%2E"),
    (".", "%2E"),
    ("", "%00"),
    ("a\\b%c", "a%5Cb%25c"),
    ("line\nbreak", "line%0Abreak"),
])
def test_names_from_outside_become_one_safe_component(name: str, expected: str) -> None:
    assert logical_component(name) == expected
    assert "/" not in logical_component(name)


def test_a_hostile_database_name_stays_inside_its_service() -> None:
    logical = logical_name("pg", "../../../../tmp/x", "custom")
    assert logical == "services/pg/..%2F..%2F..%2F..%2Ftmp%2Fx.dump"
    assert ".." not in logical.split("/")


def test_mysql_database_names_are_escaped_in_logical_paths() -> None:
    hook = MysqlHook()
    config = MysqlConfig(type="mariadb", databases=["../evil"])
    [plan] = hook.plan_dumps(config, HookContext(Path("/")), "db", 0, False)
    assert plan.logical == "services/db/..%2Fevil.sql" and plan.database == "../evil"


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "x%y"])
def test_a_sqlite_name_that_would_be_a_path_is_a_profile_error(name: str) -> None:
    with pytest.raises(ValidationError, match="may not hold"):
        SqliteConfig(type="sqlite", path=Path("/x.db"), name=name)


def test_a_sqlite_file_stem_is_escaped() -> None:
    config = SqliteConfig(type="sqlite", path=Path("/srv/odd%name.db"))
    [plan] = SqliteHook().plan_dumps(config, HookContext(Path("/")), "app", 0, False)
    assert plan.logical == "services/app/odd%25name.sql"
