"""A repository on a read-only mount: list, restore, export and verify read it without a
lock (said once); a backup into it fails at once with one message."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from integration.conftest import Site

NOTE = "is read-only: reading it without a lock"


def _writable(folder: Path) -> bool:
    try:
        os.close(os.open(folder / "probe", os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError:
        return False
    os.unlink(folder / "probe")
    return True


@contextmanager
def read_only(folder: Path) -> Iterator[str]:
    """The folder made read-only for root too: a read-only bind mount over itself, or
    else the immutable attribute; skipped when the system allows neither."""
    bound = subprocess.run(["mount", "--bind", str(folder), str(folder)],
                           capture_output=True, check=False).returncode == 0
    if bound:
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True,
                           capture_output=True)
            assert not _writable(folder / "locks")
            yield "read-only bind mount"
        finally:
            subprocess.run(["umount", str(folder)], check=True)
        return
    if subprocess.run(["chattr", "-R", "+i", str(folder)], capture_output=True,
                      check=False).returncode != 0:
        pytest.skip("neither a bind mount (CAP_SYS_ADMIN) nor chattr +i works here")
    try:
        assert not _writable(folder / "locks")
        yield "immutable folder"
    finally:
        subprocess.run(["chattr", "-R", "-i", str(folder)], check=True)


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_a_read_only_repository_can_be_listed_restored_exported_and_verified(
    make_site: Callable[..., Site],
) -> None:
    site = make_site()
    site.profile.write_text(site.profile.read_text() + f"""
[[services.web.hooks]]
type = "command"
name = "stream.bin"
dump = ["head", "-c", "300000", "/dev/urandom"]
restore = ["dd", "of={site.root}/restored-stream.bin", "status=none"]
""")
    made = site.run("create-backup", "--type", "full", "--json").json()["set"]
    stored = site.run("create-backup", "--type", "full", "--json")  # a parent to compare
    before = tree_digest(site.repository)
    with read_only(site.repository) as how:
        print(how)
        listed = site.run("list-backups", "--json")
        assert [item["set"] for item in listed.json()["backups"]] == [
            made, stored.json()["set"]]
        # Every snapshot is one this host has listed: the kept listing, no restic, no lock.
        assert listed.stderr.count(NOTE) == 0, listed.stderr
        shutil.rmtree(site.state / "cache" / "listings")
        relisted = site.run("list-backups", "--json")
        assert relisted.json() == listed.json()
        assert relisted.stderr.count(NOTE) == 1, relisted.stderr

        target = site.root / "restored"
        restored = site.run("restore-backup", "--backup", made, "--target", str(target))
        assert restored.stderr.count(NOTE) == 1, restored.stderr
        assert (target / str(site.path("etc/app/app.conf")).lstrip("/")).read_text() == \
            "listen = 8080\n"
        assert (site.root / "restored-stream.bin").stat().st_size == 300_000

        export = site.root / "set.zip"
        exported = site.run("download-backup", "--backup", made, "-o", str(export))
        assert exported.stderr.count(NOTE) == 1, exported.stderr
        with zipfile.ZipFile(export) as archive:
            assert archive.testzip() is None
            assert any(name.endswith("stream.bin") for name in archive.namelist())

        verified = site.run("verify-backup", "--backup", made, "--deep-check")
        assert "passed" in verified.stdout and "Traceback" not in verified.stderr

        began = time.monotonic()
        refused = site.run("create-backup", "--type", "config", check=False)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr
        assert refused.stderr.count("strongroom: error: ") == 1, refused.stderr
        assert "is read-only" in refused.stderr and "cannot create a lock" in refused.stderr
        assert time.monotonic() - began < 15, "refused without restic's ~45 s of lock retries"
        assert tree_digest(site.repository) == before
    site.run("create-backup", "--type", "config")  # writable again: the lock works
