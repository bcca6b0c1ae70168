"""The audit log: the backwards last-line reader, head and modes, hmacs, anchors."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orchestrator.access import audit
from orchestrator.access.anchors import Anchor, check, from_snapshots, parse_tag, verify
from orchestrator.engines.base import Snapshot
from orchestrator.engines.restic_args import tag_args
from orchestrator.profile.load import load_profile
from orchestrator.sets.manifest import Manifest
from orchestrator.sets.naming import anchor_tag

KEY = b"a key of some length\n"


def make_log(state: Path, count: int, key: bytes | None = None) -> list[bytes]:
    for number in range(count):
        audit.append(state, {"tool": "create-backup", "result": "ok", "n": number}, key=key)
    return (state / audit.AUDIT_FILE).read_bytes().splitlines()


def write_lines(state: Path, lines: list[bytes]) -> None:
    (state / audit.AUDIT_FILE).write_bytes(b"".join(line + b"\n" for line in lines))


@pytest.mark.parametrize("data, last", [
    (b"", b""), (b"\n\n", b""), (b"one", b"one"), (b"one\n", b"one"), (b"one\ntwo\n", b"two"),
    (b"one\ntwo", b"two"), (b"one\ntwo\n\n \n", b"two"), (b"a" * 50 + b"\n" + b"b" * 23, b"b" * 23),
    (b"x\n" + b"y" * 40 + b"\n", b"y" * 40), (b"y" * 41, b"y" * 41),
])
@pytest.mark.parametrize("block", [1, 7, 16, 64 * 1024])
def test_last_line_reads_backwards_across_blocks(
    monkeypatch: pytest.MonkeyPatch, data: bytes, last: bytes, block: int
) -> None:
    monkeypatch.setattr(audit, "BLOCK", block)
    assert audit.last_line(io.BytesIO(data)) == last


def test_last_line_reads_only_the_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []

    class Counting(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            reads.append(size or 0)
            return super().read(size)

    monkeypatch.setattr(audit, "BLOCK", 100)
    body = b"".join(b"%090d\n" % n for n in range(10_000)) + b"last line\n"
    assert audit.last_line(Counting(body)) == b"last line"
    assert sum(reads) <= 200


def test_append_chains_numbers_and_writes_a_private_head(tmp_path: Path) -> None:
    state = tmp_path / "state"
    lines = make_log(state, 3)
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert records[0]["prev"] == audit.GENESIS
    assert records[2]["prev"] == audit.digest(lines[1])
    assert (state / audit.HEAD_FILE).read_text() == f"3 {audit.digest(lines[2])}\n"
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    for name in (audit.AUDIT_FILE, audit.HEAD_FILE):
        assert stat.S_IMODE(os.stat(state / name).st_mode) == 0o600
    assert sorted(p.name for p in state.iterdir()) == [audit.HEAD_FILE, audit.AUDIT_FILE]
    assert audit.head(state) == (3, audit.digest(lines[2]))
    assert audit.verify_chain(state).problems == []


def test_append_tightens_an_old_log_head_and_folder(tmp_path: Path) -> None:
    make_log(tmp_path, 1)
    for name in (audit.AUDIT_FILE, audit.HEAD_FILE):
        os.chmod(tmp_path / name, 0o644)
    os.chmod(tmp_path, 0o755)
    make_log(tmp_path, 1)
    for name in (audit.AUDIT_FILE, audit.HEAD_FILE):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o700
    os.chmod(tmp_path, 0o1777)
    make_log(tmp_path, 1)
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o1777


def test_append_after_a_line_without_newline_starts_a_new_line(tmp_path: Path) -> None:
    lines = make_log(tmp_path, 2)
    (tmp_path / audit.AUDIT_FILE).write_bytes(lines[0] + b"\n" + lines[1])
    make_log(tmp_path, 1)
    again = (tmp_path / audit.AUDIT_FILE).read_bytes().splitlines()
    assert len(again) == 3 and json.loads(again[2])["seq"] == 3
    assert audit.verify_chain(tmp_path).problems == []


def test_head_of_no_log_is_seq_zero(tmp_path: Path) -> None:
    assert audit.head(tmp_path) == (0, audit.GENESIS)
    (tmp_path / audit.AUDIT_FILE).write_bytes(b"")
    assert audit.head(tmp_path) == (0, audit.GENESIS)


def _writer(state: str, count: int) -> None:
    for number in range(count):
        audit.append(Path(state), {"tool": "t", "pid": os.getpid(), "n": number})


def test_eight_concurrent_writer_processes_keep_one_chain(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(str(tmp_path), 40)) for _ in range(8)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
        assert writer.exitcode == 0
    report = audit.verify_chain(tmp_path)
    assert report.problems == []
    records = [json.loads(line) for line in report.lines or []]
    assert [r["seq"] for r in records] == list(range(1, 321))
    assert len({r["pid"] for r in records}) == 8


def test_keyed_lines_verify_with_the_key(tmp_path: Path) -> None:
    lines = make_log(tmp_path, 3, key=KEY)
    assert all(audit.signature_ok(line, KEY) for line in lines)
    assert list(json.loads(lines[0]))[-1] == "hmac"
    assert audit.verify_chain(tmp_path, KEY).problems == []
    assert audit.verify_chain(tmp_path).notes == [
        "hmacs not checked: the profile sets no [audit] key_file"]
    wrong = audit.verify_chain(tmp_path, b"another key")
    assert [p.line for p in wrong.problems] == [1, 2, 3]


def test_a_chain_recomputed_without_the_key_is_caught_by_the_hmacs(tmp_path: Path) -> None:
    lines = make_log(tmp_path, 4, key=KEY)
    records = [json.loads(line) for line in lines]
    records[1]["result"] = "error"
    forged, prev = [], audit.GENESIS
    for record in records:
        record.pop("hmac")
        record["prev"] = prev
        forged.append(json.dumps(record).encode())
        prev = audit.digest(forged[-1])
    write_lines(tmp_path, forged)
    audit.write_head(tmp_path, 4, prev)
    assert audit.verify_chain(tmp_path).problems == []  # without the key: looks intact
    problems = audit.verify_chain(tmp_path, KEY).problems
    assert [p.line for p in problems] == [4] and "no hmac" in problems[0].message


def test_a_keyed_log_starts_at_its_first_keyed_line(tmp_path: Path) -> None:
    make_log(tmp_path, 2)
    assert [p.line for p in audit.verify_chain(tmp_path, KEY).problems] == [2]
    lines = make_log(tmp_path, 3, key=KEY)
    assert audit.verify_chain(tmp_path, KEY).problems == []
    stripped = json.loads(lines[3])
    del stripped["hmac"]
    lines[3] = json.dumps(stripped).encode()
    write_lines(tmp_path, lines)
    problems = audit.verify_chain(tmp_path, KEY).problems
    assert [(p.line, "no hmac" in p.message) for p in problems] == [(4, False), (4, True)]


def test_an_unreadable_or_empty_key_file_is_one_message(tmp_path: Path) -> None:
    from orchestrator.errors import StrongroomError

    with pytest.raises(StrongroomError, match="cannot be read"):
        audit.read_key(tmp_path / "missing")
    (tmp_path / "empty").write_bytes(b"\n")
    with pytest.raises(StrongroomError, match="is empty"):
        audit.read_key(tmp_path / "empty")


def test_key_file_is_relative_to_the_profile(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    profile = tmp_path / "conf" / "host.toml"
    profile.write_text('[repositories.local]\nurl = "/srv/repo"\npassword_file = "p"\n'
                       '[audit]\nkey_file = "keys/audit.key"\n')
    assert load_profile(profile).audit.key_file == tmp_path / "conf/keys/audit.key"
    profile.write_text('[repositories.local]\nurl = "/srv/repo"\npassword_file = "p"\n'
                       '[audit]\nkey = "x"\n')
    with pytest.raises(Exception, match="audit.key"):
        load_profile(profile)


def test_anchor_tags_round_trip_and_suit_restic() -> None:
    digest = "ab" * 32
    tag = anchor_tag(12, digest)
    assert tag == f"audit=12-{digest[:16]}" and tag_args([tag]) == ["--tag", tag]
    assert parse_tag(tag.partition("=")[2], "s") == Anchor(12, digest[:16], "s")
    assert parse_tag(f"0-{audit.GENESIS}") == Anchor(0, audit.GENESIS)
    for bad in ("12", "x-" + digest, "-1-" + digest[:16], "01-" + digest[:16], "3-ABCDEF0123456789",
                "3-abc"):
        assert parse_tag(bad) is None


def test_anchors_come_from_final_snapshots_of_this_profile_and_host() -> None:
    moment = datetime(2026, 1, 1, tzinfo=UTC)

    def snap(tags: list[str], host: str = "h") -> Snapshot:
        return Snapshot(id="f" * 64, short_id="ffffffff", time=moment, hostname=host, paths=(),
                        tags=("strongroom", *tags))

    found = from_snapshots([
        snap(["set=a", "part=files", "profile=p", "audit=2-" + "1" * 16]),
        snap(["set=b", "part=files", "profile=p", "audit=1-" + "2" * 16]),
        snap(["set=c", "part=db.sql", "profile=p", "audit=9-" + "3" * 16]),
        snap(["set=d", "part=files", "profile=q", "audit=9-" + "4" * 16]),
        snap(["set=e", "part=files", "profile=p", "audit=9-" + "5" * 16], host="other"),
        snap(["set=f", "part=files", "profile=p"]),
    ], "p", "h")
    assert found == [Anchor(1, "2" * 16, "b"), Anchor(2, "1" * 16, "a")]


def test_old_manifests_without_an_anchor_stay_valid() -> None:
    manifest = Manifest.model_validate({
        "set": "s-20260101-000000", "name": "s", "type": "config", "profile": "p", "host": "h",
        "started": "2026-01-01T00:00:00Z", "services": [], "include_data": False,
        "compress": True, "paths": []})
    assert manifest.audit is None


def anchors_of(lines: list[bytes]) -> list[Anchor]:
    return [Anchor(0, audit.GENESIS, "s0")] + [
        Anchor(n, audit.digest(line)[:16], f"s{n}") for n, line in enumerate(lines, start=1)]


def recompute(lines: list[bytes]) -> list[bytes]:
    out, prev = [], audit.GENESIS
    for number, line in enumerate(lines, start=1):
        record = json.loads(line)
        record["seq"], record["prev"] = number, prev
        out.append(json.dumps(record).encode())
        prev = audit.digest(out[-1])
    return out


@pytest.mark.parametrize("case, lines_named", [
    ("intact", []),
    ("truncated", [5]),
    ("emptied", [5]),
    ("missing", [5]),
    ("recomputed after an edit", [2, 3, 4, 5]),
    ("recomputed after a deletion", [2, 3, 4, 5]),
    ("edited line 3", [3]),
])
def test_each_tamper_case_against_anchors(
    tmp_path: Path, case: str, lines_named: list[int]
) -> None:
    lines = make_log(tmp_path, 6)
    anchors = anchors_of(lines[:5])  # the 6th line is newer than every set
    changed = {
        "intact": lines,
        "truncated": lines[:3],
        "emptied": [],
        "missing": None,
        "recomputed after an edit": recompute([lines[0], lines[1].replace(b'"ok"', b'"x"'),
                                               *lines[2:]]),
        "recomputed after a deletion": recompute([lines[0], *lines[2:]]),
        "edited line 3": [*lines[:2], lines[2].replace(b'"ok"', b'"x"'), *lines[3:]],
    }[case]
    problems = check(changed, anchors)
    if case == "truncated":
        assert "lines 4..5 were removed (truncated)" in problems[0].message
    if case in ("emptied", "missing"):
        assert "the log was deleted or emptied" in problems[0].message
    assert sorted(p.line for p in problems) == sorted(lines_named)


def test_verify_counts_anchors_and_an_empty_log_with_seq_zero_anchors_is_fine(
    tmp_path: Path
) -> None:
    report = verify(tmp_path, None, [Anchor(0, audit.GENESIS, "s")])
    assert report.problems == [] and report.anchors == 1
    assert verify(tmp_path, None, None).anchors is None


def test_head_problems_without_anchors(tmp_path: Path) -> None:
    lines = make_log(tmp_path, 3)
    (tmp_path / audit.HEAD_FILE).unlink()
    assert "audit.head is missing" in audit.verify_chain(tmp_path).problems[0].message
    audit.write_head(tmp_path, 3, audit.digest(lines[2]))
    (tmp_path / audit.AUDIT_FILE).unlink()
    (problem,) = audit.verify_chain(tmp_path).problems
    assert problem.line == 3 and "the log is missing" in problem.message
