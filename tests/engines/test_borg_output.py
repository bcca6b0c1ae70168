"""borg output parsers and failure classification, fed with what borg 1.2.4 prints."""

from __future__ import annotations

import json
import stat

import pytest

from orchestrator.engines.base import (
    AuthenticationDenied,
    EngineError,
    Progress,
    RepositoryLocked,
    RepositoryMissing,
    RepositoryReadOnly,
    Unreachable,
    WrongPassword,
)
from orchestrator.engines.borg_output import (
    CreateOutput,
    classify_failure,
    logged_version,
    mode_bits,
    parse_archive_names,
    parse_archives,
    parse_diff,
    parse_ls,
    parse_version,
    plain_text,
    summary_of,
)

LISTING = json.dumps({"archives": [
    {"archive": "b.files.1", "name": "b.files.1", "id": "bb" * 32, "hostname": "vm",
     "start": "2024-01-02T03:04:05.000000", "time": "2024-01-02T03:04:05.000000",
     "comment": json.dumps({"strongroom": 1, "tags": ["strongroom", "set=b"], "host": "web1",
                            "paths": ["/etc/app"]})},
    {"archive": "someone-elses", "name": "someone-elses", "id": "aa" * 32, "hostname": "h",
     "start": "2023-01-01T00:00:00.000000", "time": "2023-01-01T00:00:00.000000",
     "comment": "{\"tags\": [\"strongroom\", \"set=forged\"]}"},
]})


def log(message: str, msgid: str | None = None, level: str = "ERROR") -> str:
    return json.dumps({"type": "log_message", "time": 1.0, "message": message,
                       "levelname": level, "name": "borg.archiver", "msgid": msgid})


def test_version() -> None:
    assert parse_version("borg 1.2.4\n").version == (1, 2, 4)
    assert str(parse_version("borg.exe 1.4.0")) == "borg 1.4.0"
    with pytest.raises(EngineError):
        parse_version("what")


def test_archives_carry_their_comments_tags_and_only_strongroom_comments_count() -> None:
    snaps = parse_archives(LISTING)
    assert [s.id for s in snaps] == ["aa" * 32, "bb" * 32]  # oldest first
    forged, mine = snaps
    assert forged.tags == () and forged.hostname == "h"
    assert mine.tags == ("strongroom", "set=b") and mine.hostname == "web1"
    assert mine.paths == ("/etc/app",) and mine.short_id == "bb" * 4
    assert mine.time.isoformat() == "2024-01-02T03:04:05+00:00"
    assert parse_archive_names(LISTING)["bb" * 32] == "b.files.1"


def test_ls_lines_become_absolute_nodes() -> None:
    lines = "\n".join(json.dumps(item) for item in [
        {"type": "d", "mode": "drwxr-x---", "path": "srv/app", "size": 0, "linktarget": "",
         "mtime": "2024-01-01T00:00:00.000000"},
        {"type": "-", "mode": "-rwsr-xr-x", "path": "srv/app/tool", "size": 12,
         "linktarget": "", "mtime": "2024-01-01T00:00:00.5"},
        {"type": "l", "mode": "lrwxrwxrwx", "path": "srv/app/cur", "size": 0,
         "linktarget": "tool", "mtime": ""},
    ])
    folder, tool, link = parse_ls(lines + "\nnot json\n")
    assert (folder.path, folder.type, stat.S_IMODE(folder.mode)) == ("/srv/app", "dir", 0o750)
    assert stat.S_ISDIR(folder.mode)
    assert (tool.type, tool.size, stat.S_IMODE(tool.mode)) == ("file", 12, 0o4755)
    assert (link.type, link.link_target) == ("symlink", "tool")
    assert mode_bits("drwxrwxrwt") & stat.S_ISVTX and mode_bits("short") == 0


def test_diff_lines_in_restics_modifiers() -> None:
    lines = [
        {"path": "a/new", "changes": [{"type": "added", "size": 3}]},
        {"path": "a/gone", "changes": [{"type": "removed", "size": 3}]},
        {"path": "a/dir", "changes": [{"type": "added directory"}]},
        {"path": "a/file", "changes": [{"type": "modified", "added": 8, "removed": 3},
                                       {"type": "mtime"}]},
        {"path": "a/link", "changes": [{"type": "changed link"}]},
        {"path": "a/mode", "changes": [{"type": "mode"}, {"type": "ctime"}]},
    ]
    changes = parse_diff("\n".join(json.dumps(line) for line in lines))
    assert [(c.path, c.modifier) for c in changes] == [
        ("/a/new", "+"), ("/a/gone", "-"), ("/a/dir/", "+"), ("/a/file", "M"),
        ("/a/link", "M"), ("/a/mode", "U")]


