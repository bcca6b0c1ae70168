"""Sending one message: HTTP POST (urllib) or SMTP mail, each within its time budget.

A deadline bounds the whole delivery, retries included; a failure is returned as
text for the log (never raised), with URLs reduced to scheme and host.
"""

from __future__ import annotations

import os
import shlex
import smtplib
import ssl
import time
import urllib.error
import urllib.request

from orchestrator.errors import StrongroomError
from orchestrator.observe.notify.payloads import (
    HttpRequest,
    RunEvent,
    email_message,
    summary,
    title,
    with_log,
)
from orchestrator.profile.base import SecretSource
from orchestrator.profile.observe import EmailNotify
from orchestrator.run.redact import redact_url

RETRY_PAUSE = 1.0
MIN_ATTEMPT = 0.5


def read_secret(source: SecretSource, where: str) -> str:
    """A secret from its file, command or environment variable."""
    if source.file is not None:
        try:
            value = source.file.read_text().rstrip("\r\n")
        except OSError as exc:
            raise StrongroomError(f"{where}: cannot read {source.file}: {exc.strerror}") from None
    elif source.env is not None:
        value = os.environ.get(source.env, "")
    else:
        from orchestrator.run import CommandError, run

        assert source.command is not None
        argv = shlex.split(source.command) if isinstance(source.command, str) \
            else list(source.command)
        try:
            value = run(argv, timeout=60).stdout.rstrip("\r\n")
        except CommandError as exc:
            raise StrongroomError(f"{where}: its command failed (exit {exc.returncode})") \
                from None
    if not value:
        raise StrongroomError(f"{where}: the secret is empty")
    return value


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """A receiver answers; it does not send the event (and its secrets) on elsewhere."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


OPENER = urllib.request.build_opener(NoRedirects)


def send_http(request: HttpRequest, deadline: float, retries: int) -> str | None:
    """POST until a 2xx answer, at most 1 + retries attempts, never past the deadline.
    None when delivered, else why not."""
    problem = "no attempt made"
    for attempt in range(retries + 1):
        left = deadline - time.monotonic()
        if left < MIN_ATTEMPT:
            break
        prepared = urllib.request.Request(request.url, data=request.body,
                                          headers=request.headers, method=request.method)
        try:
            with OPENER.open(prepared, timeout=left) as answer:
                answer.read(65536)
                return None
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}"
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                break  # the receiver refuses this message: sending it again will not help
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            problem = str(reason) or type(exc).__name__
        if attempt < retries:
            time.sleep(max(0.0, min(RETRY_PAUSE * (attempt + 1),
                                    deadline - time.monotonic() - MIN_ATTEMPT)))
    return f"{redact_url(request.url)}: {problem}"


def send_email(notifier: EmailNotify, event: RunEvent, password: str | None, deadline: float,
               retries: int) -> str | None:
    message = email_message(notifier, event)
    where = f"smtp://{notifier.smtp_host}:{notifier.smtp_port}"
    problem = "no attempt made"
    for attempt in range(retries + 1):
        left = deadline - time.monotonic()
        if left < MIN_ATTEMPT:
            break
        try:
            with smtplib.SMTP(notifier.smtp_host, notifier.smtp_port, timeout=left) as smtp:
                smtp.ehlo()
                if notifier.starttls:
                    context = ssl.create_default_context(
                        cafile=str(notifier.ca_file) if notifier.ca_file else None)
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if notifier.username is not None and password is not None:
                    smtp.login(notifier.username, password)
                smtp.send_message(message)
            return None
        except smtplib.SMTPAuthenticationError as exc:
            return f"{where}: login refused ({exc.smtp_code})"
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            problem = str(exc) or type(exc).__name__
        if attempt < retries:
            time.sleep(max(0.0, min(RETRY_PAUSE * (attempt + 1),
                                    deadline - time.monotonic() - MIN_ATTEMPT)))
    return f"{where}: {problem}"


APPRISE_TYPES = {"start": "info", "success": "success", "failure": "failure",
                 "warning": "warning"}


def send_apprise(urls: list[str], event: RunEvent, deadline: float,
                 retries: int) -> str | None:
    """Through the optional apprise library; its URLs are never shown (they hold secrets)."""
    try:
        import apprise  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return "apprise is not installed (pip install 'strongroom[apprise]')"
    sender = apprise.Apprise()
    for number, url in enumerate(urls):
        if not sender.add(url):
            return f"apprise URL #{number + 1} is not one apprise understands"
    body = with_log(event) if event.event in ("failure", "warning") else summary(event)
    for attempt in range(retries + 1):
        if deadline - time.monotonic() < MIN_ATTEMPT:
            break
        if sender.notify(body=body, title=title(event),
                         notify_type=APPRISE_TYPES[event.event]):
            return None
        if attempt < retries:
            time.sleep(max(0.0, min(RETRY_PAUSE * (attempt + 1),
                                    deadline - time.monotonic() - MIN_ATTEMPT)))
    return f"apprise: not every one of its {len(urls)} URL(s) took the message"
