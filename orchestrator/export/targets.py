"""Where an export goes: a file (written aside, renamed into place), stdout, or S3.

A file is written to a fresh temp file in its folder (O_EXCL|O_NOFOLLOW, a random
name, mode 0600 or the profile's [access.download] file_mode), fsynced, then renamed
over the final name. A symlink at the final name is refused, even with --force.

Every target counts what it is given and enforces a byte limit as it goes; a
failed or refused export leaves no partial file and no half-finished upload.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse

from orchestrator.errors import AccessDenied, ConflictError, UsageError
from orchestrator.run.tempfiles import exclusive_temp, fsync_folder

S3_PART = 16 << 20


@dataclass(frozen=True)
class Output:
    kind: str  # "file", "stdout" or "s3"
    path: Path | None = None
    bucket: str = ""
    key: str = ""

    def __str__(self) -> str:
        if self.kind == "s3":
            return f"s3://{self.bucket}/{self.key}"
        return "-" if self.kind == "stdout" else str(self.path)


def parse_output(value: str | None, default_name: str) -> Output:
    if value in (None, ""):
        return Output("file", Path.cwd() / default_name)
    assert value is not None
    if value == "-":
        return Output("stdout")
    if value.startswith("s3://"):
        parsed = urlparse(value)
        key = parsed.path.lstrip("/")
        if not parsed.netloc:
            raise UsageError(f"--output {value}: no bucket (expected s3://bucket/key)")
        if not key or key.endswith("/"):
            key += default_name
        return Output("s3", bucket=parsed.netloc, key=key)
    path = Path(value).expanduser()
    if value.endswith("/") or path.is_dir():
        path = path / default_name
    return Output("file", path.absolute())


class CountingSink:
    """Counts bytes on their way to `sink` and stops the export past `limit`."""

    def __init__(self, sink: Any, limit: int | None) -> None:
        self.sink = sink
        self.limit = limit
        self.count = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.count += len(data)
        if self.limit is not None and self.count > self.limit:
            raise AccessDenied(
                f"the download exceeds the profile's limit of {self.limit} bytes "
                "([access.download] max_bytes); nothing was kept"
            )
        self.sink.write(data)
        return len(data)

    def flush(self) -> None:
        return None


@contextmanager
def open_output(output: Output, force: bool, limit: int | None,
                mode: int = 0o600) -> Iterator[CountingSink]:
    if output.kind == "stdout":
        if sys.stdout.isatty():
            raise UsageError("refusing to write an archive to a terminal; redirect stdout")
        yield CountingSink(sys.stdout.buffer, limit)
        sys.stdout.buffer.flush()
        return
    if output.kind == "s3":
        with s3_upload(output) as upload:
            yield CountingSink(upload, limit)
        return
    assert output.path is not None
    with replacing(output.path, force, mode, hint=" or --output elsewhere") as handle:
        yield CountingSink(handle, limit)


def _refuse_existing(path: Path, force: bool, hint: str) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise ConflictError(f"{path} is a symlink; an output never replaces one or writes "
                            "through it, even with --force: remove it or choose another name")
    if not stat.S_ISREG(info.st_mode):
        raise ConflictError(f"{path} exists and is not a regular file")
    if not force:
        raise ConflictError(f"{path} exists; use --force to replace it{hint}")


@contextmanager
def replacing(path: Path, force: bool, mode: int = 0o600, hint: str = "") -> Iterator[BinaryIO]:
    """A file written aside and renamed onto `path` once complete and on disk. An existing
    `path` is replaced only with `force`, and never when it is a symlink or not a file."""
    _refuse_existing(path, force, hint)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = exclusive_temp(path, mode)
    handle = os.fdopen(fd, "wb")
    try:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())
        handle.close()
        _refuse_existing(path, force, hint)
        os.replace(temp, path)
    except BaseException:
        handle.close()
        temp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


def s3_client() -> Any:
    """boto3's client, configured by the standard AWS environment (AWS_ENDPOINT_URL too)."""
    try:
        import boto3
    except ImportError:
        raise UsageError("S3 output needs boto3: pip install 'strongroom[s3]'") from None
    return boto3.client("s3")


class _MultipartUpload:
    def __init__(self, client: Any, bucket: str, key: str) -> None:
        self.client, self.bucket, self.key = client, bucket, key
        self.upload_id = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        self.parts: list[dict[str, Any]] = []
        self.buffer = bytearray()

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.buffer += data
        while len(self.buffer) >= S3_PART:
            self._send(bytes(self.buffer[:S3_PART]))
            del self.buffer[:S3_PART]
        return len(data)

    def _send(self, body: bytes) -> None:
        number = len(self.parts) + 1
        answer = self.client.upload_part(Bucket=self.bucket, Key=self.key, PartNumber=number,
                                         UploadId=self.upload_id, Body=body)
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def finish(self) -> None:
        if self.buffer or not self.parts:
            self._send(bytes(self.buffer))
            self.buffer.clear()
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts})

    def abort(self) -> None:
        self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                           UploadId=self.upload_id)


@contextmanager
def s3_upload(output: Output) -> Iterator[_MultipartUpload]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        upload = _MultipartUpload(s3_client(), output.bucket, output.key)
    except (BotoCoreError, ClientError) as exc:
        raise UsageError(f"cannot start the upload to {output}: {exc}") from None
    try:
        yield upload
        upload.finish()
    except BaseException:
        try:
            upload.abort()
        except (BotoCoreError, ClientError):
            pass
        raise


def presign(output: Output, seconds: int) -> str:
    return str(s3_client().generate_presigned_url(
        "get_object", Params={"Bucket": output.bucket, "Key": output.key}, ExpiresIn=seconds))


def sink_type(sink: CountingSink) -> BinaryIO:
    return sink  # type: ignore[return-value]