def test_summary_and_a_missing_one() -> None:
    summary = summary_of(json.dumps({"archive": {
        "id": "cc" * 32, "duration": 1.5,
        "stats": {"nfiles": 7, "original_size": 900, "deduplicated_size": 40}}}))
    assert (summary.snapshot_id, summary.total_files, summary.total_bytes,
            summary.data_added, summary.duration) == ("cc" * 32, 7, 900, 40, 1.5)
    with pytest.raises(EngineError, match="without reporting an archive"):
        summary_of("")


def test_create_output_reads_progress_and_unreadable_files() -> None:
    seen: list[Progress] = []
    reader = CreateOutput(seen.append)
    reader.feed(json.dumps({"type": "archive_progress", "nfiles": 3, "original_size": 10,
                            "finished": False}))
    reader.feed(json.dumps({"type": "archive_progress", "finished": True}))
    reader.feed(log("/srv/x: open: [Errno 13] Permission denied", level="WARNING"))
    reader.feed(log("/srv/y: file changed while we backed it up", level="WARNING"))
    reader.feed("not json")
    assert [(p.files_done, p.bytes_done) for p in seen] == [(3, 10)]
    assert reader.unreadable == ["/srv/x: open: [Errno 13] Permission denied"]


@pytest.mark.parametrize(("stderr", "kind", "words"), [
    (log("passphrase supplied … is incorrect.", "PassphraseWrong"), WrongPassword,
     "wrong password"),
    (log("Repository /r does not exist.", "Repository.DoesNotExist"), RepositoryMissing,
     "no borg repository"),
    (log("/r is not a valid repository.", "Repository.InvalidRepository"), RepositoryMissing,
     "no borg repository"),
    (log("Failed to create/acquire the lock /r/lock.exclusive (timeout).", "LockTimeout"),
     RepositoryLocked, "locked by another process"),
    (log("Failed to create/acquire the lock (Permission denied)", "LockFailed"),
     RepositoryReadOnly, "read-only"),
    (log("Remote: u@h: Permission denied (publickey).", level="WARNING") + "\n"
     + log("Connection closed by remote host.", "ConnectionClosedWithHint"),
     AuthenticationDenied, "refused the ssh key"),
    (log("Remote: ssh: connect to host h port 22: Connection refused", level="WARNING"),
     Unreachable, "cannot reach"),
    (log("Archive x does not exist", "Archive.DoesNotExist"), EngineError, "no such archive"),
    (log("Cache initialization aborted", "Cache.CacheInitAbortedError"), EngineError,
     "unencrypted and unknown"),
])
def test_failures_are_told_apart(stderr: str, kind: type[Exception], words: str) -> None:
    error = classify_failure("local", "/r", 2, stderr)
    assert type(error) is kind and words in error.message


def test_a_crash_report_is_read_to_its_exception() -> None:
    report = ("Traceback (most recent call last):\n  File \"x.py\", line 1\n"
              "FileNotFoundError: [Errno 2] No such file or directory: '/r/data/0/2'\n\n"
              "Platform: Linux vm\nsys.argv: ['borg']\nSSH_ORIGINAL_COMMAND: None\n")
    stderr = log("Local Exception", "Exception") + "\n" + log(report)
    assert plain_text(stderr) == \
        "FileNotFoundError: [Errno 2] No such file or directory: '/r/data/0/2'"
    error = classify_failure("local", "/r", 2, stderr)
    assert "data/0/2" in error.message and "Platform" not in error.message


def test_the_version_show_version_logged() -> None:
    shown = json.dumps({"type": "log_message", "time": 1.0, "levelname": "INFO",
                        "message": "borgbackup version 1.2.4",
                        "name": "borg.output.show-version"})
    told = logged_version(f"{log('other')}\n{shown}\n")
    assert told is not None and told.version == (1, 2, 4)
    assert logged_version(log("borgbackup version 1.2.4")) is None  # another logger's line
    assert logged_version(shown.replace("1.2.4", "x")) is None
    assert logged_version("plain text\n") is None
    # a borg that died after its version line says nothing more: the line is no reason
    error = classify_failure("local", "/r", 2, shown + "\n")
    assert "borgbackup version" not in error.message
