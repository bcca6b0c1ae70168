"""verify-backup against the real restic and borg: good sets pass, damage is found and
named."""

from __future__ import annotations

import os

from integration.conftest import BOTH_ENGINES, Site, with_sqlite


@BOTH_ENGINES
def test_a_good_set_passes_and_the_report_is_stored_in_it(site: Site) -> None:
    with_sqlite(site)
    made = site.run("create-backup", "--type", "full", "--json").json()["set"]
    result = site.run("verify-backup", "--backup", made, "--deep-check",
                      "--read-data-subset", "50%", "--json").json()
    assert result["ok"] is True, result
    assert [c["check"] for c in result["checks"]] == [
        "manifest", "parts", "dependencies", "repository", "stream digests", "test restore"]
    assert result["log_part"] == "logs/verification.log"
    stored = site.snapshots(f"set={made}", "part=logs/verification.log")
    assert len(stored) == 1
    report = site.dump(stored[0]["id"], "/logs/verification.log")
    assert f"verify-backup {made}: passed" in report
    listed = site.run("list-backups", "--json").json()["backups"]
    assert [(b["set"], b["status"]) for b in listed] == [(made, "complete")]
    text = site.run("verify-backup").stdout
    assert f"verify {made}: passed" in text


@BOTH_ENGINES
def test_a_forgotten_part_fails_naming_it(site: Site) -> None:
    with_sqlite(site)
    made = site.run("backup-database", "--service", "web", "--json").json()
    stream = made["parts"][0]
    site.forget_snapshot(stream["snapshot_id"])
    failed = site.run("verify-backup", "--backup", made["set"], check=False)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "services/web/app.sql: its snapshot" in failed.stdout and "is gone" in failed.stdout
    bad = site.run("verify-backup", "--read-data-subset", "lots", check=False)
    assert bad.returncode == 2 and "give a percentage (5%)" in bad.stderr


def test_a_full_set_missing_a_declared_dump_fails_the_dependency_check(site: Site) -> None:
    made = site.run("create-backup", "--type", "full", "--json").json()["set"]
    with_sqlite(site)  # the profile now declares a database the set does not hold
    failed = site.run("verify-backup", "--backup", made, "--json", check=False)
    assert failed.returncode == 1
    checks = {c["check"]: c for c in failed.json()["checks"]}
    assert not checks["dependencies"]["ok"]
    assert "services/web: its sqlite hook #1 has no dump" in checks["dependencies"]["detail"]
    assert checks["parts"]["ok"] and checks["repository"]["ok"]


@BOTH_ENGINES
def test_a_deleted_pack_is_detected_and_named(site: Site) -> None:
    made = site.run("create-backup", "--type", "full", "--json").json()["set"]
    victim = max(site.data_files(), key=lambda p: p.stat().st_size)
    victim.unlink()
    failed = site.run("verify-backup", "--backup", made, "--json", check=False)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    if site.engine == "borg":
        # borg keeps a small set in one segment: the manifest went with it.
        assert "No such file or directory" in failed.stderr, failed.stderr
        assert f"data/0/{victim.name}" in failed.stderr
        return
    checks = {c["check"]: c for c in failed.json()["checks"]}
    assert not checks["repository"]["ok"]
    assert victim.name[:8] in checks["repository"]["detail"]


@BOTH_ENGINES
def test_flipped_bytes_in_a_pack_are_detected_by_reading_data(site: Site) -> None:
    made = site.run("create-backup", "--type", "full", "--json").json()["set"]
    victim = max(site.data_files(), key=lambda p: p.stat().st_size)
    victim.chmod(0o600)
    with victim.open("r+b") as handle:
        handle.seek(victim.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    # restic: the structure is intact (sizes, indexes), only reading the data finds the
    # damage. borg's repository check reads every segment's CRCs and finds it at once.
    plain = site.run("verify-backup", "--backup", made, check=False).returncode
    assert plain == (1 if site.engine == "borg" else 0)
    failed = site.run("verify-backup", "--backup", made, "--read-data-subset", "100%",
                      "--json", check=False)
    assert failed.returncode == 1
    checks = {c["check"]: c for c in failed.json()["checks"]}
    assert not checks["repository"]["ok"]
    assert victim.name[:8] in checks["repository"]["detail"]
