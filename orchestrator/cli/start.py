"""What the program does before its first command: cheaper start-up settings that a
library embedding strongroom (tests, the MCP server's host) is not given."""

from __future__ import annotations

import importlib
import os
import sys
import types
from typing import Any

PLUGIN_LOADER = "pydantic.plugin._loader"
NO_PLUGINS = ("__all__", "1", "true")  # the values pydantic itself reads as "none"


class _NoPluginLoader(types.ModuleType):
    """pydantic's plugin loader when plugins are off.

    Asked with PYDANTIC_DISABLE_PLUGINS=__all__, the real loader returns no plugin, but
    importing it imports importlib.metadata (email, zipfile, csv...): ~20 ms of every
    start. This stand-in gives the same answer; any other name it is asked for loads the
    real module in its place."""

    def get_plugins(self) -> tuple[()]:
        return ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # the import system asking whether this is a package
            raise AttributeError(name)
        if sys.modules.get(PLUGIN_LOADER) is self:
            sys.modules.pop(PLUGIN_LOADER, None)
        return getattr(importlib.import_module(PLUGIN_LOADER), name)


def without_pydantic_plugins() -> None:
    """pydantic plugins off: one would see every value validated, a profile's secrets
    among them, and looking for them reads every installed package's metadata."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if os.environ["PYDANTIC_DISABLE_PLUGINS"] in NO_PLUGINS \
            and PLUGIN_LOADER not in sys.modules:
        sys.modules[PLUGIN_LOADER] = _NoPluginLoader(PLUGIN_LOADER)
