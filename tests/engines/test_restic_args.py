"""restic argv/env builders and output parsers: pure functions, fed with real restic output."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from orchestrator.engines.base import (
    EngineError,
    EngineVersion,
    RepositoryLocked,
    RepositoryMissing,
    RepositoryReadOnly,
    WrongPassword,
)
from orchestrator.engines.restic_args import (
    INHERITED_RESTIC_VARS,
    backup_args,
    base_env,
    check_args,
    classify_failure,
    escape_pattern,
    format_time,
    parse_ls,
    parse_snapshots,
    parse_time,
    parse_version,
    reads_only,
    restore_args,
    snapshots_args,
    stream_backup_args,
    tag_add_args,
    tag_args,
    without_lock,
)
from orchestrator.errors import StrongroomError
from orchestrator.run import child_env

BERLIN_WINTER = timezone(timedelta(hours=1), "CET")
# 15:30:22 in UTC+1 is 14:30:22 UTC.
MOMENT = datetime(2024, 12, 20, 15, 30, 22, tzinfo=BERLIN_WINTER)


# --- builders --------------------------------------------------------------------------


def test_backup_args_full_shape() -> None:
    args = backup_args(
        ["/etc/nginx", "-starts-with-dash"],
        tags=["strongroom", "set=weekly-20241220-143022", "part=files"],
        time=MOMENT,
        host="web1",
        excludes=["/etc/nginx/**/*.tmp", "/etc/nginx/cache"],
        compression="max",
    )
    assert args == [
        "restic", "backup", "--json", "--host", "web1",
        "--time", "2024-12-20 14:30:22",
        "--compression", "max",
        "--tag", "strongroom", "--tag", "set=weekly-20241220-143022", "--tag", "part=files",
        "--exclude", "/etc/nginx/**/*.tmp", "--exclude", "/etc/nginx/cache",
        "--", "/etc/nginx", "-starts-with-dash",
    ]


def test_backup_args_time_is_utc_from_any_zone() -> None:
    pacific = timezone(timedelta(hours=-8))
    args = backup_args(["/x"], tags=[], time=datetime(2024, 12, 31, 20, 0, 0, tzinfo=pacific),
                       host="h")
    assert args[args.index("--time") + 1] == "2025-01-01 04:00:00"


def test_backup_args_time_with_zoneinfo() -> None:
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("no tz database")
    summer = datetime(2024, 7, 1, 12, 0, 0, tzinfo=berlin)  # CEST, UTC+2
    assert format_time(summer) == "2024-07-01 10:00:00"


def test_backup_args_defaults() -> None:
    args = backup_args(["/a"], tags=["t"], time=MOMENT, host="h")
    assert args[args.index("--compression") + 1] == "auto"
    assert "--exclude" not in args
    assert args[-2:] == ["--", "/a"]
    # every flag comes before the `--` separator
    assert args.index("--tag") < args.index("--")


def test_tags_are_separate_tag_flags() -> None:
    assert tag_args(["a", "b=c"]) == ["--tag", "a", "--tag", "b=c"]
    assert tag_args([]) == []


def test_tag_with_comma_is_refused() -> None:
    with pytest.raises(ValueError, match="comma"):
        backup_args(["/a"], tags=["ok", "set=a,b"], time=MOMENT, host="h")
    with pytest.raises(ValueError):
        stream_backup_args("x.sql", tags=["a,b"], time=MOMENT, host="h")


def test_stream_backup_args() -> None:
    args = stream_backup_args(
        "services/nextcloud/database.sql",
        tags=["strongroom", "part=services/nextcloud/database.sql"],
        time=MOMENT,
        host="web1",
        compression="off",
    )
    assert args == [
        "restic", "backup", "--json", "--stdin",
        "--stdin-filename", "services/nextcloud/database.sql",
        "--host", "web1", "--time", "2024-12-20 14:30:22", "--compression", "off",
        "--tag", "strongroom", "--tag", "part=services/nextcloud/database.sql",
    ]


def test_snapshots_args_filters_by_all_tags() -> None:
    assert snapshots_args([]) == ["restic", "snapshots", "--json"]
    # one --tag with a comma list means "all of these" to restic
    assert snapshots_args(["strongroom", "profile=site"]) == [
        "restic", "snapshots", "--json", "--tag", "strongroom,profile=site",
    ]


def test_restore_args_with_includes_excludes_and_verify() -> None:
    args = restore_args(
        "abcdef12", Path("/restore/here"),
        includes=["/etc/nginx", "/srv/a\\*b"], excludes=["/etc/nginx/cache"], verify=True,
    )
    assert args == [
        "restic", "restore", "abcdef12", "--target", "/restore/here",
        "--include", "/etc/nginx", "--include", "/srv/a\\*b",
        "--exclude", "/etc/nginx/cache", "--verify",
    ]


def test_restore_args_minimal() -> None:
    assert restore_args("abc", Path("/t")) == ["restic", "restore", "abc", "--target", "/t"]


def test_escape_pattern() -> None:
    assert escape_pattern("a*b?[c]") == "a\\*b\\?\\[c\\]"
    assert escape_pattern("back\\slash") == "back\\\\slash"
    assert escape_pattern("/plain/path-1.conf") == "/plain/path-1.conf"


# --- environment -----------------------------------------------------------------------


def test_base_env_removes_inherited_restic_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    env = base_env("/srv/repo", Path("/state/cache/restic"), "/etc/strongroom/local.pass")
    for name in ("RESTIC_PASSWORD", "RESTIC_PASSWORD_COMMAND", "RESTIC_REPOSITORY_FILE",
                 "RESTIC_KEY_HINT"):
        assert name in env and env[name] is None
    assert env["RESTIC_REPOSITORY"] == "/srv/repo"
    assert env["RESTIC_PASSWORD_FILE"] == "/etc/strongroom/local.pass"
    assert env["RESTIC_CACHE_DIR"] == "/state/cache/restic"
    assert env["TZ"] == "UTC"

    monkeypatch.setenv("RESTIC_PASSWORD", "users-own-password")
    monkeypatch.setenv("RESTIC_PASSWORD_COMMAND", "pass show mine")
    monkeypatch.setenv("RESTIC_REPOSITORY", "/users/own/repo")
    monkeypatch.setenv("TZ", "Europe/Berlin")
    final = child_env(env)
    assert "RESTIC_PASSWORD" not in final
    assert "RESTIC_PASSWORD_COMMAND" not in final
    assert final["RESTIC_REPOSITORY"] == "/srv/repo"
    assert final["TZ"] == "UTC"
    assert set(INHERITED_RESTIC_VARS) >= {"RESTIC_PASSWORD", "RESTIC_PASSWORD_COMMAND"}


# --- parsers ---------------------------------------------------------------------------


def test_parse_version() -> None:
    version = parse_version("restic 0.14.0 compiled with go1.19.8 on linux/amd64\n")
    assert version == EngineVersion("restic", (0, 14, 0))
    assert str(version) == "restic 0.14.0"
    assert parse_version("restic 0.17.3 compiled with go1.23.3 on linux/amd64").version == (
        0, 17, 3)
    assert parse_version("restic 0.9.6 compiled with go1.13.4 on linux/amd64").version < (
        0, 14, 0)


def test_parse_version_garbage() -> None:
    with pytest.raises(EngineError, match="version"):
        parse_version("borg 1.2.4")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-12-20T14:30:22.123456789Z",
         datetime(2024, 12, 20, 14, 30, 22, 123456, tzinfo=UTC)),
        ("2024-12-20T14:30:22Z", datetime(2024, 12, 20, 14, 30, 22, tzinfo=UTC)),
        ("2024-12-20T14:30:22.5Z",
         datetime(2024, 12, 20, 14, 30, 22, 500000, tzinfo=UTC)),
        ("2024-12-20T15:30:22.123456789+01:00",
         datetime(2024, 12, 20, 14, 30, 22, 123456, tzinfo=UTC)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.tzinfo is not None


# `restic snapshots --json` as restic 0.14.0 prints it (TZ=UTC).
SNAPSHOTS_014 = """[{"time":"2024-12-20T14:30:22Z","tree":"84acd3a7d40071226becd441a9d4f42681624d264715ab46241bd002a6a32381","paths":["/etc/nginx","/var/lib/strongroom/sets/weekly"],"hostname":"web1","username":"root","tags":["strongroom","set=weekly-20241220-143022","part=files"],"id":"231f18d8ab12a41d7a1c6d02d6db9869aad621f6610d854e7bb716cbf9df5c3b","short_id":"231f18d8"},{"time":"2024-12-19T01:00:00.123456789Z","tree":"94acd3a7d40071226becd441a9d4f42681624d264715ab46241bd002a6a32381","paths":["/etc"],"hostname":"web1","username":"root","id":"99aa18d8ab12a41d7a1c6d02d6db9869aad621f6610d854e7bb716cbf9df5c3b","short_id":"99aa18d8"}]
"""

# restic 0.17 adds a "summary" object to every snapshot.
SNAPSHOTS_017 = json.dumps([{
    "time": "2024-12-20T14:30:22.987654321Z",
    "tree": "84acd3a7d40071226becd441a9d4f42681624d264715ab46241bd002a6a32381",
    "paths": ["services/nextcloud/database.sql"],
    "hostname": "web1",
    "username": "root",
    "tags": ["strongroom", "part=services/nextcloud/database.sql"],
    "program_version": "restic 0.17.3",
    "summary": {
        "backup_start": "2024-12-20T14:30:22.987654321Z",
        "backup_end": "2024-12-20T14:30:25.1Z",
        "files_new": 1, "files_changed": 0, "files_unmodified": 0,
        "dirs_new": 0, "dirs_changed": 0, "dirs_unmodified": 0,
        "data_blobs": 3, "tree_blobs": 1, "data_added": 1200, "data_added_packed": 800,
        "total_files_processed": 1, "total_bytes_processed": 123456,
    },
    "id": "5c8e0d9a1f2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5",
    "short_id": "5c8e0d9a",
}])


def test_parse_snapshots_restic_014() -> None:
    snaps = parse_snapshots(SNAPSHOTS_014)
    assert [snap.short_id for snap in snaps] == ["99aa18d8", "231f18d8"]  # oldest first
    newest = snaps[-1]
    assert newest.id.startswith("231f18d8") and len(newest.id) == 64
    assert newest.time == datetime(2024, 12, 20, 14, 30, 22, tzinfo=UTC)
    assert newest.hostname == "web1"
    assert newest.paths == ("/etc/nginx", "/var/lib/strongroom/sets/weekly")
    assert newest.tags == ("strongroom", "set=weekly-20241220-143022", "part=files")
    assert newest.tag("set") == "weekly-20241220-143022"
    assert newest.tag("missing") is None
    assert newest.total_bytes is None
    assert snaps[0].tags == ()  # a snapshot without tags has no "tags" key
    assert snaps[0].time.microsecond == 123456


def test_parse_snapshots_restic_017_summary() -> None:
    (snap,) = parse_snapshots(SNAPSHOTS_017)
    assert snap.total_bytes == 123456
    assert snap.short_id == "5c8e0d9a"
    assert snap.tag("part") == "services/nextcloud/database.sql"


def test_parse_snapshots_empty() -> None:
    assert parse_snapshots("[]\n") == []
    assert parse_snapshots("") == []
    assert parse_snapshots("null") == []


def test_parse_snapshots_short_id_defaults_to_prefix() -> None:
    (snap,) = parse_snapshots(json.dumps([{"time": "2024-01-01T00:00:00Z", "id": "f" * 64}]))
    assert snap.short_id == "f" * 8


# `restic ls --json --long` as restic 0.14.0 prints it.
LS_014 = """\
{"time":"2024-12-20T14:30:22Z","tree":"84acd3a7d40071226becd441a9d4f42681624d264715ab46241bd002a6a32381","paths":["/tmp/srchk/data"],"hostname":"vm","username":"root","tags":["strongroom","set=a"],"id":"231f18d8ab12a41d7a1c6d02d6db9869aad621f6610d854e7bb716cbf9df5c3b","short_id":"231f18d8","struct_type":"snapshot"}
{"name":"data","type":"dir","path":"/data","uid":0,"gid":0,"mode":2147484141,"permissions":"drwxr-xr-x","mtime":"2024-11-27T16:14:04.32729493Z","atime":"2024-11-27T16:14:04.32729493Z","ctime":"2024-11-27T16:14:04.32729493Z","struct_type":"node"}
{"name":"f","type":"file","path":"/data/f","uid":0,"gid":0,"size":3,"mode":420,"permissions":"-rw-r--r--","mtime":"2024-11-27T16:14:04.32729493Z","atime":"2024-11-27T16:14:04.32729493Z","ctime":"2024-11-27T16:14:04.32729493Z","struct_type":"node"}
{"name":"l","type":"symlink","path":"/data/l","uid":0,"gid":0,"mode":134218239,"permissions":"Lrwxrwxrwx","mtime":"2024-11-27T16:14:04.32729493Z","atime":"2024-11-27T16:14:04.32729493Z","ctime":"2024-11-27T16:14:04.32729493Z","struct_type":"node"}
"""


def test_parse_ls() -> None:
    nodes = parse_ls(LS_014)
    assert [(node.path, node.type) for node in nodes] == [
        ("/data", "dir"), ("/data/f", "file"), ("/data/l", "symlink"),
    ]
    directory, file, link = nodes
    assert directory.size == 0
    assert directory.mode == 2147484141
    assert file.size == 3
    assert file.mode == 0o644
    assert file.mtime == "2024-11-27T16:14:04.32729493Z"
    assert link.link_target is None


def test_parse_ls_ignores_noise_and_reads_linktarget() -> None:
    text = "\n".join([
        "repository 1234abcd opened (version 2, compression level auto)",
        json.dumps({"struct_type": "snapshot", "id": "x"}),
        "",
        json.dumps({"name": "l", "type": "symlink", "path": "/l", "linktarget": "/target",
                    "struct_type": "node"}),
    ])
    (node,) = parse_ls(text)
    assert node.link_target == "/target"
    assert node.size == 0 and node.mode == 0


# --- classify_failure ------------------------------------------------------------------

WRONG_PASSWORD_014 = "Fatal: wrong password or no key found\n"
MISSING_014 = (
    "Fatal: unable to open config file: stat /x/config: no such file or directory\n"
    "Is there a repository at the following location?\n/x\n"
)
LOCKED = (
    "unable to create lock in backend: repository is already locked by PID 4711 on web1 by "
    "root (UID 0, GID 0)\nlock was created at 2024-12-20 14:30:22 (1m0s ago)\n"
    "storage ID 1a2b3c4d\nthe `unlock` command can be used to remove stale locks\n"
)


def classify(code: int, stderr: str) -> Exception:
    return classify_failure("local", "/x", code, stderr)


@pytest.mark.parametrize(
    ("code", "stderr"),
    [(1, WRONG_PASSWORD_014), (12, "Fatal: wrong password or no key found\n"), (12, "")],
)
def test_classify_wrong_password(code: int, stderr: str) -> None:
    err = classify(code, stderr)
    assert type(err) is WrongPassword
    assert "wrong password" in str(err)
    assert "'local'" in str(err) and "/x" in str(err)
    assert err.hint and "password" in err.hint


@pytest.mark.parametrize(
    ("code", "stderr"), [(1, MISSING_014), (10, "Fatal: repository does not exist\n"), (10, "")]
)
def test_classify_missing_repository(code: int, stderr: str) -> None:
    err = classify(code, stderr)
    assert type(err) is RepositoryMissing
    assert "no restic repository" in str(err)
    assert err.hint is not None and "strongroom init" in err.hint
    assert "local" in err.hint


def test_classify_unreadable_repository_is_not_called_missing() -> None:
    stderr = (
        "Fatal: unable to open config file: stat /x/config: permission denied\n"
        "Is there a repository at the following location?\n/x\n"
    )
    err = classify(1, stderr)
    assert not isinstance(err, RepositoryMissing)
    assert "permission denied" in str(err)


READ_ONLY_014 = (
    "Save(<lock/7f9bcd002e>) returned error, retrying after 552.330144ms: open /x/locks/7f9b-tmp"
    "-4198917198: read-only file system\n"
    "open /x/locks/7f9b-tmp-366823073: read-only file system\n"
    "github.com/restic/restic/internal/backend/local.(*Local).Save\n"
    "unable to create lock in backend\n"
)


def test_classify_read_only_repository() -> None:
    err = classify(1, READ_ONLY_014)
    assert type(err) is RepositoryReadOnly
    assert "is read-only" in str(err) and "read-only file system" not in str(err)
    assert type(classify(1, LOCKED)) is RepositoryLocked  # held locks say "unable to create" too


def test_without_lock_only_for_read_commands() -> None:
    assert without_lock(["restic", "snapshots", "--json"]) == [
        "restic", "snapshots", "--no-lock", "--json"]
    assert without_lock(restore_args("abc", Path("/t")))[:3] == ["restic", "restore", "--no-lock"]
    assert without_lock(check_args())[:3] == ["restic", "check", "--no-lock"]
    assert without_lock(["restic", "dump", "--no-lock", "abc", "/p"]).count("--no-lock") == 1
    for write in (["restic", "backup", "/x"], tag_add_args(["abc"], ["a=b"]),
                  ["restic", "forget", "abc"], ["restic", "prune"], ["restic", "unlock"]):
        assert not reads_only(write)
        assert without_lock(write) == write


@pytest.mark.parametrize(("code", "stderr"), [(1, LOCKED), (11, "Fatal: locked\n")])
def test_classify_locked(code: int, stderr: str) -> None:
    err = classify(code, stderr)
    assert type(err) is RepositoryLocked
    assert "locked" in str(err)


def test_classify_unknown_flag() -> None:
    err = classify(1, "unknown flag: --bogus\n")
    assert type(err) is EngineError
    assert "--bogus" in str(err)
    assert "flag" in str(err)


def test_classify_generic() -> None:
    err = classify(1, "some progress\nFatal: disk quota exceeded\n\n")
    assert type(err) is EngineError
    assert "exit 1" in str(err)
    assert "Fatal: disk quota exceeded" in str(err)
    assert type(classify(3, "")) is EngineError
    assert "no message" in str(classify(3, ""))


def test_classify_names_the_items_a_restore_could_not_read() -> None:
    stderr = "".join(f"ignoring error for /srv/f{i}: ciphertext verification failed\n"
                     for i in range(7)) + "Fatal: There were 7 errors\n"
    message = str(classify(1, stderr))
    assert "Fatal: There were 7 errors" in message
    assert "/srv/f0: ciphertext verification failed" in message and "/srv/f4" in message
    assert "/srv/f5" not in message and "… and 2 more" in message
    assert "\n" not in str(classify(1, "Fatal: something else\n"))


def test_classify_messages_differ() -> None:
    errors = [
        classify(1, WRONG_PASSWORD_014),
        classify(1, MISSING_014),
        classify(1, LOCKED),
        classify(1, "unknown flag: --bogus"),
        classify(1, "Fatal: something else"),
    ]
    assert len({type(err) for err in errors}) == 4  # unknown flag and generic share a type
    assert len({str(err) for err in errors}) == len(errors)
    assert all(isinstance(err, EngineError) for err in errors)


def test_check_reads_a_subset_of_the_data_only_when_asked() -> None:
    assert check_args() == ["restic", "check"]
    assert check_args("5%") == ["restic", "check", "--read-data-subset=5%"]


def test_exit_codes_and_final_words_decide_not_retry_lines() -> None:
    from orchestrator.engines.base import (
        AuthenticationDenied,
        BucketMissing,
        RepositoryLocked,
        Unreachable,
        WrongPassword,
    )
    from orchestrator.engines.restic_args import classify_failure

    retry = "Load(<lock/1>, 0, 0) returned error, retrying after 552ms: dial tcp: connection " \
            "refused\n"
    cases = [
        (11, retry + "Fatal: repository is already locked by PID 811", RepositoryLocked),
        (12, retry + "Fatal: wrong password or no key found", WrongPassword),
        (1, "Fatal: unable to open config file: Stat: The AWS Access Key Id you provided "
            "does not exist in our records.", AuthenticationDenied),
        (1, "Fatal: unable to open config file: Stat: The specified bucket does not exist",
         BucketMissing),
        (1, "Fatal: unable to open repository at sftp:u@h:/r: dial tcp: connection refused",
         Unreachable),
        (1, "backup@nas: Permission denied (publickey).\nFatal: unable to open repository "
            "at sftp:backup@nas:/r: unable to start the sftp session, error: EOF",
         AuthenticationDenied),
    ]
    for code, stderr, kind in cases:
        assert type(classify_failure("r", "u", code, stderr)) is kind, stderr


def test_key_argv_never_carries_a_password() -> None:
    from orchestrator.engines.restic_args import key_add_args, key_list_args, key_remove_args

    assert key_list_args() == ["restic", "key", "list", "--json"]
    assert key_add_args(Path("/etc/new.pass")) == [
        "restic", "key", "add", "--new-password-file", "/etc/new.pass"]
    assert key_add_args(Path("/n"), host="h", user="u")[-4:] == ["--host", "h", "--user", "u"]
    assert key_remove_args("6a0d9e7b") == ["restic", "key", "remove", "6a0d9e7b"]
    for bad in ("", "--all", "6A0D", "6a0d 9e"):
        with pytest.raises(StrongroomError):
            key_remove_args(bad)


def test_parse_keys_reads_restic_key_list_json() -> None:
    from orchestrator.engines.restic_args import parse_keys

    text = ('[{"current":true,"id":"079b84e4","userName":"u","hostName":"h","created":'
            '"2026-12-01 14:48:03"},{"current":false,"id":"6a0d9e7b","userName":"root",'
            '"hostName":"vm","created":"2026-12-01 14:47:59"}]')
    keys = parse_keys(text)
    assert [(k.id, k.user, k.host, k.current) for k in keys] == [
        ("079b84e4", "u", "h", True), ("6a0d9e7b", "root", "vm", False)]
    assert keys[0].created == "2026-12-01 14:48:03"
    assert parse_keys("") == [] and parse_keys("null") == []


def test_status_line_keeps_restics_eta_and_totals() -> None:
    from orchestrator.engines.restic_args import progress_from

    status = progress_from({"message_type": "status", "percent_done": 0.25,
                            "total_files": 977, "files_done": 10, "total_bytes": 6_700_000,
                            "bytes_done": 1_675_000, "seconds_remaining": 12})
    assert (status.bytes_done, status.total_bytes, status.files_done, status.total_files,
            status.seconds_remaining, status.fraction) == (
        1_675_000, 6_700_000, 10, 977, 12.0, 0.25)
    assert progress_from({"message_type": "status"}).seconds_remaining is None
