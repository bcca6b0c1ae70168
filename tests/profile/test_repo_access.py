"""--repo and its password options: checked, and turned into an in-memory profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.access.tools import TOOLS
from orchestrator.errors import UsageError
from orchestrator.profile.repo_access import (
    REPO_NAME,
    RepoAccess,
    engine_of,
    profile_free,
    repo_access,
)
from orchestrator.profile.schema import Profile, SecretSource


def test_no_repo_means_the_profile() -> None:
    assert repo_access(None, None) is None
    assert repo_access(None, "site") is None


def test_each_password_option_is_kept() -> None:
    assert repo_access("/srv/r", None, password_file="/k") == RepoAccess("/srv/r", Path("/k"))
    assert repo_access("/srv/r", None, password_command="pass show r") == RepoAccess(
        "/srv/r", password_command="pass show r")
    assert repo_access("s3://b/p", None, password_env="PW") == RepoAccess(
        "s3://b/p", password_env="PW")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"repo": "/r", "profile_ref": "site", "password_file": "/k"}, "not both"),
    ({"repo": "/r", "profile_ref": None}, "exactly one of"),
    ({"repo": "/r", "profile_ref": None, "password_file": "/k", "password_env": "PW"},
     "exactly one of"),
    ({"repo": None, "profile_ref": None, "password_file": "/k"},
     "--password-file: only with --repo"),
    ({"repo": None, "profile_ref": "site", "password_command": "x"},
     "--password-command: only with --repo"),
    ({"repo": None, "profile_ref": None, "repo_env": ("A=/f",)}, "--repo-env: only with"),
    ({"repo": "/r", "profile_ref": None, "password_env": "PW", "repo_env": ("A",)},
     "NAME=FILE"),
    ({"repo": "/r", "profile_ref": None, "password_env": "PW", "repo_env": ("1A=/f",)},
     "NAME=FILE"),
    ({"repo": "/r", "profile_ref": None, "password_env": "PW", "repo_env": ("A=",)},
     "NAME=FILE"),
    ({"repo": "ftp://host/r", "profile_ref": None, "password_env": "PW"}, "not understood"),
])
def test_misuse_is_a_usage_error(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        repo_access(**kwargs)  # type: ignore[arg-type]


def test_the_in_memory_profile_holds_only_the_repository() -> None:
    access = repo_access("s3://bucket/prefix", None, password_command="pass show r",
                         repo_env=("AWS_SECRET_ACCESS_KEY=/run/s3.key", "AWS_ACCESS_KEY_ID=/k"))
    assert access is not None
    profile = profile_free(access)
    assert profile.profile_free
    name, repository = profile.repository(None)
    assert (name, list(profile.repositories)) == (REPO_NAME, [REPO_NAME])
    assert repository.url == "s3://bucket/prefix"
    assert repository.password_command == "pass show r"
    assert repository.password_file is None and repository.password_env is None
    assert repository.env == {
        "AWS_SECRET_ACCESS_KEY": SecretSource(file=Path("/run/s3.key")),
        "AWS_ACCESS_KEY_ID": SecretSource(file=Path("/k"))}
    assert not profile.config and not profile.services and not profile.schedules


def test_a_profile_from_a_file_is_never_profile_free() -> None:
    data = {"repositories": {"r": {"url": "/r", "password_file": "/k"}}}
    assert not Profile.model_validate(data).profile_free
    with pytest.raises(ValueError, match="profile_free"):
        Profile.model_validate({**data, "profile_free": True})


def test_no_mcp_request_can_name_a_repository_or_a_password_command() -> None:
    for tool in TOOLS.values():
        fields = set(tool.request.model_fields)
        assert not fields & {"repo", "repo_env", "password_command"}, tool.name


def test_a_borg_repository_is_named_or_recognised(tmp_path: Path) -> None:
    folder = tmp_path / "borg-repo"
    folder.mkdir()
    (folder / "config").write_text("[repository]\nversion = 1\n")
    assert engine_of(str(folder)) == ("borg", str(folder))
    assert engine_of("borg:ssh://u@nas/srv/b") == ("borg", "ssh://u@nas/srv/b")
    assert engine_of(str(tmp_path)) == ("restic", str(tmp_path))
    access = repo_access(f"borg:{folder}", None, password_env="PW")
    assert access is not None and access.engine == "borg"
    assert profile_free(access).repositories["repo"].engine == "borg"
    with pytest.raises(UsageError, match="borg cannot use"):
        engine_of("borg:s3://bucket/x")
