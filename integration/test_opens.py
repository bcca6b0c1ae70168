"""How many restic processes each command starts: every one opens the repository and
pays its key derivation (~0.5 s), so the counts are pinned here, per command, and a
command that starts one more than it needs fails.

restic runs through a wrapper on PATH that logs its subcommand, then execs the real one.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from integration.conftest import Site, require_binary
from orchestrator.engines import restic_args as args
from orchestrator.engines.passwords import PasswordSource
from orchestrator.engines.restic_listing import RepositoryListing
from orchestrator.profile.load import load_profile


class Opens:
    """The restic subcommands strongroom starts, through a logging wrapper on PATH."""

    def __init__(self, folder: Path) -> None:
        real = require_binary("restic")
        self.log = folder / "opens.log"
        wrapper = folder / "bin" / "restic"
        wrapper.parent.mkdir(parents=True)
        wrapper.write_text(f'#!/bin/sh\necho "$1" >> {shlex.quote(str(self.log))}\n'
                           f'exec {shlex.quote(real)} "$@"\n')
        wrapper.chmod(0o755)
        self.env = {"PATH": f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}"}

    def of(self, site: Site, *args: str, check: bool = True) -> tuple[list[str], Any]:
        """The subcommands `strongroom ARGS --json` started, in order, and its result."""
        self.log.unlink(missing_ok=True)
        ran = site.run(*args, "--json", env=self.env, check=check)
        result = ran.json() if check else ran
        return (self.log.read_text().split() if self.log.exists() else []), result


@pytest.fixture
def opens(tmp_path: Path) -> Opens:
    return Opens(tmp_path / "opens")


def test_each_command_starts_only_the_restic_processes_it_needs(
    site: Site, opens: Opens, tmp_path: Path
) -> None:
    backup = ("create-backup", "--type", "full", "--name", "f")
    # The wrapper is a restic binary strongroom has not seen: its version is asked once.
    assert opens.of(site, *backup, "--no-verify")[0] == ["version", "backup"]
    started, made = opens.of(site, *backup)
    assert started == ["backup"] and made["verified"] is True  # proven without a read-back
    assert opens.of(site, *backup, "--no-verify")[0] == ["backup"]
    # Every snapshot in the local repository is one this host made or restic listed
    # here: the listing is the kept one (engines/restic_listing.py), no restic at all.
    started, listed = opens.of(site, "list-backups")
    assert started == [] and len(listed["backups"]) == 3

    target = tmp_path / "target"
    restore = ("restore-backup", "--backup", "latest", "--target", str(target))
    started, planned = opens.of(site, *restore, "--dry-run")
    assert started == ["ls"]  # the exact plan: the stored tree is listed
    assert planned["files"] > 5 and planned["conflicts"] == []
    started, restored = opens.of(site, *restore)
    assert started == ["restore"]  # nothing at the target: nothing to list
    assert [(e["files"], e["bytes"]) for e in restored["plan"]] == \
        [(e["files"], e["bytes"]) for e in planned["plan"]]
    started, again = opens.of(site, *restore, "--force")
    assert started == ["ls", "restore"]  # the target holds them: listed
    assert len(again["conflicts"]) == planned["files"] and again["files"] == planned["files"]

    # verify-backup's `restic check` proves the password; it stores its log as a snapshot.
    assert opens.of(site, "verify-backup")[0] == ["dump", "check", "backup"]
    started, _ = opens.of(site, "download-backup", "-o", str(tmp_path / "set.zip"))
    assert started == ["dump", "dump"]  # the set's tar, the verification log

    # Another host's copy of the manifest is not this set's: it is read from the repository.
    (site.state / "sets" / "f" / "metadata.json").write_text("{}")
    started, _ = opens.of(site, *restore, "--force")
    assert started == ["dump", "ls", "restore"]


def test_the_snapshots_a_backup_records_are_those_restic_lists(site: Site) -> None:
    site.profile.write_text(site.profile.read_text() + """
[[services.web.hooks]]
type = "command"
name = "stream.bin"
dump = ["head", "-c", "30000", "/dev/urandom"]
restore = ["true"]
""")
    site.run("create-backup", "--type", "full")
    site.run("create-backup", "--type", "config", "--name", "again")
    repository = load_profile(site.profile).repositories["local"]
    password = PasswordSource("local", repository).file_identity()
    assert password is not None
    kept = RepositoryListing(site.repository, site.state, password).current()
    assert kept is not None, "every snapshot a backup made is recorded"
    listed = subprocess.run([require_binary("restic"), "snapshots", "--json"],
                            env=site.engine_env(), check=True, capture_output=True,
                            text=True).stdout
    theirs = args.parse_snapshots(listed)
    assert args.snapshots_of(kept) == theirs
    streams = [snap for snap in theirs if "part=files" not in snap.tags]
    assert len(theirs) == 3 and len(streams) == 1 and len(streams[0].paths) == 1


def test_a_snapshot_this_host_has_not_listed_is_listed_by_restic(
    site: Site, opens: Opens
) -> None:
    opens.of(site, "create-backup", "--type", "full", "--name", "f", "--no-verify")
    assert opens.of(site, "list-backups")[0] == []
    shutil.rmtree(site.state / "cache" / "listings")  # as on a host that made none of them
    assert opens.of(site, "list-backups")[0] == ["snapshots"]
    assert opens.of(site, "list-backups")[0] == []
    # Someone else's backup into the repository: a new snapshot file, unknown here.
    subprocess.run([require_binary("restic"), "backup", "--tag", "strongroom", "--tag",
                    "set=other-20260101-000000-000000", "--tag", "part=files",
                    str(site.path("etc"))], env=site.engine_env(), check=True,
                   capture_output=True)
    started, listed = opens.of(site, "list-backups")
    assert started == ["snapshots"]
    assert opens.of(site, "list-backups") == ([], listed)
    # A removed snapshot is gone from the listing at once, without restic.
    snapshots = site.repository / "snapshots"
    final = next(entry["id"] for entry in listed["backups"] if entry["set"].startswith("f-"))
    for name in os.listdir(snapshots):
        if name.startswith(final[:8]):
            (snapshots / name).unlink()
    started, after = opens.of(site, "list-backups")
    assert started == [] and after != listed
    # A file there that is not a snapshot id is for restic to judge.
    (snapshots / "stray").write_text("?")
    assert opens.of(site, "list-backups", check=False)[0] == ["snapshots"]
