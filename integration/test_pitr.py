"""Continuous backup of a real PostgreSQL cluster: WAL archived through strongroom into a
restic repository, and restored to a second between two commits.

The test starts its own cluster (initdb and pg_ctl as the `postgres` user, on a free
port, its socket in its own folder) and stops it at the end, whatever happens.
Everything PostgreSQL runs (wal-push, wal-fetch) and every strongroom command runs as
`postgres`, as on a real server, through the system python3 given this checkout and the
packages of the test's own environment.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from integration.conftest import Result, require_binary

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SYSTEM_PYTHON = "/usr/bin/python3"
ROOT = Path(__file__).resolve().parent.parent
USER = "postgres"


def need(condition: bool, message: str) -> None:
    if condition:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    port: int
    profile: Path
    started: list[Path] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    def as_postgres(self, argv: list[str], check: bool = True, timeout: float = 300
                    ) -> Result:
        env = ["env", f"PYTHONPATH={ROOT}:{sysconfig.get_paths()['purelib']}",
               f"STRONGROOM_STATE_DIR={self.root / 'state'}", f"HOME={self.root / 'home'}",
               f"STRONGROOM_SYSTEMD_DIR={self.root / 'units'}"]
        proc = subprocess.run(["runuser", "-u", USER, "--", *env, *argv], capture_output=True,
                              text=True, cwd=self.root, timeout=timeout, check=False)
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr}")
        return result

    def strongroom(self, *args: str, check: bool = True) -> Result:
        return self.as_postgres([SYSTEM_PYTHON, "-m", "orchestrator", *args, "-p",
                                 str(self.profile)], check=check)

    def pg_ctl(self, data: Path, action: str, *extra: str) -> None:
        self.as_postgres([str(PG_BIN / "pg_ctl"), action, "-D", str(data), "-w",
                          "-l", str(self.root / f"{data.name}.log"), *extra])

    def sql(self, statement: str, port: int | None = None) -> str:
        proc = subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h",
             str(self.root), "-p", str(port or self.port), "-U", "postgres", "-d", "postgres",
             "-c", statement], capture_output=True, text=True, timeout=60, check=True)
        return proc.stdout.strip()

    def stop_all(self) -> None:
        for data in reversed(self.started):
            if (data / "postmaster.pid").exists():
                subprocess.run(["runuser", "-u", USER, "--", str(PG_BIN / "pg_ctl"), "stop",
                                "-D", str(data), "-m", "immediate", "-w"],
                               capture_output=True, timeout=60, check=False)


PROFILE = """\
[repositories.local]
url = "{root}/repo"
password_file = "{root}/password"

[repositories.offsite]
url = "{root}/offsite"
password_file = "{root}/password"

[services.db]

[[services.db.hooks]]
type = "postgresql"
databases = ["postgres"]
host = "{root}"
port = {port}
username = "postgres"
pg_dump = "{bin}/pg_dump"
continuous = true
data_directory = "{root}/data"
spool = "{root}/spool"
archive_timeout = "60s"
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    need(shutil.which("restic") is not None, "restic is not installed")
    need((PG_BIN / "initdb").exists(), "PostgreSQL 15 server binaries are not installed")
    need(os.geteuid() == 0 and shutil.which("runuser") is not None,
         "the test runs the cluster as the postgres user: it needs root and runuser")
    version = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, check=False).stdout.strip()
    need(version == str(sys.version_info[:2]), f"{SYSTEM_PYTHON} is not Python "
         f"{sys.version_info[0]}.{sys.version_info[1]}")
    root = Path(tempfile.mkdtemp(prefix="strongroom-pitr-"))
    root.chmod(0o755)
    shutil.chown(root, USER, USER)
    port = free_port()
    site = Cluster(root, port, root / "pitr.toml")
    try:
        for folder in ("state", "home"):
            (root / folder).mkdir()
            shutil.chown(root / folder, USER, USER)
        (root / "password").write_text("pitr-test-password\n")
        site.profile.write_text(PROFILE.format(root=root, port=port, bin=PG_BIN))
        for path in (root / "password", site.profile):
            shutil.chown(path, USER, USER)
        site.as_postgres([str(PG_BIN / "initdb"), "-D", str(site.data), "-A", "trust",
                          "-U", "postgres", "--no-sync"])
        with (site.data / "postgresql.conf").open("a") as conf:
            conf.write(f"port = {port}\nlisten_addresses = ''\n"
                       f"unix_socket_directories = '{root}'\nfsync = off\n")
        site.pg_ctl(site.data, "start")
        site.started.append(site.data)
        site.strongroom("init")
        yield site
    finally:
        site.stop_all()
        shutil.rmtree(root, ignore_errors=True)


