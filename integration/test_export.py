"""download-backup in every format, restore --from-archive, hostile archives, S3 via moto."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.conftest import BOTH_ENGINES, Site, compare_trees, require_binary
from orchestrator.sets.digest import digest_of

FORMATS = ["zip", "tar.gz", "tar.xz"]
DUMP = [sys.executable, "-c",
        "import sys\nfor i in range(300): sys.stdout.buffer.write(bytes([i % 256]) * 4096)"]


def with_dump(site: Site) -> None:
    site.profile.write_text(site.profile.read_text() + f"""
[[services.web.hooks]]
type = "command"
name = "cache.bin"
dump = {json.dumps(DUMP)}
restore = {json.dumps([sys.executable, "-c", "import sys; sys.stdin.buffer.read()"])}
""")


def archive_members(path: Path, password: bytes | None = None) -> dict[str, tuple[str, int, bytes]]:
    """name → (kind, mode, data) in archive order (dict keeps it)."""
    found: dict[str, tuple[str, int, bytes]] = {}
    if path.suffix == ".zip":
        import pyzipper

        with pyzipper.AESZipFile(path) as archive:
            if password:
                archive.setpassword(password)
            for info in archive.infolist():
                mode = info.external_attr >> 16
                kind = "dir" if info.is_dir() else "symlink" if (mode & 0o170000) == 0o120000 \
                    else "file"
                found[info.filename.rstrip("/")] = (kind, mode & 0o7777,
                                                    b"" if kind == "dir" else archive.read(info))
        return found
    with tarfile.open(path) as archive:
        for info in archive:
            kind = "dir" if info.isdir() else "symlink" if info.issym() else "file"
            data = archive.extractfile(info).read() if info.isfile() else (  # type: ignore[union-attr]
                info.linkname.encode() if info.issym() else b"")
            found[info.name.rstrip("/")] = (kind, info.mode & 0o7777, data)
    return found


# borg's export-tar feeds the same writers: one format of it is enough.
@pytest.mark.parametrize(("engine_name", "fmt"),
                         [("restic", fmt) for fmt in FORMATS] + [("borg", "zip")])
def test_archive_matches_the_snapshot(site: Site, fmt: str) -> None:
    with_dump(site)
    made = site.run("create-backup", "--type", "full", "--json").json()
    out = site.root / f"export.{fmt}"
    result = site.run("download-backup", "--backup", made["set"], "--format", fmt, "-o",
                      str(out), "--json").json()
    assert result["output"] == str(out) and out.stat().st_size == result["bytes"]
    members = archive_members(out)
    names = list(members)
    assert names[0] == "metadata.json" and names[-1] == "logs/backup.log"
    manifest = json.loads(members["metadata.json"][2])
    host = site.root / "host"
    # Every file of the source tree is in the archive under its logical name, same bytes and mode.
    expected = {
        "config/app/app.conf": host / "etc/app/app.conf",
        "config/app/conf.d/zz local.conf": host / "etc/app/conf.d/zz local.conf",
        "config/app/ünïcødé ✓.txt": host / "etc/app/ünïcødé ✓.txt",
        "config/app/secret.key": host / "etc/app/secret.key",
        "config/app/empty file": host / "etc/app/empty file",
        "services/web/data/nested/deeper/file.txt": host / "srv/data/nested/deeper/file.txt",
        "services/web/data/large.bin": host / "srv/data/large.bin",
        "services/other/config/other.conf": host / "etc/other/other.conf",
        "infrastructure/network-configs/01.yaml": host / "etc/netplan/01.yaml",
    }
    for name, source in expected.items():
        kind, mode, data = members[name]
        assert kind == "file" and data == source.read_bytes(), name
        assert mode == source.stat().st_mode & 0o7777, name
    assert members["config/app/current.conf"] == ("symlink", 0o777, b"app.conf")
    assert members["config/app/empty-dir"][0] == "dir"
    assert "config/app/.terraform/cache.bin" not in members
    [stream] = manifest["streams"]
    kind, _, data = members[stream["logical"]]
    assert stream["logical"] == "services/web/cache.bin" and len(data) == stream["bytes"]
    assert digest_of(data) == stream["digest"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("encrypted", [False, True])
def test_round_trip_through_from_archive(site: Site, fmt: str, encrypted: bool) -> None:
    with_dump(site)
    made = site.run("create-backup", "--type", "full", "--json").json()
    secret = site.root / "archive.pass"
    secret.write_text("correct horse\n")
    out = site.root / f"export.{fmt}"
    args = ["--encrypt", "--password-file", str(secret)] if encrypted else []
    site.run("download-backup", "--backup", made["set"], "--format", fmt, "-o", str(out), *args)
    if encrypted and fmt != "zip":
        with open(out, "rb") as handle:
            assert not handle.read(64).startswith(b"\x1f\x8b")  # not a readable gzip
    target = site.root / "from-archive"
    restore_args = ["--password-file", str(secret)] if encrypted else []
    authenticated = encrypted and fmt != "zip"  # only the AES-GCM tar envelope
    if not authenticated:
        # The set holds a command hook's dump: replaying it needs trust in the archive.
        refused = site.run("restore-backup", "--from-archive", str(out), "--target",
                           str(target), "--dry-run", *restore_args, check=False)
        assert refused.returncode == 2 and "--trust-archive" in refused.stderr
        assert "command hook 'cache.bin'" in refused.stderr and not target.exists()
        restore_args.append("--trust-archive")
    dry = site.run("restore-backup", "--from-archive", str(out), "--target", str(target),
                   "--dry-run", "--json", *restore_args).json()
    assert not target.exists() and dry["conflicts"] == []
    site.run("restore-backup", "--from-archive", str(out), "--target", str(target),
             *restore_args)
    host = site.root / "host"
    # Each part's root comes back whole; the folders above the roots are not in a set.
    for part in ("etc/app", "srv/data", "etc/other", "srv/other", "etc/netplan"):
        compare_trees(host / part, target / str(host / part).lstrip("/"), skip=(".terraform",),
                      mtimes=False)
    refused = site.run("restore-backup", "--from-archive", str(out), "--target", str(target),
                       *restore_args, check=False)
    assert refused.returncode == 3 and "would overwrite" in refused.stderr


def test_aes_zip_opens_in_7zip_and_not_with_a_wrong_password(site: Site) -> None:
    require_binary("7z")
    site.run("create-backup", "--type", "full")
    secret = site.root / "pw"
    secret.write_text("s3cr3t-archive-pw\n")
    out = site.root / "secret.zip"
    result = site.run("download-backup", "--encrypt", "--password-file", str(secret), "-o",
                      str(out), "-v")
    assert "s3cr3t-archive-pw" not in result.stderr + result.stdout
    good = subprocess.run(["7z", "t", "-ps3cr3t-archive-pw", str(out)], capture_output=True,
                          text=True, check=False)
    assert good.returncode == 0 and "Everything is Ok" in good.stdout
    bad = subprocess.run(["7z", "t", "-pwrong", str(out)], capture_output=True, text=True,
                         check=False)
    assert bad.returncode != 0
    assert subprocess.run(["unzip", "-t", "-P", "", str(out)], capture_output=True,
                          check=False).returncode != 0 if Path("/usr/bin/unzip").exists() else True


def test_decrypt_command_and_wrong_password(site: Site) -> None:
    site.run("create-backup")
    secret = site.root / "pw"
    secret.write_text("pw-one\n")
    out = site.root / "x.tar.gz.enc"
    site.run("download-backup", "--format", "tar.gz", "--encrypt", "--password-file",
             str(secret), "-o", str(out))
    env = {**os.environ, "ARCHIVE_PW": "pw-one"}
    subprocess.run([sys.executable, "-m", "orchestrator", "decrypt", str(out), "--password-env",
                    "ARCHIVE_PW"], check=True, env=env, capture_output=True)
    with tarfile.open(site.root / "x.tar.gz") as archive:
        assert archive.getnames()[0] == "metadata.json"
    env["ARCHIVE_PW"] = "pw-two"
    wrong = subprocess.run([sys.executable, "-m", "orchestrator", "decrypt", str(out), "-o",
                            str(site.root / "y.tar.gz"), "--password-env", "ARCHIVE_PW"],
                           env=env, capture_output=True, text=True, check=False)
    assert wrong.returncode != 0 and "wrong password" in wrong.stderr
    assert "Traceback" not in wrong.stderr and not (site.root / "y.tar.gz").exists()


def hostile_archive(site: Site, entries: list[tarfile.TarInfo], data: bytes = b"pwned\n") -> Path:
    """A real export's manifest, followed by the given entries."""
    site.run("create-backup")
    real = site.root / "real.tar.gz"
    site.run("download-backup", "--format", "tar.gz", "-o", str(real), "--force")
    with tarfile.open(real) as archive:
        member = archive.getmember("metadata.json")
        manifest = archive.extractfile(member).read()  # type: ignore[union-attr]
    path = site.root / "hostile.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("metadata.json")
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest))
        for entry in entries:
            archive.addfile(entry, io.BytesIO(data) if entry.isfile() else None)
    return path


