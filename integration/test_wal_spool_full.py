"""wal-push into a spool on a really full filesystem: a small tmpfs, filled.

PostgreSQL retries a failed archive_command, so a full spool must give a non-zero exit
and leave nothing behind, and the same push must succeed once there is room again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.conftest import require_binary

ROOT = Path(__file__).resolve().parent.parent
SEGMENT = "000000010000000000000003"
PROFILE = """\
[repositories.local]
url = "{root}/repo"
password_file = "{root}/password"

[services.db]

[[services.db.hooks]]
type = "postgresql"
databases = ["postgres"]
continuous = true
data_directory = "{root}/data"
spool = "{spool}"
"""


@pytest.fixture
def small_spool(tmp_path: Path) -> Iterator[Path]:
    mount = require_binary("mount")
    if os.geteuid() != 0:
        message = "mounting a tmpfs needs root"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    spool = tmp_path / "spool"
    spool.mkdir()
    subprocess.run([mount, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(spool)], check=True)
    try:
        yield spool
    finally:
        subprocess.run(["umount", str(spool)], check=True)


def wal_push(profile: Path, segment: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", "wal-push", "-p", str(profile),
         "--service", "db", str(segment)],
        capture_output=True, text=True, timeout=60, env=env, check=False)


def test_a_full_spool_fails_the_push_and_the_retry_succeeds(tmp_path: Path,
                                                            small_spool: Path) -> None:
    (tmp_path / "password").write_text("secret\n")
    (tmp_path / "data").mkdir()
    profile = tmp_path / "site.toml"
    profile.write_text(PROFILE.format(root=tmp_path, spool=small_spool))
    segment = tmp_path / "pg_wal" / SEGMENT
    segment.parent.mkdir()
    segment.write_bytes(os.urandom(600 * 1024))
    filler = small_spool / "filler"
    filler.write_bytes(b"\0" * (700 * 1024))  # leaves ~300 KiB: the segment cannot fit

    full = wal_push(profile, segment)
    assert full.returncode != 0, full.stdout
    assert "Traceback" not in full.stderr and "full" in full.stderr, full.stderr
    assert sorted(path.name for path in small_spool.iterdir()) == ["filler"]  # no remains

    filler.unlink()  # room again: PostgreSQL's retry now succeeds
    retried = wal_push(profile, segment)
    assert retried.returncode == 0, retried.stderr
    assert (small_spool / SEGMENT).read_bytes() == segment.read_bytes()
