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
    pytest.importorskip("moto", reason="moto[server] is a dev dependency")
    import boto3

    port = free_port()
    # The first four calls (user, key, policy, attachment) need no signature.
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "4"}
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with listening(argv, port, folder / "moto.log", env=env):
        endpoint = f"http://127.0.0.1:{port}"
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="backup")
        key = iam.create_access_key(UserName="backup")["AccessKey"]
        policy = iam.create_policy(PolicyName="s3", PolicyDocument=json.dumps(S3_POLICY))
        iam.attach_user_policy(UserName="backup", PolicyArn=policy["Policy"]["Arn"])
        secret = folder / "s3.secret"
        secret.write_text(key["SecretAccessKey"] + "\n")
        secret.chmod(0o600)
        yield S3Server(endpoint, key["AccessKeyId"], secret)