def file_entry(name: str, size: int = 6) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    return info


def link_entry(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize("entries", [
    [file_entry("../../etc/strongroom-pwned")],
    [file_entry("/etc/strongroom-pwned")],
    [file_entry("config/app/../../../../strongroom-pwned")],
    [link_entry("config/app/evil", "/"), file_entry("config/app/evil/tmp/strongroom-pwned")],
    [link_entry("config/app/evil", "../../../../../../../../tmp")],
    [link_entry("config/app/hard", "/etc/passwd", tarfile.LNKTYPE)],
], ids=["dotdot", "absolute", "dotdot-inside", "symlink-to-root", "symlink-out", "hardlink"])
def test_hostile_archives_are_refused_with_nothing_written(
    site: Site, entries: list[tarfile.TarInfo],
) -> None:
    path = hostile_archive(site, entries)
    target = site.root / "landing"
    before = set(Path("/tmp").iterdir())
    result = site.run("restore-backup", "--from-archive", str(path), "--target", str(target),
                      check=False)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "nothing was written" in result.stderr or "refused" in result.stderr
    assert not target.exists()
    assert not Path("/etc/strongroom-pwned").exists()
    assert not Path("/tmp/strongroom-pwned").exists()
    assert set(Path("/tmp").iterdir()) - before == set()


def test_download_restrictions(site: Site) -> None:
    site.profile.write_text(site.profile.read_text() + """
[access.download]
require_encryption = true
max_bytes = 100000
allowed_outputs = ["file"]
""")
    site.run("create-backup", "--type", "full")
    plain = site.run("download-backup", check=False)
    assert plain.returncode == 4 and "require_encryption" in plain.stderr
    secret = site.root / "pw"
    secret.write_text("pw\n")
    out = site.root / "too-big.zip"
    big = site.run("download-backup", "--encrypt", "--password-file", str(secret), "-o",
                   str(out), check=False)
    assert big.returncode == 4 and "max_bytes" in big.stderr
    assert not out.exists() and not list(site.root.glob(".too-big.zip.*partial"))
    stdout = site.run("download-backup", "--encrypt", "--password-file", str(secret), "-o", "-",
                      check=False)
    assert stdout.returncode == 4 and "allowed_outputs" in stdout.stderr


@pytest.fixture
def moto_s3() -> Iterator[dict[str, str]]:
    pytest.importorskip("moto", reason="moto[server] is a dev dependency")
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    try:
        yield env
    finally:
        server.stop()


def test_export_to_s3_with_a_presigned_link(site: Site, moto_s3: dict[str, str]) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=moto_s3["AWS_ENDPOINT_URL"],
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          region_name="us-east-1")
    client.create_bucket(Bucket="exports")
    with_dump(site)
    made = site.run("create-backup", "--type", "full", "--json").json()
    local = site.root / "local.zip"
    site.run("download-backup", "--backup", made["set"], "-o", str(local))
    result = site.run("download-backup", "--backup", made["set"], "-o",
                      "s3://exports/backups/", "--presign", "600", "--json", env=moto_s3).json()
    key = f"backups/{made['set']}.zip"
    assert result["output"] == f"s3://exports/{key}"
    stored = client.get_object(Bucket="exports", Key=key)["Body"].read()
    assert stored == local.read_bytes()
    with urllib.request.urlopen(result["url"], timeout=30) as answer:  # noqa: S310
        assert answer.read() == stored
    missing = site.run("download-backup", "-o", "s3://no-such-bucket/x.zip", check=False,
                       env=moto_s3)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr


