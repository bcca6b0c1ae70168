"""borg argv/env builders: pure functions, checked against what borg 1.2 takes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from orchestrator.engines.borg_args import (
    INHERITED_BORG_VARS,
    ancestors,
    archive_name,
    base_env,
    check_args,
    comment_of,
    create_args,
    delete_args,
    dump_args,
    export_tar_args,
    extract_args,
    format_time,
    glob_to_borg,
    literal_of,
    location_of,
    ls_args,
    reads_only,
    stream_create_args,
    without_lock,
)
from orchestrator.engines.borg_output import parse_comment
from orchestrator.errors import UsageError
from orchestrator.profile.schema import Repository
from orchestrator.run import child_env

MOMENT = datetime(2024, 12, 20, 15, 30, 22, tzinfo=timezone(timedelta(hours=1)))


def repo(url: str, **extra: object) -> Repository:
    return Repository.model_validate({"engine": "borg", "url": url, "password_env": "PW",
                                      **extra})


def test_env_names_the_repository_and_the_passphrase_descriptor_only(tmp_path: Path) -> None:
    env = base_env("/srv/borg", tmp_path, 7, None)
    assert env["BORG_REPO"] == "/srv/borg" and env["BORG_PASSPHRASE_FD"] == "7"
    assert env["BORG_CACHE_DIR"] == str(tmp_path / "cache" / "borg")
    assert env["BORG_SECURITY_DIR"] == str(tmp_path / "security" / "borg")
    assert env["BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK"] == "no"
    assert env["TZ"] == "UTC" and "BORG_RSH" not in env or env["BORG_RSH"] is None
    # A user's own passphrase settings never reach our borg.
    for name in INHERITED_BORG_VARS:
        assert name in env
    merged = child_env({**env, "BORG_PASSPHRASE": None})
    assert "BORG_PASSPHRASE" not in merged and "BORG_PASSCOMMAND" not in merged
    assert all("horse" not in value for value in env.values() if value)


def test_locations_and_the_ssh_command() -> None:
    assert location_of("l", repo("/srv/borg"))[0] == "/srv/borg"
    assert location_of("l", repo("local:/srv/borg"))[0] == "/srv/borg"
    where, rsh, address = location_of("n", repo(
        "ssh://backup@nas.lan:2222/srv/borg", identity_file="/k/id", known_hosts_file="/k/kh"))
    assert where == "ssh://backup@nas.lan:2222/srv/borg" and address == ("nas.lan", 2222)
    assert rsh == ("ssh -o BatchMode=yes -i /k/id -o IdentitiesOnly=yes "
                   "-o UserKnownHostsFile=/k/kh -o StrictHostKeyChecking=yes")
    assert location_of("n", repo("ssh://nas/srv/b"))[0] == "ssh://nas:22/srv/b"
    scp, _, scp_address = location_of("n", repo("backup@nas:borg"))
    assert scp == "backup@nas:borg" and scp_address == ("nas", 22)


@pytest.mark.parametrize("url", ["s3://bucket/x", "sftp://u@h/x", "azure://c/p", "gs://b/p",
                                 "rest:https://h/", "rclone:r:p", "ssh://", "ssh:///x"])
def test_urls_borg_cannot_use_are_refused_by_the_profile(url: str) -> None:
    with pytest.raises(ValueError, match="borg"):
        repo(url)


def test_a_url_that_slips_past_the_profile_is_still_refused() -> None:
    unchecked = Repository.model_construct(engine="borg", url="s3:host/bucket")
    with pytest.raises(UsageError, match="borg cannot use"):
        location_of("x", unchecked)


def test_archive_names_are_readable_and_unique() -> None:
    tags = ["strongroom", "set=full-20241220-143022", "part=services/web/app.sql"]
    first, second = archive_name(tags, MOMENT), archive_name(tags, MOMENT)
    assert first != second
    assert re.fullmatch(r"full-20241220-143022\.services_web_app\.sql\.[0-9a-f]{6}", first)
    assert archive_name([], MOMENT).startswith("strongroom-20241220-143022.")
    assert "/" not in archive_name(["set=../../x", "part=a/b"], MOMENT)


def test_the_comment_carries_tags_host_and_paths_through_borgs_placeholders() -> None:
    tags = ["strongroom", "set=s", "part=files", "odd={hostname}"]
    comment = comment_of(tags, "web1", ["/etc/app"])
    # borg's placeholder expansion turns doubled braces back into single ones.
    expanded = comment.replace("{{", "{").replace("}}", "}")
    data = parse_comment(expanded)
    assert data["tags"] == tags and data["host"] == "web1" and data["paths"] == ["/etc/app"]
    assert json.loads(comment_of(tags, "h", [], placeholders=False))["tags"] == tags


@pytest.mark.parametrize("text", ["", "not json", "[1]", '{"tags": ["a"]}', '{"strongroom": 2}'])
def test_comments_not_written_by_strongroom_give_nothing(text: str) -> None:
    assert parse_comment(text) == {}


def test_restic_globs_become_borg_shell_patterns() -> None:
    assert glob_to_borg("/srv/app/**/.terraform") == "sh:srv/app/**/.terraform"
    assert glob_to_borg(r"/srv/we\*ird\[1\]/x") == "sh:srv/we[*]ird[[]1[]]/x"
    assert glob_to_borg("*.tmp") == "sh:*.tmp"
    assert literal_of(r"/srv/we\*ird") == "/srv/we*ird"
    assert literal_of("/srv/*.log") is None


def test_ancestors_are_the_folders_above_each_path_once() -> None:
    assert ancestors(["/srv/a/b", "/srv/a/c", "/etc/x"]) == ["etc", "srv", "srv/a"]
    assert ancestors(["/top"]) == []


def test_create_walks_the_root_and_keeps_only_the_sources() -> None:
    argv = create_args(["/srv/data", "/etc/app"], name="s.files.abc123", comment="{{}}",
                       time=MOMENT, excludes=["/etc/app/**/.terraform"], progress=True)
    assert argv[:4] == ["borg", "create", "--log-json", "--json"]
    assert argv[argv.index("--timestamp") + 1] == "2024-12-20T14:30:22"
    assert argv[argv.index("--compression") + 1] == "lz4"
    assert "--progress" in argv
    patterns = [arg for arg in argv if arg.startswith("--pattern=")]
    # Excludes first (borg: the first match wins), then the sources, their folders, nothing else.
    assert argv.index("--exclude") < argv.index(patterns[0])
    assert argv[argv.index("--exclude") + 1] == "sh:etc/app/**/.terraform"
    assert patterns == ["--pattern=+pp:srv/data", "--pattern=+pp:etc/app",
                        "--pattern=+re:^etc$", "--pattern=+re:^srv$", "--pattern=!re:."]
    assert argv[-3:] == ["--", "::s.files.abc123", "/"]


def test_stream_create_reads_stdin_under_its_logical_name() -> None:
    argv = stream_create_args("/services/web/app.sql", name="n", comment="c", time=MOMENT,
                              compression="max")
    assert argv[argv.index("--stdin-name") + 1] == "services/web/app.sql"
    assert argv[argv.index("--compression") + 1] == "zstd,19"
    assert argv[-3:] == ["--", "::n", "-"]


def test_extract_of_literal_paths_brings_their_folders() -> None:
    argv = extract_args("n", includes=["/srv/data", r"/etc/we\*ird"])
    assert argv[-2:] == ["--", "::n"]
    assert "--pattern=+pp:srv/data" in argv and "--pattern=+pp:etc/we*ird" in argv
    assert "--pattern=+re:^srv$" in argv and argv[-3] == "--pattern=-re:."
    assert extract_args("n")[-2:] == ["--", "::n"]
    assert extract_args("n", includes=["/"])[-2:] == ["--", "::n"]
    globbed = extract_args("n", includes=["/srv/*.log"], excludes=["/srv/x"])
    assert "--pattern=+sh:srv/*.log" in globbed and "sh:srv/x" in globbed


def test_reads_go_without_a_lock_writes_do_not() -> None:
    assert without_lock(ls_args("n"))[:3] == ["borg", "list", "--bypass-lock"]
    assert reads_only(dump_args("n", "/a")) and reads_only(export_tar_args("n"))
    assert not reads_only(delete_args(["a", "b"])) and not reads_only(create_args(
        ["/x"], name="n", comment="", time=MOMENT))
    assert delete_args(["a", "b"])[-3:] == ["--", "::a", "b"]
    assert check_args(True)[-1] == "--verify-data" and "--verify-data" not in check_args(False)
    assert export_tar_args("n", "/")[-2:] == ["::n", "-"]
    assert format_time(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T00:00:00"