def switch_and_wait(site: Cluster) -> str:
    """Close the current segment and wait until wal-push has spooled it."""
    segment = site.sql("SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + 60
    while site.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") < segment:
        assert time.monotonic() < deadline, site.sql("SELECT * FROM pg_stat_archiver")
        time.sleep(0.2)
    return segment


def insert(site: Cluster, value: int) -> datetime:
    stamp = site.sql(f"INSERT INTO marks VALUES ({value}, clock_timestamp()) "
                     "RETURNING extract(epoch FROM at)")
    return datetime.fromtimestamp(float(stamp), UTC)


def rows(site: Cluster, port: int) -> list[int]:
    return [int(v) for v in site.sql("SELECT id FROM marks ORDER BY id", port).split()]


def restore(site: Cluster, name: str, moment: datetime, port: int, check: bool = True
            ) -> Result:
    target = site.root / name
    target.mkdir()
    shutil.chown(target, USER, USER)
    result = site.strongroom("restore-backup", "--backup", "continuous", "--service", "db",
                             "--timestamp", moment.isoformat(), "--pgdata", str(target),
                             "--start", "--pg-port", str(port), check=check)
    if (target / "postmaster.pid").exists():
        site.started.append(target)
    return result


def test_point_in_time_recovery(cluster: Cluster) -> None:
    site = cluster
    dry = site.strongroom("pitr", "setup", "--service", "db", "--dry-run", "--install",
                          "systemd")
    assert "would run" in dry.stdout and "archive_mode = 'on'" in dry.stdout
    assert "would write" in dry.stdout and "pitr ship --every 30" in dry.stdout
    assert site.sql("SHOW archive_mode") == "off"  # a dry run changes nothing
    assert not (site.root / "units").exists()
    setup = site.strongroom("pitr", "setup", "--service", "db", "--install", "systemd",
                            "--json").json()
    assert setup["restart_needed"] and setup["wal_segment_size"] == 16 * 1024 * 1024
    unit = site.root / "units" / "strongroom-pitr-wal-shipper-db.service"
    assert [item["path"] for item in setup["files"]] == [str(unit)]
    verified = subprocess.run([require_binary("systemd-analyze"), "verify", str(unit)],
                              capture_output=True, text=True, check=False)
    assert verified.returncode == 0, verified.stderr
    site.pg_ctl(site.data, "restart")
    assert site.sql("SHOW archive_mode") == "on"
    assert "wal-push" in site.sql("SHOW archive_command")

    before_base = datetime.now(UTC)
    time.sleep(1)
    base = site.strongroom("backup-database", "--service", "db", "--base")
    assert "base backup" in base.stdout and "timeline 1" in base.stdout

    site.sql("CREATE TABLE marks (id int PRIMARY KEY, at timestamptz)")
    insert(site, 1)
    first_segment = switch_and_wait(site)
    time.sleep(1)
    t2 = insert(site, 2)
    switch_and_wait(site)
    time.sleep(1)
    t3 = insert(site, 3)
    switch_and_wait(site)
    moment = t2 + (t3 - t2) / 2
    assert any(site.spool.iterdir())
    shipped = site.strongroom("pitr", "ship", "--service", "db")
    assert "shipped" in shipped.stdout and " 0 WAL" not in shipped.stdout
    assert not [p for p in site.spool.iterdir() if not p.name.startswith(".")]

    status = site.strongroom("pitr", "status", "--service", "db", "--json").json()
    assert status["base_backups"] == 1 and status["spool_files"] == 0
    assert status["failed_count"] == 0 and status["rpo_seconds"] is not None
    assert status["shipper_unit"] == str(unit) and status["shipper"] != "not installed"
    chain = site.strongroom("verify-backup", "--backup", "continuous", "--service", "db")
    assert "WAL chain ok" in chain.stdout
    family = site.strongroom("list-backups", "--json").json()["continuous"]
    assert [(item["service"], len(item["bases"])) for item in family] == [("db", 1)]
    assert family[0]["last_wal"] >= first_segment and family[0]["wal_segments"] >= 3
    synced = site.strongroom("backup-sync", "--from", "local", "--to", "offsite", "--backup",
                             "continuous", "--json").json()
    assert synced["continuous_copied"] == family[0]["wal_batches"] + 2  # and base, base-info
    offsite = site.strongroom("verify-backup", "--backup", "continuous", "--service", "db",
                              "-d", "offsite")
    assert "WAL chain ok" in offsite.stdout
    kept = site.strongroom("pitr", "prune", "--service", "db", "--keep-bases", "1",
                           "--dry-run")
    assert "would forget 0 base backup(s) and 0 WAL batch(es)" in kept.stdout

    # restore_command's answers: 1 for "not archived" (recovery ends there), above 125
    # for a name that cannot be a WAL file (recovery stops instead of promoting).
    fetched = site.root / "fetched-segment"
    site.strongroom("wal-fetch", "--service", "db", first_segment, str(fetched))
    assert fetched.stat().st_size == 16 * 1024 * 1024  # from its batch in the repository
    assert not [p for p in site.root.iterdir() if p.name.startswith(".strongroom-wal-")]
    missing = site.strongroom("wal-fetch", "--service", "db", "0000000100000000000000FF",
                              str(site.root / "fetched"), check=False)
    assert missing.returncode == 1 and "not archived" in missing.stderr
    hostile = site.strongroom("wal-fetch", "--service", "db", "../../etc/passwd",
                              str(site.root / "fetched"), check=False)
    assert hostile.returncode > 125 and not (site.root / "fetched").exists()

    # Between t2 and t3: exactly the rows up to that second.
    port = free_port()
    result = restore(site, "restored", moment, port)
    assert "started and promoted" in result.stdout, result.stdout + result.stderr
    assert rows(site, port) == [1, 2]
    site.pg_ctl(site.root / "restored", "stop")

    # Before the first base backup: refused with one clear line.
    refused = restore(site, "too-early", before_base - timedelta(hours=1), free_port(),
                      check=False)
    assert refused.returncode != 0
    assert "before the first base backup" in refused.stderr
    assert "Traceback" not in refused.stderr

    # After the last archived segment: recovers to the end and says so.
    port = free_port()
    late = restore(site, "latest", datetime.now(UTC) + timedelta(hours=1), port)
    assert "after the last archived WAL" in late.stdout
    assert rows(site, port) == [1, 2, 3]
    site.pg_ctl(site.root / "latest", "stop")


def test_a_shipper_killed_mid_batch_loses_nothing(cluster: Cluster,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.engines.restic import ResticEngine
    from orchestrator.errors import StrongroomError
    from orchestrator.models import ShipRequest
    from orchestrator.pitr.ship import ship
    from orchestrator.profile.load import load_profile
    from orchestrator.sets.session import Session

    site = cluster
    if site.sql("SHOW archive_mode") != "on":
        site.strongroom("pitr", "setup", "--service", "db", "--install", "none")
        site.pg_ctl(site.data, "restart")
    if site.strongroom("pitr", "status", "--service", "db", "--json").json()["base_backups"] == 0:
        site.strongroom("backup-database", "--service", "db", "--base")  # run on its own
    site.sql("CREATE TABLE IF NOT EXISTS extra (id int)")
    segment = switch_and_wait(site)
    assert (site.spool / segment).exists()

    def dies(*args: object, **kwargs: object) -> None:
        raise StrongroomError("the engine was killed")

    monkeypatch.setattr(ResticEngine, "backup_stream", dies)
    monkeypatch.setenv("STRONGROOM_STATE_DIR", str(site.root / "state"))
    session = Session(load_profile(site.profile))
    with pytest.raises(StrongroomError):
        ship(session, ShipRequest(service="db"))
    assert (site.spool / segment).exists()  # not confirmed, so still spooled

    site.strongroom("pitr", "ship", "--service", "db")
    assert not (site.spool / segment).exists()
    status = site.strongroom("pitr", "status", "--service", "db", "--json").json()
    assert status["last_stored_wal"] >= segment

    # Retention: a second base backup, then keep only it and the WAL it needs.
    site.strongroom("backup-database", "--service", "db", "--base")
    switch_and_wait(site)
    site.strongroom("pitr", "ship", "--service", "db")
    pruned = site.strongroom("pitr", "prune", "--service", "db", "--keep-bases", "1")
    assert "forgot 1 base backup(s)" in pruned.stdout
    assert " 0 WAL batch(es)" not in pruned.stdout  # the WAL before the kept base went too
    after = site.strongroom("pitr", "status", "--service", "db", "--json").json()
    assert after["base_backups"] == 1
    chain = site.strongroom("verify-backup", "--backup", "continuous", "--service", "db")
    assert "WAL chain ok" in chain.stdout


SMALL_SEGMENTS = """
[services.small]

[[services.small.hooks]]
type = "postgresql"
databases = ["postgres"]
host = "{root}"
port = {port}
username = "postgres"
pg_dump = "{bin}/pg_dump"
continuous = true
data_directory = "{root}/small"
spool = "{root}/small-spool"
"""


def test_a_cluster_with_1_mib_wal_segments(cluster: Cluster) -> None:
    """Segment names depend on the segment size: read as 16 MiB ones, the chain from this
    base would not even start."""
    site = cluster
    port, small = free_port(), cluster.root / "small"
    site.as_postgres([str(PG_BIN / "initdb"), "-D", str(small), "-A", "trust", "-U",
                      "postgres", "--no-sync", "--wal-segsize=1"])
    with (small / "postgresql.conf").open("a") as conf:
        conf.write(f"port = {port}\nlisten_addresses = ''\n"
                   f"unix_socket_directories = '{site.root}'\nfsync = off\n")
    site.pg_ctl(small, "start")
    site.started.append(small)
    site.profile.write_text(site.profile.read_text()
                            + SMALL_SEGMENTS.format(root=site.root, port=port, bin=PG_BIN))
    setup = site.strongroom("pitr", "setup", "--service", "small", "--install", "none",
                            "--json").json()
    assert setup["wal_segment_size"] == 1024 * 1024 and setup["files"] == []
    site.pg_ctl(small, "restart")
    site.strongroom("backup-database", "--service", "small", "--base")
    site.sql("CREATE TABLE filler (i int)", port)
    for _ in range(3):  # each round a few 1 MiB segments filled, then one switched
        site.sql("INSERT INTO filler SELECT generate_series(1, 40000)", port)
        segment = site.sql("SELECT pg_walfile_name(pg_switch_wal())", port)
        deadline = time.monotonic() + 60
        while site.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver",
                       port) < segment:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    site.strongroom("pitr", "ship", "--service", "small")
    chain = site.strongroom("verify-backup", "--backup", "continuous", "--service", "small")
    assert "WAL chain ok" in chain.stdout, chain.stdout
    listed = site.strongroom("list-backups", "--service", "small", "--json").json()
    assert [item["service"] for item in listed["continuous"]] == ["small"]
    assert listed["continuous"][0]["wal_segments"] > 3
