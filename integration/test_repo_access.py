"""Reading a repository without its profile (`--repo` and a password option), from a
fresh HOME with no profile and an empty state directory, against real restic."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from integration.conftest import STRONGROOM, Result, Site, compare_trees, with_sqlite

PASSWORD = "correct horse battery staple"
OTHER = """\
name = "web1"

[repositories.local]
url = "{repository}"
password_file = "{password}"

[config]
web = ["{web}"]
"""


@pytest.fixture
def two_profiles(make_site: Callable[..., Site]) -> tuple[Site, Path, dict[str, str]]:
    """One repository holding sets of profile "site" (two, one with sqlite) and of
    profile "web1" (one, of the same name "config" as one of site's)."""
    site = make_site()
    with_sqlite(site, rows=50)
    made = {"site-config": site.run("create-backup", "--json").json()["set"],
            "site-full": site.run("create-backup", "--type", "full", "--json").json()["set"]}
    web = site.root / "web1"
    (web / "www").mkdir(parents=True)
    (web / "www/index.html").write_text("<h1>web1</h1>\n")
    other = site.root / "web1.toml"
    other.write_text(OTHER.format(repository=site.repository, password=site.password_file,
                                  web=web))
    proc = subprocess.run(
        [*STRONGROOM, "create-backup", "--json", "-p", str(other)], capture_output=True,
        text=True, env={**os.environ, "STRONGROOM_STATE_DIR": str(site.root / "state-web1")},
        check=False)
    assert proc.returncode == 0, proc.stderr
    made["web1-config"] = Result(0, proc.stdout, "").json()["set"]
    return site, web, made


def fresh(tmp_path: Path) -> Callable[..., Result]:
    """strongroom from a HOME with no profile and an empty state directory."""
    home = tmp_path / "fresh-home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("STRONGROOM_", "RESTIC_"))}
    env.update(HOME=str(home), STRONGROOM_STATE_DIR=str(tmp_path / "fresh-state"),
               XDG_CONFIG_HOME=str(home / ".config"), REPO_PASSWORD=PASSWORD)

    def run(*args: str, extra: dict[str, str] | None = None) -> Result:
        proc = subprocess.run([*STRONGROOM, *args], capture_output=True, text=True,
                              env={**env, **(extra or {})}, cwd=home, timeout=600, check=False)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


def test_list_with_each_password_option_shows_every_profile(
        two_profiles: tuple[Site, Path, dict[str, str]], tmp_path: Path) -> None:
    site, _, made = two_profiles
    run = fresh(tmp_path)
    without = run("list-backups")
    assert without.returncode != 0 and "profile" in without.stderr
    for option in (["--password-file", str(site.password_file)],
                   ["--password-command", f"cat {site.password_file}"],
                   ["--password-env", "REPO_PASSWORD"]):
        listed = run("list-backups", "--repo", str(site.repository), *option, "--json")
        assert listed.returncode == 0, listed.stderr
        backups = listed.json()["backups"]
        assert {(b["set"], b["profile"]) for b in backups} == {
            (made["site-config"], "site"), (made["site-full"], "site"),
            (made["web1-config"], "web1")}
    table = run("list-backups", "--repo", str(site.repository), "--password-env",
                "REPO_PASSWORD")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["SET", "PROFILE", "ID"]
    rows = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert rows == {made["site-config"]: "site", made["site-full"]: "site",
                    made["web1-config"]: "web1"}


def test_restore_and_download_by_repo(two_profiles: tuple[Site, Path, dict[str, str]],
                                      tmp_path: Path) -> None:
    site, web, made = two_profiles
    run = fresh(tmp_path)
    repo = ["--repo", str(site.repository), "--password-file", str(site.password_file)]
    ambiguous = run("restore-backup", *repo, "--backup", "config", "--target",
                    str(tmp_path / "nowhere"))
    assert ambiguous.returncode == 2, ambiguous.stderr
    assert "site, web1" in ambiguous.stderr and "full set name" in ambiguous.stderr
    assert not (tmp_path / "nowhere").exists()

    target = tmp_path / "restored"
    done = run("restore-backup", *repo, "--backup", made["site-full"], "--target", str(target),
               "--json")
    assert done.returncode == 0, done.stderr
    host = site.root / "host"
    for rel in ("etc/app", "srv/data", "srv/other"):
        assert compare_trees(host / rel, target / str(host / rel).lstrip("/"),
                             skip=(".terraform",) if rel == "etc/app" else ()) > 0
    db = site.root / "app.sqlite"
    restored_db = target / str(db).lstrip("/")
    with sqlite3.connect(restored_db) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (50,)
    conn.close()

    web_target = tmp_path / "web1-restored"
    done = run("restore-backup", *repo, "--backup", made["web1-config"], "--target",
               str(web_target))
    assert done.returncode == 0, done.stderr
    assert compare_trees(web, web_target / str(web).lstrip("/")) == 2

    archive = tmp_path / "web1.zip"
    got = run("download-backup", "--repo", str(site.repository), "--password-command",
              f"cat {site.password_file}", "--backup", made["web1-config"], "-o", str(archive),
              "--json")
    assert got.returncode == 0, got.stderr
    assert got.json()["set"] == made["web1-config"] and archive.stat().st_size > 0
    verified = run("verify-backup", *repo, "--backup", made["site-config"], "--json")
    assert verified.returncode == 0, verified.stderr
    compared = run("backup-compare", *repo, made["site-config"], made["site-full"])
    assert compared.returncode == 0, compared.stderr


def test_usage_and_access_errors_are_one_message(
        two_profiles: tuple[Site, Path, dict[str, str]], tmp_path: Path) -> None:
    site, _, _ = two_profiles
    run = fresh(tmp_path)
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not the password\n")
    cases = {
        "wrong-password": ["--repo", str(site.repository), "--password-file", str(wrong)],
        "missing-repo": ["--repo", str(tmp_path / "absent"), "--password-file",
                         str(site.password_file)],
        "with-profile": ["--repo", str(site.repository), "--password-file",
                         str(site.password_file), "-p", str(site.profile)],
        "password-alone": ["--password-file", str(site.password_file)],
        "no-password": ["--repo", str(site.repository)],
        "two-passwords": ["--repo", str(site.repository), "--password-file",
                          str(site.password_file), "--password-env", "REPO_PASSWORD"],
    }
    expected = {"wrong-password": "wrong password", "missing-repo": "no restic repository",
                "with-profile": "not both", "password-alone": "only with --repo URL",
                "no-password": "exactly one of", "two-passwords": "exactly one of"}
    for case, args in cases.items():
        for command in (["list-backups"], ["restore-backup", "--backup", "latest", "--target",
                                           str(tmp_path / "t")]):
            result = run(*command, *args)
            assert result.returncode != 0, (case, command, result.stdout)
            error, *rest = result.stderr.strip().splitlines()
            assert error.startswith("strongroom: error: "), (case, result.stderr)
            assert expected[case] in error, (case, error)
            assert all(line.startswith("  hint: ") for line in rest), (case, result.stderr)
            assert PASSWORD not in result.stderr
    assert not (tmp_path / "t").exists()


def test_a_profile_with_no_sets_names_the_profiles_that_have_some(
        two_profiles: tuple[Site, Path, dict[str, str]], tmp_path: Path) -> None:
    site, _, _ = two_profiles
    stub = tmp_path / "stub.toml"
    stub.write_text(f'name = "x"\n\n[repositories.local]\nurl = "{site.repository}"\n'
                    f'password_file = "{site.password_file}"\n')
    run = fresh(tmp_path)
    expected = ("no sets of profile 'x' in local; the repository holds sets of: site (2), "
                "web1 (1)")
    listed = run("list-backups", "-p", str(stub))
    assert listed.returncode == 0 and listed.stdout == ""
    assert listed.stderr.strip() == expected
    restore = run("restore-backup", "-p", str(stub), "--backup", "latest", "--target",
                  str(tmp_path / "t"))
    assert restore.returncode != 0
    assert restore.stderr.strip() == f"strongroom: error: {expected}"


def test_an_s3_repository_with_credentials_from_the_environment(
        make_site: Callable[..., Site], tmp_path: Path) -> None:
    from integration.s3server import moto_s3

    site = make_site()
    with moto_s3(tmp_path) as s3:
        site.profile.write_text(site.profile.read_text() + s3.repository_toml(
            "offsite", "strongroom-site", site.password_file))
        site.run("init", "--destination", "offsite")
        name = site.run("create-backup", "--destination", "offsite", "--json").json()["set"]
        run = fresh(tmp_path)
        secret = s3.secret_file.read_text().strip()
        url = f"s3:{s3.endpoint}/strongroom-site/strongroom"
        repo = ["--repo", url, "--password-env", "REPO_PASSWORD", "--json"]
        keys = {"AWS_ACCESS_KEY_ID": s3.access_key_id, "AWS_DEFAULT_REGION": "us-east-1"}
        listed = run("list-backups", *repo, extra={**keys, "AWS_SECRET_ACCESS_KEY": secret})
        assert listed.returncode == 0, listed.stderr
        assert [(b["set"], b["profile"]) for b in listed.json()["backups"]] == [(name, "site")]
        by_file = run("list-backups", *repo, "--repo-env",
                      f"AWS_SECRET_ACCESS_KEY={s3.secret_file}", "-vv", extra=keys)
        assert by_file.returncode == 0, by_file.stderr
        assert [b["set"] for b in by_file.json()["backups"]] == [name]
        assert secret not in by_file.stderr
        refused = run("list-backups", *repo, extra=keys)  # no secret key anywhere
        assert refused.returncode != 0
        assert refused.stderr.startswith("strongroom: error: ")


def test_a_postgresql_database_restores_by_repo_through_the_hooks_defaults(
        site: Site, tmp_path: Path) -> None:
    from integration.databases import pg_fingerprint, psql, require_postgres, unique

    require_postgres()
    name = unique("sr_repo")
    psql("postgres", f"CREATE DATABASE {name}")
    try:
        psql(name, "CREATE TABLE t (id int PRIMARY KEY, v text); "
                   "INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g")
        before = pg_fingerprint(name)
        site.profile.write_text(site.profile.read_text() + f"""
[[services.web.hooks]]
type = "postgresql"
databases = ["{name}"]
host = "127.0.0.1"
username = "postgres"
""")
        made = site.run("create-backup", "--type", "full", "--json").json()["set"]
        psql("postgres", f"DROP DATABASE {name}")
        run = fresh(tmp_path)
        done = run("restore-backup", "--repo", str(site.repository), "--password-file",
                   str(site.password_file), "--backup", made, "--database", name,
                   extra={"PGHOST": "127.0.0.1", "PGUSER": "postgres"})
        assert done.returncode == 0, done.stderr
        assert pg_fingerprint(name) == before
    finally:
        psql("postgres", f"DROP DATABASE IF EXISTS {name}")
