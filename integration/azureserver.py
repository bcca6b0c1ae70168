"""azurite's blob service on 127.0.0.1 at a free port (installed by `make` with npm)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from integration.servers import free_port, listening

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"  # azurite's well-known development account


def azurite_binary() -> str:
    local = ROOT / ".tools" / "node_modules" / ".bin" / "azurite-blob"
    found = str(local) if local.exists() else shutil.which("azurite-blob")
    if found:
        return found
    message = "azurite is not installed (make test installs it with npm into .tools)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def azurite(folder: Path) -> Iterator[str]:
    """The blob endpoint, http://127.0.0.1:PORT/devstoreaccount1."""
    binary = azurite_binary()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    argv = [binary, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location",
            str(folder), "--loose", "--skipApiVersionCheck", "--disableTelemetry"]
    with listening(argv, port, folder / "azurite.log", seconds=60):
        yield f"http://127.0.0.1:{port}/{ACCOUNT}"