def test_export_is_valid_zip_for_the_standard_library(site: Site) -> None:
    site.run("create-backup", "--type", "full")
    out = site.root / "std.zip"
    site.run("download-backup", "-o", str(out))
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        assert archive.namelist()[0] == "metadata.json"


def test_a_tampered_local_manifest_stops_the_export(site: Site) -> None:
    made = site.run("create-backup", "--type", "full", "--json").json()
    staged = site.state / "sets" / "full" / "metadata.json"
    staged.write_text(staged.read_text().replace('"include_data": false',
                                                 '"include_data": true'))
    out = site.root / "x.zip"
    result = site.run("download-backup", "--backup", made["set"], "-o", str(out), check=False)
    assert result.returncode != 0 and "differs from the one in the repository" in result.stderr
    assert not out.exists() and not list(site.root.glob(".x.zip.*partial"))
    staged.unlink()  # without a local copy the manifest comes from the repository
    site.run("download-backup", "--backup", made["set"], "-o", str(out))
    assert zipfile.ZipFile(out).namelist()[0] == "metadata.json"


def test_a_verified_set_exports_its_verification_log(site: Site) -> None:
    made = site.run("create-backup", "--type", "full", "--json").json()
    site.run("verify-backup", "--backup", made["set"])
    out = site.root / "verified.tar.gz"
    site.run("download-backup", "--backup", made["set"], "--format", "tar.gz", "-o", str(out))
    members = archive_members(out)
    assert list(members)[-2:] == ["logs/backup.log", "logs/verification.log"]
    report = members["logs/verification.log"][2].decode()
    assert f"verify-backup {made['set']}: passed" in report
    target = site.root / "restored"
    site.run("restore-backup", "--from-archive", str(out), "--target", str(target))
    assert not list(target.rglob("*.log"))  # the logs describe the set; they are not restored


@BOTH_ENGINES
def test_a_damaged_repository_stops_the_export_with_the_engines_own_error(site: Site) -> None:
    made = site.run("create-backup", "--type", "full", "--json").json()
    for pack in (site.repository / "data").rglob("*"):
        if pack.is_file():  # same size, damaged contents: no blob in it decrypts
            pack.write_bytes(bytes(pack.stat().st_size))
    for fmt in ("tar.gz", "zip"):  # the tar stream ends early under both writers
        out = site.root / f"broken.{fmt}"
        result = site.run("download-backup", "--backup", made["set"], "--format", fmt, "-o",
                          str(out), check=False)
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert f"{site.engine} failed" in result.stderr, result.stderr
        assert not out.exists() and not list(site.root.glob(".broken*"))
