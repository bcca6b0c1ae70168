"""Finding a service's continuous hook, and who may read the profile."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from orchestrator.errors import NotFoundError, UsageError
from orchestrator.pitr.service import continuous_service
from orchestrator.pitr.setup import readable_by
from orchestrator.profile.load import load_profile

PROFILE = """\
[repositories.local]
url = "{root}/repo"
password_file = "{root}/password"

[services.db]
[[services.db.hooks]]
type = "postgresql"
continuous = true
data_directory = "pgdata"

[services.dumps]
[[services.dumps.hooks]]
type = "postgresql"
"""


def profile(tmp_path: Path) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(PROFILE.format(root=tmp_path))
    return path


def test_the_continuous_hook_and_its_paths(tmp_path: Path) -> None:
    service = continuous_service(load_profile(profile(tmp_path)), "db")
    assert service.data_directory == tmp_path / "pgdata"  # relative to the profile's folder
    assert service.spool == tmp_path / "strongroom-wal-spool"


def test_services_that_cannot_archive(tmp_path: Path) -> None:
    loaded = load_profile(profile(tmp_path))
    with pytest.raises(UsageError, match="no postgresql hook with continuous = true"):
        continuous_service(loaded, "dumps")
    with pytest.raises(NotFoundError, match="no service named 'nope'"):
        continuous_service(loaded, "nope")


def test_continuous_without_data_directory_is_a_profile_error(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PROFILE.format(root=tmp_path).replace('data_directory = "pgdata"\n', ""))
    with pytest.raises(Exception, match="data_directory"):
        load_profile(path)


def test_readable_by_mode_bits(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("x")
    path.chmod(0o600)
    info = path.stat()
    assert readable_by(path, info.st_uid, info.st_gid)
    assert not readable_by(path, info.st_uid + 1, info.st_gid + 1)
    path.chmod(0o644)
    assert readable_by(path, info.st_uid + 1, info.st_gid + 1)
    assert not readable_by(tmp_path / "missing", os.getuid(), os.getgid())
