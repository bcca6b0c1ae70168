"""The base of every profile table (unknown keys refused) and where a secret comes from.

Apart from schema.py so that tables defined in their own modules (observe.py) share them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class SecretSource(Strict):
    """Where a secret comes from: a file, a command's stdout or an environment variable."""

    file: Path | None = None
    command: str | list[str] | None = None
    env: str | None = None

    @model_validator(mode="after")
    def exactly_one(self) -> SecretSource:
        if sum(value is not None for value in (self.file, self.command, self.env)) != 1:
            raise ValueError("a secret takes exactly one of file, command, env")
        return self
