"""Telling the profile's `[[notify]]` receivers about a run: webhook, ntfy, Healthchecks
pings, email, and Apprise URLs (optional extra).

Every message is sent from its own daemon thread with a deadline (the receiver's
`timeout`, retries included): a run goes on while its start message is under way,
and at its end waits for its messages at most until their deadlines. A message
that fails or is late is logged (URL reduced to scheme and host) and counted; it
never fails the run.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from orchestrator.errors import StrongroomError
from orchestrator.observe.notify.payloads import (
    HttpRequest,
    RunEvent,
    healthchecks_request,
    ntfy_request,
    webhook_request,
)
from orchestrator.profile.base import SecretSource
from orchestrator.profile.observe import (
    AppriseNotify,
    EmailNotify,
    HealthchecksNotify,
    Notifier,
    NtfyNotify,
    WebhookNotify,
)

log = logging.getLogger("strongroom.observe")  # not a warning of the run itself


def addressed(notifier: Notifier, event: RunEvent) -> RunEvent | None:
    """The event as this receiver is told it, or None. A run that succeeded with warnings
    is a warning to receivers that asked for warnings, else a success to those that
    asked for successes."""
    if event.event in notifier.on:
        return event
    if event.event == "warning" and "success" in notifier.on:
        return dataclasses.replace(event, event="success")
    return None


def http_request(notifier: Notifier, index: int, event: RunEvent) -> HttpRequest:
    from orchestrator.observe.notify.senders import read_secret

    where = f"[[notify]] #{index + 1} ({notifier.kind})"
    if isinstance(notifier, WebhookNotify):
        headers = {name: value if isinstance(value, str) else read_secret(value, where)
                   for name, value in notifier.headers.items()}
        return webhook_request(notifier.url, event, headers)
    if isinstance(notifier, NtfyNotify):
        token = read_secret(notifier.token, where) if notifier.token else None
        return ntfy_request(notifier, event, token)
    assert isinstance(notifier, HealthchecksNotify)
    return healthchecks_request(notifier, event)


def deliver(notifier: Notifier, index: int, event: RunEvent, deadline: float) -> str | None:
    """Send one message; None when it arrived, else why not."""
    # urllib, smtplib and ssl only when a message goes out, not at every command's start
    from orchestrator.observe.notify.senders import (
        read_secret,
        send_apprise,
        send_email,
        send_http,
    )

    try:
        if isinstance(notifier, AppriseNotify):
            where = f"[[notify]] #{index + 1} (apprise)"
            urls = [url if isinstance(url, str) else read_secret(url, where)
                    for url in notifier.urls]
            return send_apprise(urls, event, deadline, notifier.retries)
        if isinstance(notifier, EmailNotify):
            password: SecretSource | None = notifier.password
            secret = read_secret(password, f"[[notify]] #{index + 1} (email)") \
                if password else None
            return send_email(notifier, event, secret, deadline, notifier.retries)
        return send_http(http_request(notifier, index, event), deadline, notifier.retries)
    except StrongroomError as exc:
        return exc.message
    except Exception as exc:  # noqa: BLE001 - a receiver must never fail the run
        return f"{type(exc).__name__}: {exc}"


@dataclass
class Delivery:
    kind: str
    event: str
    deadline: float
    thread: threading.Thread | None = None
    problem: str | None = None
    settled: bool = False


class Dispatcher:
    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        self.notifiers = list(notifiers)
        self.pending: list[Delivery] = []
        self.failed: list[str] = []  # the kinds of the messages that did not arrive
        self.lock = threading.Lock()

    def send(self, event: RunEvent) -> None:
        for index, notifier in enumerate(self.notifiers):
            told = addressed(notifier, event)
            if told is None:
                continue
            delivery = Delivery(notifier.kind, told.event,
                                time.monotonic() + notifier.timeout_seconds)
            delivery.thread = threading.Thread(
                target=self._run, args=(notifier, index, told, delivery),
                name=f"notify-{notifier.kind}", daemon=True)
            self.pending.append(delivery)
            delivery.thread.start()

    def _run(self, notifier: Notifier, index: int, event: RunEvent,
             delivery: Delivery) -> None:
        problem = deliver(notifier, index, event, delivery.deadline)
        with self.lock:
            if not delivery.settled:
                delivery.problem, delivery.settled = problem, True
                self._settle(delivery)

    def _settle(self, delivery: Delivery) -> None:
        if delivery.problem is None:
            log.info("notify %s: %s sent", delivery.kind, delivery.event)
            return
        log.warning("notify %s: the %s message was not delivered: %s", delivery.kind,
                    delivery.event, delivery.problem)
        self.failed.append(delivery.kind)

    def wait(self) -> list[str]:
        """Wait for the messages sent so far, each at most until its deadline; the kinds
        of those that failed or are late (each counted once)."""
        for delivery in self.pending:
            if delivery.thread is not None:
                delivery.thread.join(max(0.0, delivery.deadline - time.monotonic()))
            with self.lock:
                if not delivery.settled:
                    delivery.problem = "no answer within its timeout"
                    delivery.settled = True
                    self._settle(delivery)
        self.pending = []
        failed, self.failed = self.failed, []
        return failed
