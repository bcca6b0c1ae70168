"""Where a repository lives: one table from a profile URL to restic's repository string,
its `-o` options and the environment it needs.

    profile URL                       kind    restic repository
    /srv/backups, local:/srv/backups  local   /srv/backups
    s3://bucket/prefix                s3      s3:s3.amazonaws.com/bucket/prefix
                                              (s3:<endpoint>/bucket/prefix with `endpoint`)
    s3:https://host/bucket/prefix     s3      unchanged (MinIO, Ceph, Wasabi, Backblaze)
    sftp://user@host:port/path        sftp    sftp:user@host:/path, ssh built by strongroom
    sftp:user@host:/path              sftp    unchanged
    rest:https://host:8000/repo       rest    unchanged
    azure://container/prefix          azure   azure:container:/prefix (account in `account`)
    gs://bucket/prefix                gcs     gs:bucket:/prefix (project in `project`)
    rclone:remote:path                rclone  unchanged

Secrets (keys, tokens) reach restic only through its environment, filled from the
files, commands or variables the profile's `env` table names; never through argv.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from orchestrator.errors import UsageError
from orchestrator.profile.schema import Repository, SecretSource
from orchestrator.profile.urls import Kind, kind_of

AWS_HOST = "s3.amazonaws.com"
STORAGE_CLASS_SINCE = (0, 16, 0)


@dataclass(frozen=True)
class Destination:
    kind: Kind
    repository: str
    options: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, SecretSource] = field(default_factory=dict)
    address: tuple[str, int] | None = None  # host and port to probe before talking to it
    notes: tuple[str, ...] = ()

    def option_args(self) -> list[str]:
        return [arg for option in self.options for arg in ("-o", option)]


def resolve(name: str, repo: Repository, restic_version: tuple[int, int, int] = (0, 14, 0)
            ) -> Destination:
    """The restic repository string, options and environment for a profile repository."""
    url = repo.url
    kind = kind_of(url)
    env = {key: value for key, value in repo.env.items() if isinstance(value, str)}
    secrets = {key: value for key, value in repo.env.items() if isinstance(value, SecretSource)}
    options = [f"{key}={value}" for key, value in repo.options.items()]
    notes: list[str] = []
    if kind == "local":
        path = url.removeprefix("local:").removeprefix("file://")
        return Destination("local", path, tuple(options), env, secrets)
    if kind == "s3":
        repository, address = _s3(url, repo)
        if repo.region:
            # Not `-o s3.region`: without it restic asks the bucket for its location
            # first, which also tells a missing bucket apart from a missing repository.
            env.setdefault("AWS_DEFAULT_REGION", repo.region)
        if repo.path_style:
            options.append("s3.bucket-lookup=path")
        if repo.storage_class:
            if restic_version >= STORAGE_CLASS_SINCE:
                options.append(f"s3.storage-class={repo.storage_class}")
            else:
                notes.append(
                    f"repository {name!r}: restic {'.'.join(map(str, restic_version))} cannot "
                    f"set the S3 storage class ({repo.storage_class}) - restic 0.16 can; "
                    "objects get the bucket's default class")
        return Destination("s3", repository, tuple(options), env, secrets, address, tuple(notes))
    if kind == "sftp":
        repository, command, address = _sftp(name, url, repo)
        if command:
            options.append(f"sftp.command={command}")
        return Destination("sftp", repository, tuple(options), env, secrets, address)
    if kind == "rest":
        parts = urlsplit(url.removeprefix("rest:"))
        return Destination("rest", url, tuple(options), env, secrets, _address(parts))
    if kind == "azure":
        return _azure(name, url, repo, env, secrets, options)
    if kind == "gcs":
        if url.startswith("gs://"):
            parts = urlsplit(url)
            url = f"gs:{parts.netloc}:{parts.path or '/'}"
        if repo.project:
            env.setdefault("GOOGLE_PROJECT_ID", repo.project)
        return Destination("gcs", url, tuple(options), env, secrets)
    return Destination("rclone", url, tuple(options), env, secrets)


def _s3(url: str, repo: Repository) -> tuple[str, tuple[str, int] | None]:
    if url.startswith("s3://"):
        parts = urlsplit(url)
        if not parts.netloc:
            raise UsageError(f"{url!r}: an S3 URL names a bucket: s3://bucket/prefix")
        endpoint = repo.endpoint or f"https://{AWS_HOST}"
        if "://" not in endpoint:
            endpoint = "https://" + endpoint
        repository = f"s3:{endpoint.rstrip('/')}/{parts.netloc}{parts.path.rstrip('/')}"
        return repository, _address(urlsplit(endpoint))
    rest = url.removeprefix("s3:")
    if "://" not in rest:  # restic's own form: s3:s3.amazonaws.com/bucket
        return url, _address(urlsplit("https://" + rest))
    return url, _address(urlsplit(rest))


def _sftp(name: str, url: str, repo: Repository
          ) -> tuple[str, str | None, tuple[str, int] | None]:
    if url.startswith("sftp://"):
        parts = urlsplit(url)
        if not parts.hostname:
            raise UsageError(f"{url!r}: an SFTP URL names a host: sftp://user@host:port/path")
        user, host, port = parts.username, parts.hostname, parts.port or 22
        path = unquote(parts.path) or "/"
    else:
        match = re.fullmatch(r"sftp:(?:([^@/]+)@)?([^:/]+):(.*)", url)
        if match is None:
            raise UsageError(f"{url!r}: restic's SFTP form is sftp:user@host:/path")
        user, host, path = match.group(1), match.group(2), match.group(3)
        port = 22
    login = f"{user}@{host}" if user else host
    repository = f"sftp:{login}:{path}"
    custom = port != 22 or repo.identity_file or repo.known_hosts_file
    command = sftp_command(login, port, repo) if custom else None
    return repository, command, (host, port)


def sftp_command(login: str, port: int, repo: Repository) -> str:
    """The ssh command restic starts for SFTP, each word quoted (restic splits it like a
    shell would, without running one). BatchMode: never stop to ask for a password."""
    argv = ["ssh", "-p", str(port), "-o", "BatchMode=yes"]
    if repo.identity_file:
        argv += ["-i", str(repo.identity_file), "-o", "IdentitiesOnly=yes"]
    if repo.known_hosts_file:
        argv += ["-o", f"UserKnownHostsFile={repo.known_hosts_file}",
                 "-o", "StrictHostKeyChecking=yes"]
    argv += [login, "-s", "sftp"]
    return shlex.join(argv)


def _azure(name: str, url: str, repo: Repository, env: dict[str, str],
           secrets: dict[str, SecretSource], options: list[str]) -> Destination:
    if url.startswith("azure://"):
        parts = urlsplit(url)
        container, prefix = parts.netloc, parts.path or "/"
    else:
        match = re.fullmatch(r"azure:([^:]+):(.*)", url)
        if match is None:
            raise UsageError(f"{url!r}: give azure://container/prefix")
        container, prefix = match.group(1), match.group(2) or "/"
    if not repo.account:
        raise UsageError(f"repository {name!r}: an Azure repository needs `account`")
    if repo.endpoint is None:
        env.setdefault("AZURE_ACCOUNT_NAME", repo.account)
        return Destination("azure", f"azure:{container}:{prefix}", tuple(options), env,
                           secrets)
    # restic 0.14 cannot point its Azure backend elsewhere (an emulator such as azurite,
    # a sovereign cloud): rclone's azureblob backend can, configured by environment.
    remote = "strongroom" + re.sub(r"[^a-z0-9]", "", name.lower())
    key = f"RCLONE_CONFIG_{remote.upper()}_"
    env.setdefault(key + "TYPE", "azureblob")
    env.setdefault(key + "ACCOUNT", repo.account)
    parts = urlsplit(repo.endpoint if "://" in repo.endpoint else "https://" + repo.endpoint)
    emulator = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if emulator:  # rclone takes the emulator's well-known key itself
        env.setdefault(key + "USE_EMULATOR", "true")
        env.setdefault(key + "ENDPOINT", repo.endpoint)
    else:  # rclone 1.60 wants the endpoint suffix: blob.core.chinacloudapi.cn
        env.setdefault(key + "ENDPOINT", parts.netloc)
    for variable, target in (("AZURE_ACCOUNT_KEY", "KEY"), ("AZURE_ACCOUNT_SAS", "SAS_URL")):
        if variable in secrets:
            secrets[key + target] = secrets.pop(variable)
    if not any(option.startswith("rclone.args=") for option in options):
        # rclone retries a bad setting for a long time; two tries are enough to be sure.
        options.append("rclone.args=serve restic --stdio --retries 2 --low-level-retries 2")
    repository = f"rclone:{remote}:{container}{prefix.rstrip('/')}"
    return Destination("azure", repository, tuple(options), env, secrets, _address(parts))


def _address(parts: object) -> tuple[str, int] | None:
    host = getattr(parts, "hostname", None)
    if not host:
        return None
    port = getattr(parts, "port", None) or (443 if getattr(parts, "scheme", "") == "https"
                                            else 80)
    return host, int(port)


def behind_proxy() -> bool:
    """restic honours HTTP(S)_PROXY; a direct TCP probe would then prove nothing."""
    import os

    return any(os.environ.get(name) for name in (
        "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"))


def probe(address: tuple[str, int], timeout: float = 5.0) -> str | None:
    """Why the host cannot be reached, or None when a TCP connection opens. restic would
    retry an unreachable backend for minutes and then blame a missing repository."""
    import socket

    try:
        socket.create_connection(address, timeout=timeout).close()
    except socket.gaierror:
        return "the host name does not resolve"
    except ConnectionRefusedError:
        return "connection refused"
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def secret_values(repository_name: str, secrets: Mapping[str, SecretSource]) -> dict[str, str]:
    """Each secret's value, read from its file, command or variable, for the child's
    environment only."""
    import os

    from orchestrator.errors import StrongroomError
    from orchestrator.run import CommandError, run

    values: dict[str, str] = {}
    for variable, source in secrets.items():
        where = f"repository {repository_name!r}: {variable}"
        if source.file is not None:
            try:
                values[variable] = source.file.read_text().rstrip("\r\n")
            except OSError as exc:
                raise StrongroomError(f"{where}: cannot read {source.file}: "
                                      f"{exc.strerror}") from None
        elif source.env is not None:
            if not os.environ.get(source.env):
                raise StrongroomError(f"{where}: environment variable {source.env} is not set")
            values[variable] = os.environ[source.env]
        else:
            assert source.command is not None
            argv = shlex.split(source.command) if isinstance(source.command, str) \
                else list(source.command)
            try:
                values[variable] = run(argv, timeout=120).stdout.rstrip("\r\n")
            except CommandError as exc:
                raise StrongroomError(f"{where}: its command failed (exit "
                                      f"{exc.returncode})") from None
        if not values[variable]:
            raise StrongroomError(f"{where}: the secret is empty")
    return values
