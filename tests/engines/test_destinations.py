"""The URL table: each profile URL form to restic's repository string, options and env."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.engines.destinations import resolve
from orchestrator.errors import UsageError
from orchestrator.profile.schema import Repository, SecretSource
from orchestrator.profile.urls import kind_of


def repo(url: str, **extra: Any) -> Repository:
    return Repository.model_validate({"url": url, "password_env": "P", **extra})


@pytest.mark.parametrize(("url", "kind", "repository"), [
    ("/srv/backups", "local", "/srv/backups"),
    ("local:/srv/backups", "local", "/srv/backups"),
    ("s3://homelab-backups/strongroom", "s3",
     "s3:https://s3.amazonaws.com/homelab-backups/strongroom"),
    ("s3:https://minio.lan:9000/bucket/prefix", "s3", "s3:https://minio.lan:9000/bucket/prefix"),
    ("s3:s3.amazonaws.com/bucket", "s3", "s3:s3.amazonaws.com/bucket"),
    ("sftp://backup@nas.lan/srv/restic", "sftp", "sftp:backup@nas.lan:/srv/restic"),
    ("sftp:backup@nas.lan:/srv/restic", "sftp", "sftp:backup@nas.lan:/srv/restic"),
    ("rest:https://user@rest.lan:8000/homelab", "rest", "rest:https://user@rest.lan:8000/homelab"),
    ("gs://bucket/prefix", "gcs", "gs:bucket:/prefix"),
    ("rclone:offsite:backups/homelab", "rclone", "rclone:offsite:backups/homelab"),
])
def test_url_forms(url: str, kind: str, repository: str) -> None:
    destination = resolve("r", repo(url, account="acct"))
    assert (destination.kind, destination.repository) == (kind, repository)


def test_s3_options_and_endpoint() -> None:
    moto = resolve("r", repo("s3://bucket/p", endpoint="http://127.0.0.1:5000", region="eu-1",
                             path_style=True))
    assert moto.repository == "s3:http://127.0.0.1:5000/bucket/p"
    assert moto.options == ("s3.bucket-lookup=path",)
    assert moto.env == {"AWS_DEFAULT_REGION": "eu-1"} and moto.address == ("127.0.0.1", 5000)
    assert moto.option_args() == ["-o", "s3.bucket-lookup=path"]


def test_storage_class_needs_restic_016() -> None:
    old = resolve("r", repo("s3://b/p", storage_class="STANDARD_IA"), (0, 14, 0))
    assert old.options == () and "restic 0.16 can" in old.notes[0]
    new = resolve("r", repo("s3://b/p", storage_class="STANDARD_IA"), (0, 16, 4))
    assert new.options == ("s3.storage-class=STANDARD_IA",) and new.notes == ()


def test_sftp_builds_its_own_quoted_ssh_command() -> None:
    destination = resolve("r", repo("sftp://backup@nas.lan:2222/srv/restic",
                                    identity_file="/etc/strongroom/id ed25519",
                                    known_hosts_file="/etc/strongroom/known_hosts"))
    assert destination.repository == "sftp:backup@nas.lan:/srv/restic"
    assert destination.options == (
        "sftp.command=ssh -p 2222 -o BatchMode=yes -i '/etc/strongroom/id ed25519' -o "
        "IdentitiesOnly=yes -o UserKnownHostsFile=/etc/strongroom/known_hosts -o "
        "StrictHostKeyChecking=yes backup@nas.lan -s sftp",)
    assert destination.address == ("nas.lan", 2222)
    assert resolve("r", repo("sftp://nas.lan/srv")).options == ()


def test_azure_native_and_through_rclone_for_another_endpoint() -> None:
    native = resolve("r", repo("azure://backups/homelab", account="acct",
                               env={"AZURE_ACCOUNT_KEY": {"env": "KEY"}}))
    assert native.repository == "azure:backups:/homelab"
    assert native.env == {"AZURE_ACCOUNT_NAME": "acct"}
    assert native.secrets == {"AZURE_ACCOUNT_KEY": SecretSource(env="KEY")}
    emulated = resolve("Off-site", repo("azure://backups/homelab", account="devstoreaccount1",
                                        endpoint="http://127.0.0.1:10000/devstoreaccount1",
                                        env={"AZURE_ACCOUNT_KEY": {"file": "/k"}}))
    assert emulated.repository == "rclone:strongroomoffsite:backups/homelab"
    assert emulated.env == {
        "RCLONE_CONFIG_STRONGROOMOFFSITE_TYPE": "azureblob",
        "RCLONE_CONFIG_STRONGROOMOFFSITE_ACCOUNT": "devstoreaccount1",
        "RCLONE_CONFIG_STRONGROOMOFFSITE_ENDPOINT": "http://127.0.0.1:10000/devstoreaccount1",
        "RCLONE_CONFIG_STRONGROOMOFFSITE_USE_EMULATOR": "true"}
    assert emulated.secrets == {"RCLONE_CONFIG_STRONGROOMOFFSITE_KEY": SecretSource(file="/k")}
    assert emulated.options == (
        "rclone.args=serve restic --stdio --retries 2 --low-level-retries 2",)
    assert emulated.address == ("127.0.0.1", 10000)
    sovereign = resolve("cn", repo("azure://backups/x", account="acct",
                                   endpoint="blob.core.chinacloudapi.cn"))
    assert sovereign.env["RCLONE_CONFIG_STRONGROOMCN_ENDPOINT"] == "blob.core.chinacloudapi.cn"
    assert "RCLONE_CONFIG_STRONGROOMCN_USE_EMULATOR" not in sovereign.env
    with pytest.raises(UsageError, match="needs `account`"):
        resolve("r", repo("azure://backups/x"))


def test_gcs_project_and_credentials() -> None:
    destination = resolve("r", repo("gs://bucket/prefix", project="my-project", env={
        "GOOGLE_APPLICATION_CREDENTIALS": "/etc/strongroom/gcs.json"}))
    assert destination.env == {"GOOGLE_APPLICATION_CREDENTIALS": "/etc/strongroom/gcs.json",
                               "GOOGLE_PROJECT_ID": "my-project"}


def test_unknown_forms_name_the_accepted_ones() -> None:
    with pytest.raises(UsageError, match="s3://bucket/prefix"):
        kind_of("ftp://host/x")
    with pytest.raises(UsageError, match="names a bucket"):
        resolve("r", repo("s3:///prefix"))


def test_secrets_never_sit_inline() -> None:
    with pytest.raises(ValueError, match="AWS_SECRET_ACCESS_KEY"):
        repo("s3://b/p", env={"AWS_SECRET_ACCESS_KEY": "hunter2"})
    with pytest.raises(ValueError, match="exactly one of file, command, env"):
        repo("s3://b/p", env={"AWS_SECRET_ACCESS_KEY": {"file": "/a", "env": "B"}})
    assert repo("s3://b/p", env={"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}).env == {
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"}


def test_sync_to_names_another_repository() -> None:
    from orchestrator.profile.schema import Profile, reference_problems

    profile = Profile.model_validate({
        "repositories": {"local": {"url": "/r", "password_env": "P"}},
        "schedules": {"a": {"schedule": "@daily", "sync_to": ["nowhere", "local"]}}})
    assert [message for _, message in reference_problems(profile)] == [
        "no repository named 'nowhere' (have: local)", "'local' is the schedule's own "
        "destination"]
