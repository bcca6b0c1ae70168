"""backup-encrypt: plain exports made encrypted (7-Zip, strongroom decrypt), and sets moved
under another repository's master key."""

from __future__ import annotations

import os
import subprocess
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from integration.conftest import STRONGROOM, Site, compare_trees, require_binary

ARCHIVE_PASSWORD = "an archive password"


def exported(site: Site, fmt: str, folder: Path) -> tuple[Path, bytes]:
    """A plain export of a fresh full set, and bytes of the set's random large file that
    the plain export holds as they are (tar.gz and ZIP store incompressible data)."""
    made = site.run("create-backup", "--type", "full", "--json").json()["set"]
    folder.mkdir(exist_ok=True)
    out = folder / f"plain.{fmt}"
    site.run("download-backup", "--backup", made, "--format", fmt, "--output", str(out))
    large = site.path("srv/data/large.bin").read_bytes()
    marker = large[len(large) // 2:len(large) // 2 + 64]
    assert marker in out.read_bytes()  # else this test could not see a plain copy
    return out, marker


def watched_run(site: Site, folder: Path, keep: Path, marker: bytes,
                *args: str) -> subprocess.CompletedProcess[str]:
    """strongroom run while another thread reads every file that appears in `folder`
    (except `keep`, the plain input): none may hold the marker at any time."""
    seen: list[str] = []
    leaks: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for entry in folder.iterdir():
                if entry == keep:
                    continue
                try:
                    data = entry.read_bytes()
                except FileNotFoundError:
                    continue
                seen.append(entry.name)
                if marker in data:
                    leaks.append(entry.name)

    watcher = threading.Thread(target=watch)
    watcher.start()
    env = {**os.environ, "STRONGROOM_STATE_DIR": str(site.state)}
    try:
        proc = subprocess.run([*STRONGROOM, *args, "-p", str(site.profile)], env=env,
                              capture_output=True, text=True, timeout=300, check=False)
    finally:
        done.set()
        watcher.join()
    assert not leaks, f"plain bytes in {leaks}"
    assert seen, "the watcher saw no output at all"
    return proc


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "archive.pass"
    path.write_text(ARCHIVE_PASSWORD + "\n")
    return path


def test_a_zip_export_becomes_an_aes_zip_that_7zip_opens_only_with_the_password(
        make_site: Callable[..., Site], password_file: Path) -> None:
    require_binary("7z")
    site = make_site(large_bytes=4 << 20)
    folder = site.root / "exports"
    plain, marker = exported(site, "zip", folder)
    proc = watched_run(site, folder, plain, marker, "backup-encrypt", "--archive", str(plain),
                       "--password-file", str(password_file), "--json")
    assert proc.returncode == 0, proc.stderr
    output = folder / "plain.encrypted.zip"
    assert sorted(p.name for p in folder.iterdir()) == ["plain.encrypted.zip", "plain.zip"]
    assert output.stat().st_mode & 0o777 == 0o600
    good = subprocess.run(["7z", "x", f"-p{ARCHIVE_PASSWORD}", f"-o{site.root / 'opened'}",
                           str(output)], capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stdout
    bad = subprocess.run(["7z", "t", "-pwrong", str(output)], capture_output=True, text=True,
                         check=False)
    assert bad.returncode != 0
    with zipfile.ZipFile(plain) as original:
        names = [n for n in original.namelist() if not n.endswith("/")]
        assert any(name.endswith("large.bin") for name in names)
        for name in names:
            opened = site.root / "opened" / name
            if not opened.is_symlink():  # 7-Zip re-roots absolute link targets
                assert opened.read_bytes() == original.read(name), name

    again = site.run("backup-encrypt", "--archive", str(output), "--password-file",
                     str(password_file), "--output", str(site.root / "twice.zip"), check=False)
    assert again.returncode != 0 and "encrypted already" in again.stderr
    assert not (site.root / "twice.zip").exists()

    in_place = site.run("backup-encrypt", "--archive", str(plain), "--in-place",
                        "--password-file", str(password_file), "--json").json()
    assert in_place["output"] == str(plain) and marker not in plain.read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == ["plain.encrypted.zip", "plain.zip"]


def test_a_tar_export_goes_into_the_envelope_that_decrypt_opens(
        make_site: Callable[..., Site], password_file: Path) -> None:
    site = make_site(large_bytes=4 << 20)
    folder = site.root / "exports"
    plain, marker = exported(site, "tar.gz", folder)
    proc = watched_run(site, folder, plain, marker, "backup-encrypt", "--archive", str(plain),
                       "--password-file", str(password_file))
    assert proc.returncode == 0, proc.stderr
    output = folder / "plain.tar.gz.enc"
    assert sorted(p.name for p in folder.iterdir()) == ["plain.tar.gz", "plain.tar.gz.enc"]
    assert output.stat().st_mode & 0o777 == 0o600
    opened = site.root / "opened.tar.gz"
    decrypt = [*STRONGROOM, "decrypt", str(output), "--password-file"]
    subprocess.run([*decrypt, str(password_file), "--output", str(opened)], check=True)
    assert opened.read_bytes() == plain.read_bytes()
    wrong = site.root / "wrong.pass"
    wrong.write_text("not it\n")
    refused = subprocess.run([*decrypt, str(wrong), "--output", str(site.root / "x")],
                             capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "wrong password" in refused.stderr

    cases = {
        "exists": (["--archive", str(plain)], "exists; use --force"),
        "encrypted": (["--archive", str(output), "--output", str(site.root / "y")],
                      "encrypted already"),
        "missing": (["--archive", str(folder / "none.tar.gz")], "no archive at"),
        "not an export": (["--archive", str(site.profile)], "neither a ZIP nor a tar"),
        "no password file": (["--archive", str(plain), "--output", str(site.root / "z"),
                              "--password-file", str(site.root / "nope")], "cannot read"),
    }
    before = output.read_bytes()
    for name, (args, message) in cases.items():
        if "--password-file" not in args:
            args = [*args, "--password-file", str(password_file)]
        result = site.run("backup-encrypt", *args, check=False)
        assert result.returncode != 0 and message in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr, name
    assert output.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["plain.tar.gz", "plain.tar.gz.enc"]
    assert not any((site.root / name).exists() for name in ("x", "y", "z"))


def test_the_mcp_tool_encrypts_inside_the_export_folder_only(
        make_site: Callable[..., Site]) -> None:
    from integration.test_mcp import error_text, structured, with_client

    site = make_site(large_bytes=64 << 10)
    exports = site.state / "exports"
    plain, _ = exported(site, "tar.gz", exports)
    outside = site.root / "outside.tar.gz"
    outside.write_bytes(plain.read_bytes())

    async def body(session: Any) -> None:
        done = structured(await session.call_tool("backup-encrypt", {
            "archive": "plain.tar.gz", "password": ARCHIVE_PASSWORD}))
        assert done["output"] == str(exports / "plain.tar.gz.enc")
        refused = await session.call_tool("backup-encrypt", {
            "archive": str(outside), "password": ARCHIVE_PASSWORD})
        assert "outside the allowed folder" in error_text(refused)
        escape = await session.call_tool("backup-encrypt", {
            "archive": "plain.tar.gz", "output": "../escaped.enc",
            "password": ARCHIVE_PASSWORD})
        assert "'..'" in error_text(escape)

    with_client(site, body)
    assert (exports / "plain.tar.gz.enc").stat().st_mode & 0o777 == 0o600
    assert not (site.state / "escaped.enc").exists()


def restic_json(repository: Path, password_file: Path, *args: str) -> str:
    env = {**os.environ, "RESTIC_REPOSITORY": str(repository),
           "RESTIC_PASSWORD_FILE": str(password_file)}
    return subprocess.run(["restic", *args], env=env, capture_output=True, text=True,
                          check=True).stdout


def test_a_set_moved_under_another_master_key_restores_and_leaves_the_source(
        make_site: Callable[..., Site]) -> None:
    import json

    site = make_site(large_bytes=2 << 20)
    vault, vault_pass = site.root / "vault", site.root / "vault.pass"
    vault_pass.write_text("the vault's own password\n")
    site.profile.write_text(site.profile.read_text().replace("[config]", f"""\
[repositories.vault]
url = "{vault}"
password_file = "{vault_pass}"

[config]""", 1))
    kept = site.run("create-backup", "--type", "config", "--json").json()["set"]
    moved = site.run("create-backup", "--type", "full", "--json").json()["set"]
    refused = site.run("backup-encrypt", "--to", "vault", check=False)
    assert refused.returncode != 0 and "exactly one of" in refused.stderr
    result = site.run("backup-encrypt", "--backup", moved, "--to", "vault", "--forget-source",
                      "--json").json()
    assert result["copied"] == [moved] and result["verified"] == [moved]
    assert result["forgotten"] == [moved]

    target = site.root / "restored"
    site.run("restore-backup", "--backup", moved, "--destination", "vault", "--target",
             str(target))
    host = site.root / "host"
    compare_trees(host, target / str(host).lstrip("/"), skip=(".terraform",))
    left = json.loads(restic_json(site.repository, site.password_file, "snapshots", "--json"))
    assert {tag for snap in left for tag in snap["tags"] if tag.startswith("set=")} == {
        f"set={kept}"}
    stats = json.loads(restic_json(site.repository, site.password_file, "stats", "--json",
                                   "--mode", "raw-data"))
    assert stats["total_size"] < 1 << 20  # the 2 MiB of random data are pruned away
    listed = [b["set"] for b in site.run("list-backups", "--destination", "vault",
                                         "--json").json()["backups"]]
    assert listed == [moved]
