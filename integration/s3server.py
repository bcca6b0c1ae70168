"""A moto S3 server on 127.0.0.1 in its own process, with IAM authentication on, so
wrong keys are refused as AWS refuses them."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from integration.servers import free_port, listening

S3_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key_id: str
    secret_file: Path

    def repository_toml(self, name: str, bucket: str, password_file: Path,
                        secret_file: Path | None = None) -> str:
        return f"""
[repositories.{name}]
url = "s3://{bucket}/strongroom"
endpoint = "{self.endpoint}"
path_style = true
password_file = "{password_file}"

[repositories.{name}.env]
AWS_ACCESS_KEY_ID = "{self.access_key_id}"
AWS_SECRET_ACCESS_KEY = {{ file = "{secret_file or self.secret_file}" }}
"""


@contextmanager
def moto_s3(folder: Path) -> Iterator[S3Server]:
    with moto_s3_users(folder, 1) as (server,):
        yield server


@contextmanager
def moto_s3_users(folder: Path, count: int) -> Iterator[list[S3Server]]:
    """One moto server and `count` IAM users, each with a key of its own (a key id with
    another user's secret is refused)."""
    pytest.importorskip("moto", reason="moto[server] is a dev dependency")
    import boto3

    port = free_port()
    # The unsigned set-up calls: the policy, then each user, its key and its attachment.
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(1 + 3 * count)}
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with listening(argv, port, folder / "moto.log", env=env):
        endpoint = f"http://127.0.0.1:{port}"
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        policy = iam.create_policy(PolicyName="s3", PolicyDocument=json.dumps(S3_POLICY))
        servers = []
        for index in range(count):
            user = "backup" if index == 0 else f"backup{index + 1}"
            iam.create_user(UserName=user)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            iam.attach_user_policy(UserName=user, PolicyArn=policy["Policy"]["Arn"])
            secret = folder / ("s3.secret" if index == 0 else f"s3-{user}.secret")
            secret.write_text(key["SecretAccessKey"] + "\n")
            secret.chmod(0o600)
            servers.append(S3Server(endpoint, key["AccessKeyId"], secret))
        yield servers
