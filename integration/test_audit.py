"""The audit log against the anchors its sets hold in a real restic repository.

Five sets are made once through the CLI (the last two with `[audit] key_file`); each
case then tampers with a copy of the state folder and runs `strongroom audit verify`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from integration.conftest import PROFILE, Result, Site, require_binary, write_tree
from orchestrator.access import audit

GENESIS = "0" * 64


@dataclass
class Anchored:
    site: Site
    keyed_profile: Path
    lines: list[bytes]  # five lines: 1-3 plain, 4-5 with an hmac
    head: bytes


@pytest.fixture(scope="module")
def anchored(tmp_path_factory: pytest.TempPathFactory) -> Anchored:
    require_binary("restic")
    root = tmp_path_factory.mktemp("audit") / "site"
    host = root / "host"
    host.mkdir(parents=True)
    write_tree(host, 1024)
    password = root / "repo.pass"
    password.write_text("correct horse battery staple\n")
    profile = root / "site.toml"
    profile.write_text(PROFILE.format(repository=root / "repository", password=password,
                                      host=host))
    keyed = root / "keyed.toml"
    keyed.write_text(profile.read_text() + '\n[audit]\nkey_file = "keys/audit.key"\n')
    (root / "keys").mkdir()
    (root / "keys/audit.key").write_bytes(b"an audit key that stays off the log's host\n")
    site = Site(root, profile, root / "repository", password, root / "state")
    site.run("init")
    netplan = str(site.path("etc/netplan"))
    for name in ("one", "two", "three"):
        site.run("backup-files", "--path", netplan, "--name", name)
    plain = site.profile
    site.profile = keyed
    for name in ("four", "five"):
        site.run("backup-files", "--path", netplan, "--name", name)
    site.profile = plain
    lines = (site.state / "audit.log").read_bytes().splitlines()
    assert len(lines) == 5
    assert ['"hmac"' in line.decode() for line in lines] == [False] * 3 + [True] * 2
    return Anchored(site, keyed, lines, (site.state / "audit.head").read_bytes())


def test_every_set_records_the_head_in_its_manifest_and_a_tag(anchored: Anchored) -> None:
    site = anchored.site
    listed = subprocess.run(
        ["restic", "snapshots", "--json", "--tag", "strongroom,part=files"],
        env={"RESTIC_REPOSITORY": str(site.repository), "RESTIC_PASSWORD_FILE":
             str(site.password_file), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True)
    tags = sorted(tag for snap in json.loads(listed.stdout) for tag in snap["tags"]
                  if tag.startswith("audit="))
    hashes = [GENESIS] + [audit.digest(line) for line in anchored.lines[:4]]
    assert tags == [f"audit={seq}-{hashes[seq][:16]}" for seq in range(5)]
    staged = json.loads((site.state / "sets/five/metadata.json").read_text())
    assert staged["audit"] == {"seq": 4, "sha256": hashes[4]}
    for keyed in (False, True):
        result = verify(anchored, site.state, keyed=keyed)
        assert result.returncode == 0, result.stderr
        assert "audit log ok: 5 line(s), chain intact" in result.stdout
        assert "5 anchor(s) checked in repository 'local'" in result.stdout
    assert (site.state / "audit.head").stat().st_mode & 0o777 == 0o600
    assert (site.state / "audit.log").stat().st_mode & 0o777 == 0o600
    assert site.state.stat().st_mode & 0o777 == 0o700


def recompute(lines: list[bytes]) -> list[bytes]:
    """The chain rebuilt by someone without the key: seq and prev right, no hmac."""
    out: list[bytes] = []
    for number, line in enumerate(lines, start=1):
        record = json.loads(line)
        record.pop("hmac", None)
        record["seq"] = number
        record["prev"] = audit.digest(out[-1]) if out else GENESIS
        out.append(json.dumps(record).encode())
    return out


def edited(line: bytes) -> bytes:
    changed = line.replace(b'"result": "ok"', b'"result": "error"')
    assert changed != line
    return changed


def forged_after(line: bytes) -> bytes:
    record = json.loads(line)
    record.pop("hmac", None)
    record.update(seq=record["seq"] + 1, prev=audit.digest(line), tool="restore-backup")
    return json.dumps(record).encode()


def unsigned(line: bytes) -> bytes:
    record = json.loads(line)
    del record["hmac"]
    return json.dumps(record).encode()


def head_of(lines: list[bytes]) -> bytes | None:
    return f"{len(lines)} {audit.digest(lines[-1])}\n".encode()


@dataclass(frozen=True)
class Case:
    # The log's lines from the pristine ones (None: no log file) and the head from the
    # new lines and the old head (None: no head file).
    log: Callable[[list[bytes]], list[bytes] | None]
    head: Callable[[list[bytes] | None, bytes], bytes | None]
    line: int  # a line the report names
    message: str  # words of that report
    chain_alone: bool  # also caught without anchors
    keyed: bool = False  # verify with the key_file profile


KEEP = (lambda new, old: old)  # noqa: E731
NONE = (lambda new, old: None)  # noqa: E731
MATCHING = (lambda new, old: head_of(new or []))  # noqa: E731

CASES = {
    "edit a line": Case(lambda ls: [ls[0], edited(ls[1]), *ls[2:]], KEEP, 2,
                        "the line was edited", True),
    "delete a line": Case(lambda ls: [ls[0], *ls[2:]], KEEP, 2, "line 2 was deleted", True),
    "insert a line": Case(lambda ls: [*ls[:2], ls[0], *ls[2:]], KEEP, 3,
                          "inserted or moved", True),
    "reorder two lines": Case(lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], KEEP, 2,
                              "its hash differs from the anchor", True),
    "truncate the tail": Case(lambda ls: ls[:4], KEEP, 4, "removed from the end", True),
    "forge a line at the end": Case(lambda ls: [*ls, forged_after(ls[4])], KEEP, 6,
                                    "added after it", True),
    "edit the last line": Case(lambda ls: [*ls[:4], edited(ls[4])], KEEP, 5,
                               "the last line was edited", True),
    "head rewritten": Case(lambda ls: ls, lambda new, old: b"5 " + b"0" * 64 + b"\n", 5,
                           "does not match the recorded head", True),
    "head deleted": Case(lambda ls: ls, NONE, 5, "audit.head is missing", True),
    "head rewritten after truncation": Case(lambda ls: ls[:2], MATCHING, 4,
                                            "lines 3..4 were removed (truncated)", False),
    "head deleted after truncation": Case(lambda ls: ls[:2], NONE, 4,
                                          "lines 3..4 were removed (truncated)", True),
    "log emptied": Case(lambda ls: [], NONE, 4, "the log is empty, but set", False),
    "log deleted": Case(lambda ls: None, NONE, 4, "the log is missing, but set", False),
    "chain recomputed after an edit, head kept": Case(
        lambda ls: recompute([ls[0], edited(ls[1]), *ls[2:]]), KEEP, 2,
        "its hash differs from the anchor", True),
    "chain recomputed after an edit, head updated": Case(
        lambda ls: recompute([ls[0], edited(ls[1]), *ls[2:]]), MATCHING, 2,
        "its hash differs from the anchor", False),
    "chain recomputed after deleting lines": Case(
        lambda ls: recompute([ls[0], *ls[3:]]), MATCHING, 2,
        "its hash differs from the anchor", False),
    "a line's seq renumbered": Case(
        lambda ls: [*ls[:2], ls[2].replace(b'"seq": 3', b'"seq": 7'), *ls[3:]], KEEP, 3,
        "lines 3..6 were deleted", True),
    "keyed log: last line rewritten without the key, head updated": Case(
        lambda ls: [*ls[:4], unsigned(edited(ls[4]))], MATCHING, 5,
        "carries no hmac although [audit] key_file is set", True, keyed=True),
}


def verify(anchored: Anchored, state: Path, *extra: str, keyed: bool = False) -> Result:
    site = replace(anchored.site, state=state,
                   profile=anchored.keyed_profile if keyed else anchored.site.profile)
    result = site.run("audit", "verify", *extra, check=False)
    assert "Traceback" not in result.stderr
    return result


@pytest.mark.parametrize("name", list(CASES))
def test_each_tamper_case_is_detected_against_the_anchors(
    anchored: Anchored, tmp_path: Path, name: str
) -> None:
    case = CASES[name]
    state = tmp_path / "state"
    shutil.copytree(anchored.site.state, state, symlinks=True)
    lines = case.log(list(anchored.lines))
    log, head = state / "audit.log", state / "audit.head"
    if lines is None:
        log.unlink()
    else:
        log.write_bytes(b"".join(line + b"\n" for line in lines))
    new_head = case.head(lines, anchored.head)
    if new_head is None:
        head.unlink()
    else:
        head.write_bytes(new_head)

    result = verify(anchored, state, keyed=case.keyed)
    assert result.returncode == 1, result.stdout + result.stderr
    reported = [line for line in result.stderr.splitlines() if line.startswith("audit log: line")]
    assert any(line.startswith(f"audit log: line {case.line}: ") and case.message in line
               for line in reported), result.stderr
    assert "5 anchor(s) checked in repository 'local'" in result.stderr
    alone = verify(anchored, state, "--no-anchors", keyed=case.keyed)
    assert (alone.returncode == 1) == case.chain_alone, alone.stdout + alone.stderr
    assert "anchors not checked (--no-anchors)" in alone.stdout + alone.stderr
    if case.keyed:  # the anchors and the chain alone cannot see it: only the key does
        assert verify(anchored, state).returncode == 0


def test_without_a_readable_repository_the_chain_is_still_checked(
    anchored: Anchored, tmp_path: Path
) -> None:
    site = anchored.site
    moved = tmp_path / "elsewhere.toml"
    moved.write_text(site.profile.read_text().replace(str(site.repository),
                                                      str(tmp_path / "no-repository")))
    state = tmp_path / "state"
    shutil.copytree(site.state, state, symlinks=True)
    elsewhere = replace(site, profile=moved, state=state)
    run = elsewhere.run("audit", "verify", check=False)
    assert run.returncode == 0 and "anchors not checked: repository 'local' cannot be read" \
        in run.stdout, run.stdout + run.stderr
    (state / "audit.log").write_bytes(b"")
    (state / "audit.head").unlink()
    emptied = elsewhere.run("audit", "verify", check=False)
    assert emptied.returncode == 0 and "anchors not checked" in emptied.stdout
    wrong = site.run("audit", "verify", "--destination", "offsite", check=False)
    assert wrong.returncode != 0 and "no repository named 'offsite'" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_an_unreadable_key_file_stops_an_operation_before_it_runs(
    anchored: Anchored, tmp_path: Path
) -> None:
    site = anchored.site
    broken = tmp_path / "broken.toml"
    broken.write_text(site.profile.read_text() + f'\n[audit]\nkey_file = "{tmp_path}/none"\n')
    state = tmp_path / "state"
    shutil.copytree(site.state, state, symlinks=True)
    run = replace(site, profile=broken, state=state).run(
        "backup-files", "--path", str(site.path("etc/netplan")), "--name", "six", check=False)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert f"the audit key_file {tmp_path}/none cannot be read" in run.stderr, run.stderr
    assert not (state / "sets/six").exists()
    assert (state / "audit.log").read_bytes() == b"".join(line + b"\n"
                                                          for line in anchored.lines)


def test_sets_copied_to_another_repository_carry_their_anchors(
    anchored: Anchored, tmp_path: Path
) -> None:
    site = anchored.site
    both = tmp_path / "both.toml"
    both.write_text(site.profile.read_text() + f"""
[repositories.offsite]
url = "{tmp_path / 'offsite'}"
password_file = "{site.password_file}"
""")
    state = tmp_path / "state"
    shutil.copytree(site.state, state, symlinks=True)
    here = replace(site, profile=both, state=state)
    here.run("init", "--destination", "offsite")
    here.run("backup-sync", "--from", "local", "--to", "offsite", "--all")
    ok = here.run("audit", "verify", "--destination", "offsite")
    assert "5 anchor(s) checked in repository 'offsite'" in ok.stdout, ok.stdout
    # backup-sync itself was audited: the log has six lines now; cut it to two.
    lines = (state / "audit.log").read_bytes().splitlines()
    (state / "audit.log").write_bytes(lines[0] + b"\n" + lines[1] + b"\n")
    audit.write_head(state, 2, audit.digest(lines[1]))
    cut = here.run("audit", "verify", "--destination", "offsite", check=False)
    assert cut.returncode == 1 and "lines 3..4 were removed (truncated)" in cut.stderr
