"""Data-source hooks, one module per kind, in one explicit registry."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from hooks.base import Hook, HookError, HookModel


def _registry() -> dict[str, Hook]:
    from hooks.command import CommandHook
    from hooks.containers import ContainersHook
    from hooks.mongodb import MongodbHook
    from hooks.mysql import MysqlHook
    from hooks.postgresql import PostgresqlHook
    from hooks.sqlite import SqliteHook
    from hooks.vm import VmHook

    mysql = MysqlHook()
    return {
        "postgresql": PostgresqlHook(),
        "mysql": mysql,
        "mariadb": mysql,
        "sqlite": SqliteHook(),
        "mongodb": MongodbHook(),
        "command": CommandHook(),
        "containers": ContainersHook(),
        "vm": VmHook(),
    }


_HOOKS: dict[str, Hook] = {}


def hook_for(kind: str) -> Hook:
    if not _HOOKS:
        _HOOKS.update(_registry())
    if kind not in _HOOKS:
        raise HookError(f"unknown hook type {kind!r} (known: {', '.join(sorted(_HOOKS))})")
    return _HOOKS[kind]


def parse_config(entry: dict[str, Any]) -> HookModel:
    """A hook entry of a profile as its hook's own config model."""
    return hook_for(str(entry.get("type"))).config_model.model_validate(entry)


def config_problems(entry: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """(key path inside the entry, message) for each problem with a hook's options."""
    try:
        parse_config(entry)
    except ValidationError as exc:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
            problems.append((loc, message))
        return problems
    except HookError as exc:
        return [(("type",), exc.message)]
    return []
