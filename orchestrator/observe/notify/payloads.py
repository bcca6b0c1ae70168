"""What each kind of receiver is sent for an event: pure functions, no network.

The webhook body (schema version 1) is the event itself as JSON:

    {"version": 1, "event": "start|success|failure|warning", "profile": str,
     "host": str, "job": str, "schedule": str|null, "tool": str, "set": str|null,
     "started": ISO time, "finished": ISO time|null, "duration_seconds": float|null,
     "bytes": int|null, "bytes_added": int|null, "error": str|null,
     "log_tail": [str, …]}
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from orchestrator.profile.observe import EmailNotify, Event, HealthchecksNotify, NtfyNotify

if TYPE_CHECKING:
    from email.message import EmailMessage

SCHEMA_VERSION = 1
LOG_TAIL_LINES = 40
HEALTHCHECKS_BODY_LIMIT = 10_000  # Healthchecks keeps the first 10 kB of a ping body


@dataclass
class RunEvent:
    event: Event
    profile: str
    host: str
    job: str
    schedule: str | None
    tool: str
    started: str
    set: str | None = None
    finished: str | None = None
    duration_seconds: float | None = None
    bytes: int | None = None
    bytes_added: int | None = None
    error: str | None = None
    log_tail: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"version": SCHEMA_VERSION, **asdict(self)}


@dataclass(frozen=True)
class HttpRequest:
    url: str
    body: bytes
    headers: dict[str, str]
    method: str = "POST"


def title(event: RunEvent) -> str:
    what = {"start": "started", "success": "succeeded", "failure": "FAILED",
            "warning": "succeeded with warnings"}[event.event]
    return f"strongroom {event.profile}/{event.job} on {event.host}: {what}"


def summary(event: RunEvent) -> str:
    lines = [title(event)]
    if event.set:
        lines.append(f"set: {event.set}")
    lines.append(f"started: {event.started}")
    if event.duration_seconds is not None:
        lines.append(f"duration: {event.duration_seconds:.1f} s")
    if event.bytes is not None:
        lines.append(f"bytes: {event.bytes} ({event.bytes_added or 0} added)")
    if event.error:
        lines.append(f"error: {event.error}")
    return "\n".join(lines)


def with_log(event: RunEvent) -> str:
    tail = event.log_tail[-LOG_TAIL_LINES:]
    return summary(event) + ("\n\nlog (last lines):\n" + "\n".join(tail) if tail else "")


def webhook_request(url: str, event: RunEvent, headers: dict[str, str]) -> HttpRequest:
    return HttpRequest(url, json.dumps(event.as_json()).encode(),
                       {"Content-Type": "application/json", **headers})


def ntfy_request(notifier: NtfyNotify, event: RunEvent, token: str | None) -> HttpRequest:
    priority = notifier.priority or ("high" if event.event == "failure" else "default")
    tags = {"start": "arrow_forward", "success": "white_check_mark", "failure": "rotating_light",
            "warning": "warning"}[event.event]
    headers = {"Title": title(event), "Priority": priority, "Tags": tags,
               "Content-Type": "text/plain; charset=utf-8"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = with_log(event) if event.event in ("failure", "warning") else summary(event)
    return HttpRequest(notifier.url, body.encode(), headers)


def healthchecks_request(notifier: HealthchecksNotify, event: RunEvent) -> HttpRequest:
    """/start, the bare URL for success (and for a run with warnings: it did succeed),
    /fail with the log tail."""
    base = notifier.url.rstrip("/")
    suffix = {"start": "/start", "success": "", "warning": "", "failure": "/fail"}[event.event]
    body = summary(event) if event.event == "start" else with_log(event)
    return HttpRequest(base + suffix, body.encode()[:HEALTHCHECKS_BODY_LIMIT],
                       {"Content-Type": "text/plain; charset=utf-8"})


def email_message(notifier: EmailNotify, event: RunEvent) -> EmailMessage:
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = f"[strongroom] {title(event)}"
    message["From"] = notifier.sender
    message["To"] = ", ".join(notifier.to)
    message.set_content(with_log(event) + "\n")
    return message
