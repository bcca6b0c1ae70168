"""key list / add / remove / rotate: requests and results."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from orchestrator.models.base import Model


class KeyEntry(Model):
    id: str
    user: str
    host: str
    created: str
    current: bool = Field(description="the key the profile's password opens")


class KeyListResult(Model):
    repository: str
    keys: list[KeyEntry]


class KeyListRequest(Model):
    destination: str | None = None


class KeyChangeRequest(Model):
    """add: a key for the password in new_password_file; remove: the key key_id; rotate:
    a new password (new_password_file, or a generated one) in place of the current."""

    action: Literal["add", "remove", "rotate"] = "rotate"
    destination: str | None = None
    new_password_file: str | None = None
    key_id: str | None = None
    host: str | None = None
    user: str | None = None


class KeyChangeResult(Model):
    repository: str
    added: str | None = None
    removed: list[str] = Field(default_factory=list)
    password_file: str | None = Field(default=None, description="the file now holding the "
                                      "repository's password (rotate with password_file)")
    resumed: bool = Field(default=False, description="a rotation interrupted earlier was "
                          "finished")
    pending: bool = Field(default=False, description="the old key is kept until the "
                          "profile's password source yields the new password")
    notes: list[str] = Field(default_factory=list)
