"""WAL names, LSNs and the shell strings PostgreSQL runs: pure, no servers."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from hooks.postgresql import PostgresqlConfig
from orchestrator.errors import UsageError
from orchestrator.pitr import pgargs, walnames


def test_segment_names_follow_lsns() -> None:
    assert walnames.segment_of(1, walnames.lsn_value("0/3000028")) == "000000010000000000000003"
    assert walnames.segment_of(2, walnames.lsn_value("1/FF000000")) == "0000000200000001000000FF"
    assert walnames.segments_between("0000000100000000000000FE", "000000010000000100000001") \
        == ["0000000100000000000000FE", "0000000100000000000000FF",
            "000000010000000100000000", "000000010000000100000001"]
    with pytest.raises(ValueError):
        walnames.lsn_value("0/3000028; rm")


@pytest.mark.parametrize("name", ["000000010000000000000003", "00000002.history",
                                  "000000010000000000000003.00000028.backup",
                                  "000000010000000000000003.partial"])
def test_wal_names_accepted(name: str) -> None:
    assert walnames.checked_name(name) == name


@pytest.mark.parametrize("name", ["../etc/passwd", "00000001000000000000000", "x.history",
                                  "000000010000000000000003/", "", ".ship.lock",
                                  "00000001000000000000000g"])
def test_other_names_refused(name: str) -> None:
    with pytest.raises(UsageError):
        walnames.checked_name(name)


def test_archive_command_quotes_every_part(tmp_path: Path) -> None:
    profile = tmp_path / "it's 100% a profile.toml"
    profile.write_text("")
    command = pgargs.archive_command(["/usr/bin/python3", "-m", "orchestrator"], profile,
                                     "db")
    assert command.endswith(" %p")
    # PostgreSQL turns %% into %, then the shell splits: the parts come back whole.
    words = shlex.split(command.replace("%%", "%").removesuffix(" %p"))
    assert words == ["/usr/bin/python3", "-m", "orchestrator", "wal-push", "-p", str(profile),
                     "--service", "db"]
    assert "%p" not in command[:-3].replace("%%", "")


def test_restore_command_has_the_two_placeholders(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text("")
    command = pgargs.restore_command(["strongroom"], profile, "db", tmp_path / "cache")
    assert command.endswith(" %f %p")
    assert shlex.split(command)[1:4] == ["wal-fetch", "-p", str(profile)]


@pytest.mark.parametrize("profile", ["relative.toml", "/nonexistent/profile.toml"])
def test_archive_command_needs_an_existing_absolute_profile(profile: str) -> None:
    with pytest.raises(UsageError, match="absolute path"):
        pgargs.archive_command(["strongroom"], Path(profile), "db")


def test_a_line_break_cannot_reach_the_shell(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text("")
    with pytest.raises(UsageError, match="line break"):
        pgargs.archive_command(["strongroom"], profile, "db\nrm -rf /")


def test_basebackup_and_tar_argv() -> None:
    config = PostgresqlConfig(type="postgresql", host="/run/pg", port=5433, username="u",
                              pg_dump="/usr/lib/postgresql/15/bin/pg_dump")
    argv = pgargs.basebackup_argv(config, "strongroom db-base")
    assert argv[0] == "/usr/lib/postgresql/15/bin/pg_basebackup"
    assert "--wal-method=none" in argv and "--format=tar" in argv and argv[-1] == "--pgdata=-"
    tar = pgargs.batch_tar_argv(Path("/spool"), ["000000010000000000000003"])
    assert tar[-2:] == ["--", "000000010000000000000003"]
    assert pgargs.as_owner(["pg_ctl"], "postgres") == ["runuser", "-u", "postgres", "--",
                                                      "pg_ctl"]


def test_continuous_needs_a_data_directory() -> None:
    with pytest.raises(ValueError, match="data_directory"):
        PostgresqlConfig(type="postgresql", continuous=True)
    config = PostgresqlConfig(type="postgresql", continuous=True,
                              data_directory=Path("/var/lib/postgresql/15/main"))
    assert config.spool_directory() == Path("/var/lib/postgresql/15/strongroom-wal-spool")
    with pytest.raises(ValueError):
        PostgresqlConfig(type="postgresql", archive_timeout="60s; x")
