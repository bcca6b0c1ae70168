"""Every hostile archive of the corpus: the exit code and message it must give, and that
nothing changed outside the restore's bounds (the sentinel's tree digest) and no command
ran (the canary)."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest

from integration.conftest import run_strongroom
from integration.databases import require_mariadb, require_postgres
from integration.hostile.corpus import (
    CASES,
    PASSWORD,
    SCRIPT_CASES,
    Case,
    manifest_for,
    stream,
    write_archive,
)

PROFILE = """\
name = "corpus"

[repositories.local]
url = "{site}/repo"
password_file = "{site}/repo.pass"

[config]
app = ["{site}/host/etc/app"]

[services.db]

[[services.db.hooks]]
type = "sqlite"
path = "{site}/host/db.sqlite"

[[services.db.hooks]]
type = "postgresql"
host = "127.0.0.1"
username = "postgres"

[[services.db.hooks]]
type = "mariadb"
username = "root"

[[services.db.hooks]]
type = "command"
name = "cmd"
dump = ["true"]
restore = ["sh"]
"""


def tree_digest(root: Path) -> str:
    """Names, types, modes, contents and link targets of everything below root."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted([*dirs, *files]):
            path = Path(folder) / name
            info = path.lstat()
            digest.update(f"{path.relative_to(root)}\0{info.st_mode:o}\0".encode())
            if path.is_symlink():
                digest.update(os.readlink(path).encode())
            elif path.is_file():
                digest.update(path.read_bytes())
    digest.update(f"{root.stat().st_mode:o}".encode())
    return digest.hexdigest()


def make_site(root: Path) -> Path:
    (root / "host/etc/app").mkdir(parents=True)
    (root / "host/etc/app/app.conf").write_text("kept\n")
    (root / "sentinel/sub").mkdir(parents=True)
    (root / "sentinel/victim").write_text("untouched\n")
    os.chmod(root / "sentinel", 0o755)
    (root / "repo.pass").write_text("unused\n")
    (root / "profile.toml").write_text(PROFILE.format(site=root))
    return root


def restore(site: Path, archive: Path, fmt: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STRONGROOM_STATE_DIR": str(site / "state"),
           "ARCHIVE_PW": PASSWORD.decode()}
    env.pop("STRONGROOM_PROFILE_DIR", None)
    secret = ["--password-env", "ARCHIVE_PW"] if fmt in ("aes.zip", "tar.gz.enc") else []
    return run_strongroom(
        ["restore-backup", "--from-archive", str(archive), *secret, *args,
         "-p", str(site / "profile.toml")], env, Path.cwd(), timeout=300)


def check_outcome(result: subprocess.CompletedProcess[str], exit_code: int, message: str,
                  site: Path, before: dict[str, str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == exit_code, result.stderr
    if message:
        assert re.search(message, result.stderr), result.stderr
    assert len(result.stderr) < 4000
    assert not (site / "canary").exists(), "a command from the archive ran"
    assert tree_digest(site / "sentinel") == before["sentinel"], "the sentinel changed"


PATH_CASES = [pytest.param(case, fmt, id=f"{case.name}-{fmt}")
              for case in CASES for fmt in case.formats]


@pytest.mark.parametrize(("case", "fmt"), PATH_CASES)
def test_path_escapes(tmp_path: Path, case: Case, fmt: str) -> None:
    site = make_site(tmp_path)
    manifest = manifest_for(site, [])
    if case.manifest is not None:
        case.manifest(manifest, site)
    archive = site / f"hostile.{fmt}"
    write_archive(archive, fmt, manifest, case.entries(site / "sentinel"), {})
    before = {"sentinel": tree_digest(site / "sentinel"), "host": tree_digest(site / "host")}
    landing = site / "landing"
    args = () if case.in_place else ("--target", str(landing))
    result = restore(site, archive, fmt, *args, *case.args)
    check_outcome(result, case.exit_code, case.message, site, before)
    if not case.writes:
        assert not landing.exists(), "something was written although it was refused"
        assert tree_digest(site / "host") == before["host"]
        return
    written = [p for p in landing.rglob("*") if p.is_file()]
    assert written and all(p.is_relative_to(landing) for p in written)
    assert all(p.stat().st_mode & 0o7000 == 0 for p in written)


@pytest.mark.parametrize(("name", "hook", "index", "database", "payload", "dump_format",
                          "exit_code", "message"),
                         [pytest.param(*case, id=case[0]) for case in SCRIPT_CASES])
@pytest.mark.parametrize("fmt", ["tar.gz", "zip", "aes.zip"])
def test_script_escapes_run_nothing(tmp_path: Path, fmt: str, name: str, hook: str,
                                    index: int, database: str, payload: bytes,
                                    dump_format: str, exit_code: int, message: str) -> None:
    if hook == "postgresql":
        require_postgres()
    if hook == "mariadb":
        require_mariadb()
    site = make_site(tmp_path)
    data = payload.replace(b"CANARY", str(site / "canary").encode())
    if hook == "sqlite":
        database = str(site / "host" / database)
    logical = f"services/db/{name}.{'raw' if hook == 'command' else 'sql'}"
    streams = [stream(logical, hook, index, database, dump_format, data)]
    archive = site / f"script.{fmt}"
    write_archive(archive, fmt, manifest_for(site, streams), [], {logical: data})
    before = {"sentinel": tree_digest(site / "sentinel")}
    args = ["--database", database, "--as-database", f"{database}=corpus_{os.getpid()}_x"] \
        if hook in ("postgresql", "mariadb") and dump_format != "globals" else []
    if dump_format == "globals":
        args = ["--with-globals"]
    try:
        result = restore(site, archive, fmt, "--target", str(site / "landing"), *args)
        check_outcome(result, exit_code, message, site, before)
    finally:
        if hook == "postgresql":
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                            f"DROP DATABASE IF EXISTS corpus_{os.getpid()}_x"],
                           capture_output=True, check=False)
        if hook == "mariadb":
            subprocess.run(["mariadb", "-uroot", "-e",
                            f"DROP DATABASE IF EXISTS corpus_{os.getpid()}_x"],
                           capture_output=True, check=False)


def test_the_corpus_is_large_enough() -> None:
    assert len(PATH_CASES) + 3 * len(SCRIPT_CASES) >= 60
