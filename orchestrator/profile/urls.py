"""Which kind of repository a profile URL names, and how messages may show it.

The profile validates its URLs with these; engines/destinations.py turns them into
restic's repository strings.
"""

from __future__ import annotations

import re
from typing import Literal

from orchestrator.errors import UsageError

Kind = Literal["local", "s3", "sftp", "rest", "azure", "gcs", "rclone"]
KINDS: tuple[Kind, ...] = ("local", "s3", "sftp", "rest", "azure", "gcs", "rclone")


def kind_of(url: str) -> Kind:
    if url.startswith(("local:", "file://")) or ":" not in url.split("/", 1)[0]:
        return "local"  # an absolute or relative path
    scheme = re.match(r"^([a-z0-9]+)(://|:)", url)
    prefix = scheme.group(1) if scheme else ""
    kinds: dict[str, Kind] = {"s3": "s3", "sftp": "sftp", "rest": "rest", "azure": "azure",
                              "gs": "gcs", "rclone": "rclone"}
    if prefix in kinds:
        return kinds[prefix]
    raise UsageError(
        f"repository URL {url!r} is not understood: give a path, local:/path, s3://bucket/"
        "prefix, s3:https://host/bucket, sftp://user@host:port/path, rest:https://…, "
        "azure://container/prefix, gs://bucket/prefix or rclone:remote:path")


def shown_url(url: str) -> str:
    """The URL as messages may show it: a password in it (rest:https://user:pw@host) hidden."""
    return re.sub(r"(://[^/:@]+):[^/@]+@", r"\1:***@", url)
