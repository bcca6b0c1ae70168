"""Fixtures for tests that run the real restic through the real `strongroom` command."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integration.forkserver import ForkServer
from integration.restic_template import ResticTemplate, make_template

STRONGROOM = [sys.executable, "-m", "orchestrator"]

# Site.run forks its commands from one process that has imported orchestrator already
# (integration/forkserver.py); STRONGROOM_TEST_COLD_START=1 starts each one afresh.
_fork_server: list[ForkServer] = []
_fork_server_home: list[Path] = []  # in the session's pytest folder: no stray /tmp entry
_fork_server_lock = threading.Lock()


def fork_server() -> ForkServer | None:
    if os.environ.get("STRONGROOM_TEST_COLD_START") == "1":
        return None
    with _fork_server_lock:
        if not _fork_server:
            home = (_fork_server_home[0]
                    if _fork_server_home and len(str(_fork_server_home[0])) < 80  # AF_UNIX
                    else Path(tempfile.mkdtemp(prefix="strongroom-fork-")))
            _fork_server.append(ForkServer(home))
        return _fork_server[0]


def run_strongroom(args: list[str], env: dict[str, str], cwd: Path, timeout: float
                   ) -> subprocess.CompletedProcess[str]:
    """As subprocess.run([*STRONGROOM, *args], capture_output=True, text=True, ...),
    forked from the fork server when it can start the command as a new interpreter would."""
    server = fork_server()
    if server is not None and server.can_run(env):
        return server.run(args, env, cwd, timeout=timeout)
    return subprocess.run([*STRONGROOM, *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout, check=False)


@pytest.fixture(scope="session", autouse=True)
def _fork_server_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    _fork_server_home.append(tmp_path_factory.mktemp("fork-server"))
    yield
    while _fork_server:
        _fork_server.pop().stop()


def require_binary(name: str) -> str:
    """The binary's path; a skip with the reason, except under CI where it fails."""
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed (make test installs it with apt-get as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Site:
    """A generated host: its files, a profile for them and an empty restic repository."""

    root: Path
    profile: Path
    repository: Path
    password_file: Path
    state: Path
    engine: str = "restic"

    def run(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> Result:
        full_env = {**os.environ, "STRONGROOM_STATE_DIR": str(self.state), **(env or {})}
        full_env.pop("STRONGROOM_PROFILE_DIR", None)
        proc = run_strongroom([*args, "-p", str(self.profile)], full_env, self.root, 600)
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"strongroom {' '.join(args)} failed: {proc.stderr}")
        return result

    def path(self, relative: str) -> Path:
        return self.root / "host" / relative

    def engine_env(self) -> dict[str, str]:
        """The environment for running the site's engine by hand on its repository."""
        if self.engine == "borg":
            return {**os.environ, "BORG_REPO": str(self.repository),
                    "BORG_PASSCOMMAND": f"cat {self.password_file}",
                    "BORG_BASE_DIR": str(self.root / "borg-by-hand")}
        return {**os.environ, "RESTIC_REPOSITORY": str(self.repository),
                "RESTIC_PASSWORD_FILE": str(self.password_file)}

    def engine_run(self, *args: str) -> str:
        """The site's engine (`restic ARGS` / `borg ARGS`), its stdout."""
        return subprocess.run([self.engine, *args], env=self.engine_env(), capture_output=True,
                              text=True, check=True, timeout=300).stdout

    def snapshots(self, *tags: str) -> list[dict[str, Any]]:
        """What the engine itself lists with all these tags: id, name (borg), tags, paths."""
        if self.engine == "borg":
            listed = json.loads(self.engine_run("list", "--json", "--format",
                                                "{name}{id}{comment}"))["archives"]
            found = []
            for item in listed:
                comment = json.loads(item["comment"]) if item["comment"] else {}
                found.append({"id": item["id"], "name": item["name"],
                              "tags": comment.get("tags", []),
                              "paths": comment.get("paths", [])})
        else:
            found = json.loads(self.engine_run("snapshots", "--json"))
        return [snap for snap in found if set(tags) <= set(snap.get("tags") or [])]

    def forget_snapshot(self, snapshot_id: str) -> None:
        if self.engine == "borg":
            name = next(s["name"] for s in self.snapshots() if s["id"].startswith(snapshot_id))
            self.engine_run("delete", f"::{name}")
        else:
            self.engine_run("forget", snapshot_id)

    def dump(self, snapshot_id: str, path: str) -> str:
        if self.engine == "borg":
            name = next(s["name"] for s in self.snapshots() if s["id"].startswith(snapshot_id))
            return self.engine_run("extract", "--stdout", f"::{name}", path.lstrip("/"))
        return self.engine_run("dump", snapshot_id, path)

    def data_files(self) -> list[Path]:
        """The repository's data files: restic's packs, borg's segments."""
        return sorted(p for p in (self.repository / "data").rglob("*") if p.is_file())


def write_tree(host: Path, large_bytes: int) -> None:
    """Files that are easy to get wrong: modes, links, empty things, odd names, a big file."""
    (host / "etc/app/conf.d").mkdir(parents=True)
    (host / "etc/app/app.conf").write_text("listen = 8080\n")
    (host / "etc/app/conf.d/zz local.conf").write_text("# spaces in the name\n")
    (host / "etc/app/secret.key").write_bytes(os.urandom(64))
    os.chmod(host / "etc/app/secret.key", 0o600)
    (host / "etc/app/run.sh").write_text("#!/bin/sh\nexit 0\n")
    os.chmod(host / "etc/app/run.sh", 0o755)
    os.symlink("app.conf", host / "etc/app/current.conf")
    os.symlink("/nonexistent/target", host / "etc/app/dangling")
    (host / "etc/app/empty-dir").mkdir()
    (host / "etc/app/empty file").write_bytes(b"")
    (host / "etc/app/ünïcødé ✓.txt").write_text("grüße\n")
    (host / "etc/app/.terraform").mkdir()
    (host / "etc/app/.terraform/cache.bin").write_bytes(b"excluded")
    (host / "srv/data/nested/deeper").mkdir(parents=True)
    (host / "srv/data/nested/deeper/file.txt").write_text("deep\n")
    with open(host / "srv/data/large.bin", "wb") as handle:
        remaining = large_bytes
        while remaining > 0:
            chunk = min(remaining, 1 << 20)
            handle.write(os.urandom(chunk))
            remaining -= chunk
    (host / "etc/other").mkdir(parents=True)
    (host / "etc/other/other.conf").write_text("other service\n")
    (host / "srv/other").mkdir(parents=True)
    (host / "srv/other/blob").write_bytes(b"x" * 1000)
    (host / "etc/netplan").mkdir(parents=True)
    (host / "etc/netplan/01.yaml").write_text("network: {version: 2}\n")
    old = 1_600_000_000.123456789
    os.utime(host / "etc/app/app.conf", (old, old))


PROFILE = """\
name = "site"

[repositories.local]
url = "{repository}"
password_file = "{password}"

[config]
app = {{ paths = ["{host}/etc/app"], exclude = [".terraform"] }}

[services.web]
config = ["{host}/etc/app"]
data = ["{host}/srv/data"]

[services.other]
config = ["{host}/etc/other"]
data = ["{host}/srv/other"]

[infrastructure]
network = ["{host}/etc/netplan"]

[schedules.nightly]
schedule = "0 3 * * *"
type = "full"
"""


def with_sqlite(site: Site, rows: int = 300) -> Path:
    """A SQLite database of `rows` rows in table t, declared as a hook of service web."""
    import sqlite3

    db = site.root / "app.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        conn.executemany("INSERT INTO t (v) VALUES (?)", [(f"row {i}",) for i in range(rows)])
    conn.close()
    site.profile.write_text(site.profile.read_text() + f"""
[[services.web.hooks]]
type = "sqlite"
path = "{db}"
""")
    return db


# Tests that both engines must pass take the engine as a parameter: @BOTH_ENGINES.
BOTH_ENGINES = pytest.mark.parametrize("engine_name", ["restic", "borg"])


@pytest.fixture
def engine_name() -> str:
    """The engine of the site's repository: restic, unless a test is @BOTH_ENGINES."""
    return "restic"


SITE_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def restic_template(tmp_path_factory: pytest.TempPathFactory) -> ResticTemplate:
    """An empty restic repository of SITE_PASSWORD that sites copy instead of `init`."""
    require_binary("restic")
    return make_template(tmp_path_factory.mktemp("restic-template"), SITE_PASSWORD)


@pytest.fixture
def make_site(tmp_path: Path, engine_name: str, request: pytest.FixtureRequest
              ) -> Callable[..., Site]:
    require_binary(engine_name)

    def build(large_bytes: int = 1 << 20, init: bool = True) -> Site:
        root = tmp_path / "site"
        host = root / "host"
        host.mkdir(parents=True)
        write_tree(host, large_bytes)
        password = root / "repo.pass"
        password.write_text(SITE_PASSWORD + "\n")
        password.chmod(0o600)
        profile = root / "site.toml"
        repository = root / "repository"
        text = PROFILE.format(repository=repository, password=password, host=host)
        if engine_name != "restic":  # restic's profile stays as it was, line for line
            text = text.replace("[repositories.local]\n",
                                f'[repositories.local]\nengine = "{engine_name}"\n', 1)
        profile.write_text(text)
        site = Site(root, profile, repository, password, root / "state", engine_name)
        if init and engine_name == "restic":
            request.getfixturevalue("restic_template").copy_to(repository)
        elif init:
            site.run("init")
        return site

    return build


@pytest.fixture
def site(make_site: Callable[..., Site]) -> Site:
    return make_site()


def compare_trees(
    original: Path, restored: Path, skip: tuple[str, ...] = (), mtimes: bool = True
) -> int:
    """Byte-for-byte: contents, modes, mtimes (to the nanosecond, or to the second as
    archives keep them: within a second), symlink targets, empty dirs. Returns the entries compared."""
    seen = 0
    for dirpath, dirnames, filenames in os.walk(original):
        rel = Path(dirpath).relative_to(original)
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in dirnames + filenames:
            src, dst = Path(dirpath) / name, restored / rel / name
            a, b = os.lstat(src), os.lstat(dst)
            assert stat.S_IFMT(a.st_mode) == stat.S_IFMT(b.st_mode), dst
            assert stat.S_IMODE(a.st_mode) == stat.S_IMODE(b.st_mode), dst
            if stat.S_ISLNK(a.st_mode):
                assert os.readlink(src) == os.readlink(dst), dst
            elif mtimes:
                assert a.st_mtime_ns == b.st_mtime_ns, dst
            else:  # restic's tar dump keeps whole seconds, rounded
                assert abs(a.st_mtime - b.st_mtime) <= 1.0, dst
            if stat.S_ISREG(a.st_mode):
                assert filecmp.cmp(src, dst, shallow=False), dst
            seen += 1
        for name in os.listdir(restored / rel):
            assert name in dirnames + filenames or name in skip, f"extra {restored / rel / name}"
    return seen
