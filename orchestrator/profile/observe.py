"""The profile's monitoring tables: `[metrics]` and the `[[notify]]` list.

Each `[[notify]]` entry is one receiver, told of the events named in its `on`:

    [[notify]]
    kind = "webhook" | "ntfy" | "healthchecks" | "email" | "apprise"
    on = ["failure", "warning"]        # start, success, failure, warning
    timeout = "10s"                    # the whole budget of one message, retries included
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from orchestrator.profile.base import SecretSource, Strict
from orchestrator.profile.timespan import parse_timespan

Event = Literal["start", "success", "failure", "warning"]
EVENTS: tuple[Event, ...] = ("start", "success", "failure", "warning")
DEFAULT_EVENTS: tuple[Event, ...] = ("failure", "warning")
MAX_TIMEOUT = 300
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


class MetricsSettings(Strict):
    """Prometheus metrics: with textfile_dir, every run rewrites <dir>/strongroom-<profile>.prom
    for node_exporter's textfile collector."""

    textfile_dir: Path | None = Field(default=None, description="node_exporter's textfile "
                                      "collector folder")


class NotifyBase(Strict):
    on: list[Event] = Field(default_factory=lambda: list(DEFAULT_EVENTS), min_length=1)
    timeout: str = Field(default="10s", description="the most one message may take, retries "
                         "included; a run never waits longer for it")
    retries: int = Field(default=2, ge=0, le=5)

    @field_validator("timeout")
    @classmethod
    def bounded_timeout(cls, value: str) -> str:
        seconds = parse_timespan(value)
        if not 1 <= seconds <= MAX_TIMEOUT:
            raise ValueError(f"timeout must be between 1s and {MAX_TIMEOUT}s")
        return value

    @property
    def timeout_seconds(self) -> float:
        return float(parse_timespan(self.timeout))


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


class WebhookNotify(NotifyBase):
    """POST of the event as JSON (the schema in the README's Monitoring chapter)."""

    kind: Literal["webhook"]
    url: str
    headers: dict[str, str | SecretSource] = Field(
        default_factory=dict, description="extra headers; secret ones as { file = … }")

    _url = field_validator("url")(_http_url)


class NtfyNotify(NotifyBase):
    """A message to an ntfy topic: url = "https://ntfy.sh/my-topic"."""

    kind: Literal["ntfy"]
    url: str
    token: SecretSource | None = Field(default=None, description="access token (Bearer)")
    priority: Literal["min", "low", "default", "high", "urgent"] | None = Field(
        default=None, description="default: high for failures, default otherwise")

    _url = field_validator("url")(_http_url)


class HealthchecksNotify(NotifyBase):
    """Healthchecks-style pings: <url>/start, <url> on success, <url>/fail with the log tail."""

    kind: Literal["healthchecks"]
    url: str
    on: list[Event] = Field(default_factory=lambda: list(EVENTS), min_length=1)

    _url = field_validator("url")(_http_url)


class EmailNotify(NotifyBase):
    """A mail over SMTP; STARTTLS unless starttls = false (then only to localhost)."""

    kind: Literal["email"]
    smtp_host: str
    smtp_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    ca_file: Path | None = Field(default=None, description="CA bundle the server's "
                                 "certificate must chain to (default: the system's)")
    username: str | None = None
    password: SecretSource | None = None
    sender: str = Field(alias="from", min_length=3)
    to: list[Annotated[str, Field(min_length=3)]] = Field(min_length=1)

    @model_validator(mode="after")
    def safe_login(self) -> EmailNotify:
        if (self.password is None) != (self.username is None):
            raise ValueError("username and password go together")
        if not self.starttls and self.smtp_host not in LOCAL_HOSTS:
            raise ValueError("starttls = false is only allowed for a mail server on this host "
                             f"({', '.join(LOCAL_HOSTS)})")
        return self


class AppriseNotify(NotifyBase):
    """Any service Apprise knows (Slack, Matrix, Telegram, …) by its Apprise URLs; needs the
    optional `apprise` extra. URLs hold their service's secrets: give them from a file,
    command or variable."""

    kind: Literal["apprise"]
    urls: list[str | SecretSource] = Field(min_length=1)


Notifier = Annotated[WebhookNotify | NtfyNotify | HealthchecksNotify | EmailNotify |
                     AppriseNotify, Field(discriminator="kind")]


def resolve_observe_paths(metrics: MetricsSettings, notifiers: list[Notifier],
                          fix: Callable[[Path, tuple[str | int, ...]], Path]) -> None:
    """Relative paths of these tables made absolute by `fix` (profile/load.py's rule)."""
    if metrics.textfile_dir is not None:
        metrics.textfile_dir = fix(metrics.textfile_dir, ("metrics", "textfile_dir"))
    for index, notifier in enumerate(notifiers):
        key: tuple[str | int, ...] = ("notify", index)
        secrets: list[tuple[str, SecretSource | str | None]] = []
        if isinstance(notifier, WebhookNotify):
            secrets = [(f"headers.{name}", item) for name, item in notifier.headers.items()]
        elif isinstance(notifier, NtfyNotify):
            secrets = [("token", notifier.token)]
        elif isinstance(notifier, AppriseNotify):
            secrets = [(f"urls.{number}", item) for number, item in enumerate(notifier.urls)]
        elif isinstance(notifier, EmailNotify):
            secrets = [("password", notifier.password)]
            if notifier.ca_file is not None:
                notifier.ca_file = fix(notifier.ca_file, key + ("ca_file",))
        for name, source in secrets:
            if isinstance(source, SecretSource) and source.file is not None:
                parts = [int(part) if part.isdigit() else part for part in name.split(".")]
                source.file = fix(source.file, key + (*parts, "file"))
