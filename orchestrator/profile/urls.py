"""Which kind of repository a profile URL names, and how messages may show it.

The profile validates its URLs with these; engines/destinations.py turns them into
restic's repository strings, engines/borg_args.py into borg's locations.
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


RESTIC_ONLY = ("s3", "sftp", "rest", "azure", "gs", "rclone", "b2", "swift")


def check_borg_url(url: str) -> None:
    """A borg repository is a local path, ssh://user@host[:port]/path or borg's own
    user@host:path; borg 1.2 reads nothing else, so any other URL is refused at load."""
    if url.startswith("ssh://"):
        if not re.fullmatch(r"ssh://(?:[^@/]+@)?[^/:@]+(?::\d+)?/.*", url):
            raise UsageError(f"borg repository URL {url!r} is not understood: give "
                             "ssh://user@host[:port]/path")
        return
    scheme = re.match(r"^([a-z0-9]+)(://|:)", url)
    if scheme is None or scheme.group(1) not in RESTIC_ONLY:
        if "://" not in url:
            return  # a path, local:/path, or user@host:path
    raise UsageError(f"borg cannot use repository URL {url!r}: give a local path or "
                     "ssh://user@host[:port]/path (S3, SFTP, REST, Azure, GCS and rclone "
                     "repositories need engine = \"restic\")")


def shown_url(url: str) -> str:
    """The URL as messages may show it: a password in it (rest:https://user:pw@host) hidden."""
    return re.sub(r"(://[^/:@]+):[^/@]+@", r"\1:***@", url)
