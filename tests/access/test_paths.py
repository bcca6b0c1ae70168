"""The [access] path policy: what a confined caller may name, and what it is refused."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from orchestrator import models
from orchestrator.access.paths import allowed_paths, confine, is_confined, output_inside
from orchestrator.errors import AccessDenied, ProfileError
from orchestrator.profile.load import load_profile
from orchestrator.profile.schema import Profile


def make_profile(tmp_path: Path, access: str = "") -> Profile:
    path = tmp_path / "site.toml"
    path.write_text(textwrap.dedent("""\
        [repositories.local]
        url = "/var/backups/strongroom"
        password_file = "local.pass"
        env = { AWS_SECRET_ACCESS_KEY = { file = "keys/aws" } }

        [config]
        app = ["/etc/app"]

        [services.web]
        config = ["/etc/web"]
        data = ["/srv/web"]

        [infrastructure]
        network = ["/etc/netplan"]
        """) + textwrap.dedent(access))
    return load_profile(path, {})


@pytest.fixture
def state(tmp_path: Path) -> Path:
    folder = tmp_path / "state"
    (folder / "exports").mkdir(parents=True)
    (folder / "restores").mkdir()
    return folder


def download(output: str | None) -> models.DownloadBackupRequest:
    return models.DownloadBackupRequest.model_validate({"downloadPath": output})


def test_who_is_confined() -> None:
    assert not is_confined(None, "cli")
    assert is_confined("ops", "cli")
    assert is_confined(None, "mcp") and is_confined("ops", "mcp")


def test_defaults_come_from_the_state_folder_and_the_profile(tmp_path: Path,
                                                             state: Path) -> None:
    allowed = allowed_paths(make_profile(tmp_path), None, state)
    assert allowed.export_dir == state / "exports" == allowed.import_dir
    assert allowed.restore_targets == (state / "restores",)
    assert allowed.backup_roots == tuple(Path(p) for p in (
        "/etc/app", "/etc/web", "/srv/web", "/etc/netplan"))


def test_a_role_overrides_each_folder_and_relative_ones_follow_the_profile(
        tmp_path: Path, state: Path) -> None:
    profile = make_profile(tmp_path, """
        [access]
        export_dir = "out"
        restore_targets = ["/srv/restore-here"]

        [access.roles.ops]
        export_dir = "/srv/ops-exports"
        backup_roots = ["data"]
        """)
    base = allowed_paths(profile, None, state)
    assert base.export_dir == tmp_path / "out" == base.import_dir
    assert base.restore_targets == (Path("/srv/restore-here"),)
    ops = allowed_paths(profile, "ops", state)
    assert ops.export_dir == Path("/srv/ops-exports")
    assert ops.restore_targets == (Path("/srv/restore-here"),)
    assert ops.backup_roots == (tmp_path / "data",)


def test_a_repository_env_file_is_relative_to_its_profile_file(tmp_path: Path) -> None:
    source = make_profile(tmp_path).repositories["local"].env["AWS_SECRET_ACCESS_KEY"]
    assert not isinstance(source, str) and source.file == tmp_path / "keys" / "aws"


@pytest.mark.parametrize("mode", ["640", "0640", "0600", "0700"])
def test_file_mode_takes_octal(tmp_path: Path, mode: str) -> None:
    profile = make_profile(tmp_path, f'[access.download]\nfile_mode = "{mode}"\n')
    assert int(profile.access.download.file_mode, 8) == int(mode, 8)


@pytest.mark.parametrize("mode", ["0400", "644x", "0o640", "1777", "rw-r-----", "0004"])
def test_file_mode_refuses_what_is_not_a_writable_octal_mode(tmp_path: Path,
                                                             mode: str) -> None:
    with pytest.raises(ProfileError, match="file_mode"):
        make_profile(tmp_path, f'[access.download]\nfile_mode = "{mode}"\n')


def test_exports_land_in_the_export_folder(tmp_path: Path, state: Path) -> None:
    exports = state / "exports"
    assert output_inside(None, exports) == f"{exports}/"
    assert output_inside("a.zip", exports) == str(exports / "a.zip")
    assert output_inside("sub/a.zip", exports) == str(exports / "sub" / "a.zip")
    assert output_inside(str(exports / "b.zip"), exports) == str(exports / "b.zip")
    (exports / "dir").mkdir()
    assert output_inside("dir", exports) == f"{exports / 'dir'}/"


@pytest.mark.parametrize("value, message", [
    ("/etc/x.zip", "outside the allowed folder"),
    ("../x.zip", "'..' is not allowed"),
    ("sub/../../x.zip", "'..' is not allowed"),
    ("-", "protocol's channel"),
    ("out/x.zip", "outside the allowed folder"),    # a planted symlink to a folder outside
    ("victim.zip", "is a symlink"),                 # a planted symlink at the final name
    ("/", "outside the allowed folder"),
])
def test_exports_anywhere_else_are_refused(tmp_path: Path, state: Path, value: str,
                                           message: str) -> None:
    exports = state / "exports"
    (tmp_path / "elsewhere").mkdir()
    (exports / "out").symlink_to(tmp_path / "elsewhere")
    (exports / "victim.zip").symlink_to(tmp_path / "elsewhere" / "victim")
    with pytest.raises(AccessDenied, match=message):
        output_inside(value, exports)


def test_an_unconfined_cli_request_is_left_alone(tmp_path: Path, state: Path) -> None:
    request = download("/etc/x.zip")
    assert confine(make_profile(tmp_path), state, None, "cli", request) is request


def test_a_role_on_the_cli_may_still_write_its_own_stdout(tmp_path: Path,
                                                          state: Path) -> None:
    profile = make_profile(tmp_path, "[access.roles.ops]\n")
    assert confine(profile, state, "ops", "cli", download("-")).output == "-"
    with pytest.raises(AccessDenied, match="protocol"):
        confine(profile, state, None, "mcp", download("-"))
    with pytest.raises(AccessDenied, match="outside"):
        confine(profile, state, "ops", "cli", download("/tmp/x.zip"))


def test_s3_needs_the_profile_to_list_it_for_a_confined_caller(tmp_path: Path,
                                                                state: Path) -> None:
    with pytest.raises(AccessDenied, match="allowed_outputs"):
        confine(make_profile(tmp_path), state, None, "mcp", download("s3://b/k"))
    listed = make_profile(tmp_path, '[access.download]\nallowed_outputs = ["file", "s3"]\n')
    assert confine(listed, state, None, "mcp", download("s3://b/k")).output == "s3://b/k"


def test_restore_targets_and_archives(tmp_path: Path, state: Path) -> None:
    profile = make_profile(tmp_path)
    inside = confine(profile, state, None, "mcp", models.RestoreBackupRequest(
        target="here", from_archive=str(state / "exports" / "a.zip")))
    assert isinstance(inside, models.RestoreBackupRequest)
    assert inside.target == str(state / "restores" / "here")
    assert inside.from_archive == str(state / "exports" / "a.zip")
    given = confine(profile, state, None, "mcp", models.RestoreBackupRequest.model_validate(
        {"vaultPasswordFiles": {"nc-vault": "nc.pass"}}))
    assert isinstance(given, models.RestoreBackupRequest)
    assert given.vault_password_files == {"nc-vault": str(state / "exports" / "nc.pass")}
    in_place = models.RestoreBackupRequest(confirm=True)
    assert confine(profile, state, None, "mcp", in_place) == in_place
    for request, message in [
        (models.RestoreBackupRequest(target="/etc"), "target '/etc' is outside"),
        (models.RestoreBackupRequest(target="../x"), "'..'"),
        (models.RestoreBackupRequest(from_archive="/tmp/evil.zip"), "fromArchive"),
        (models.RestoreBackupRequest(from_archive=str(state / "exports" / "a.zip"),
                                     trust_archive=True), "may not vouch"),
        (models.RestoreBackupRequest.model_validate(
            {"vaultPasswordFiles": {"nc-vault": "/etc/strongroom/nc.pass"}}),
         "vaultPasswordFiles '/etc/strongroom/nc.pass' is outside"),
    ]:
        with pytest.raises(AccessDenied, match=message):
            confine(profile, state, None, "mcp", request)


def test_backup_paths_stay_in_the_roots(tmp_path: Path, state: Path) -> None:
    root = tmp_path / "data"
    (root / "ok").mkdir(parents=True)
    (root / "link").symlink_to("/etc")
    profile = make_profile(tmp_path, f'[access]\nbackup_roots = ["{root}"]\n')
    files = confine(profile, state, None, "mcp", models.BackupFilesRequest(
        paths=["ok", str(root / "ok")]))
    assert isinstance(files, models.BackupFilesRequest)
    assert files.paths == [str(root / "ok")] * 2
    for paths in (["/etc/shadow"], ["link/shadow"], ["ok", "../x"]):
        with pytest.raises(AccessDenied):
            confine(profile, state, None, "mcp", models.BackupFilesRequest(paths=paths))
    with pytest.raises(AccessDenied, match="disk"):
        confine(profile, state, "x", "cli", models.BackupVmSnapshotRequest(disk="/etc/shadow"))
    with pytest.raises(AccessDenied, match="password_file"):
        confine(profile, state, None, "mcp", models.BackupDatabaseRequest(
            type="postgresql", database=["x"], password_file="/etc/shadow"))
    with pytest.raises(AccessDenied, match="database"):
        confine(profile, state, None, "mcp", models.BackupDatabaseRequest(
            type="sqlite", database=["/etc/shadow"]))
    named = models.BackupDatabaseRequest(service="web", type="sqlite", database=["main"])
    assert confine(profile, state, None, "mcp", named) is named


def test_no_roots_at_all_refuses_everything(tmp_path: Path, state: Path) -> None:
    profile = make_profile(tmp_path, "[access]\nbackup_roots = []\n")
    with pytest.raises(AccessDenied, match="allows no folder"):
        confine(profile, state, None, "mcp", models.BackupFilesRequest(paths=[os.sep]))


def test_backup_encrypt_archives_are_read_and_written_inside_the_export_folders(
        tmp_path: Path, state: Path) -> None:
    profile = make_profile(tmp_path)
    exports = state / "exports"
    (exports / "old.zip").write_bytes(b"PK")
    request = models.BackupEncryptRequest.model_validate({"archive": "old.zip"})
    checked = confine(profile, state, None, "mcp", request)
    assert isinstance(checked, models.BackupEncryptRequest)
    assert checked.archive == str((exports / "old.zip").resolve())
    assert checked.output == str(exports.resolve()) + "/"
    outside = tmp_path / "elsewhere.zip"
    outside.write_bytes(b"PK")
    for bad in ({"archive": str(outside)}, {"archive": "../elsewhere.zip"},
                {"archive": "old.zip", "output": "../out.zip"},
                {"archive": "old.zip", "force": True}):
        with pytest.raises(AccessDenied):
            confine(profile, state, None, "mcp", models.BackupEncryptRequest.model_validate(bad))
    assert confine(profile, state, None, "cli", models.BackupEncryptRequest.model_validate(
        {"archive": str(outside)})).archive == str(outside)


def test_a_confined_caller_names_no_new_password_file(tmp_path: Path, state: Path) -> None:
    profile = make_profile(tmp_path)
    request = models.KeyChangeRequest(action="rotate", new_password_file="/etc/shadow")
    with pytest.raises(AccessDenied, match="new password file"):
        confine(profile, state, "ops", "cli", request)
    assert confine(profile, state, None, "cli", request) is request
def test_a_drill_workdir_stays_in_the_restore_targets(tmp_path: Path, state: Path) -> None:
    profile = make_profile(tmp_path)
    inside = confine(profile, state, None, "mcp", models.DrillRequest(workdir="sandbox"))
    assert isinstance(inside, models.DrillRequest)
    assert inside.workdir == str(state / "restores" / "sandbox")
    default = models.DrillRequest()
    assert confine(profile, state, None, "mcp", default) is default
    with pytest.raises(AccessDenied, match="workdir '/etc' is outside"):
        confine(profile, state, None, "mcp", models.DrillRequest(workdir="/etc"))
def test_a_point_in_time_restore_is_confined_to_the_restore_targets(tmp_path: Path,
                                                                     state: Path) -> None:
    profile = make_profile(tmp_path)
    request = models.PitrRestoreRequest(service="db", timestamp="2024-12-24T14:30:00Z",
                                        pgdata="drill")
    confined = confine(profile, state, None, "mcp", request)
    assert isinstance(confined, models.PitrRestoreRequest)
    assert confined.pgdata == str(state / "restores" / "drill")
    with pytest.raises(AccessDenied):
        confine(profile, state, None, "mcp", request.model_copy(
            update={"pgdata": "/var/lib/postgresql/15/main"}))


def test_a_migration_into_a_repository_writes_no_file_and_imports_from_the_import_folder(
        tmp_path: Path, state: Path) -> None:
    profile = make_profile(tmp_path)
    copy = models.BackupMigrateRequest.model_validate({"to": "offsite"})
    assert confine(profile, state, None, "mcp", copy) == copy  # no output chosen for it
    archive = str(state / "exports" / "a.zip")
    imported = confine(profile, state, None, "mcp", models.BackupMigrateRequest.model_validate(
        {"to": "offsite", "fromArchive": archive}))
    assert isinstance(imported, models.BackupMigrateRequest)
    assert imported.from_archive == archive and imported.output is None
    with pytest.raises(AccessDenied, match="fromArchive"):
        confine(profile, state, None, "mcp", models.BackupMigrateRequest.model_validate(
            {"to": "offsite", "fromArchive": "/etc/shadow.tar"}))
    converted = confine(profile, state, None, "mcp", models.BackupMigrateRequest.model_validate(
        {"toFormat": "zip"}))
    assert isinstance(converted, models.BackupMigrateRequest)
    assert converted.output is not None and converted.output.startswith(str(state / "exports"))
