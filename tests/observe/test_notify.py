"""Notification payloads, who is told what, the schema of [[notify]], and the dispatcher's
deadline."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from orchestrator.observe.notify import Dispatcher, addressed, http_request
from orchestrator.observe.notify.payloads import RunEvent, email_message
from orchestrator.profile.observe import Notifier
from orchestrator.run.redact import redact_url

NOTIFIER: TypeAdapter[Notifier] = TypeAdapter(Notifier)


def event(kind: str = "failure") -> RunEvent:
    return RunEvent(event=kind, profile="site", host="box", job="nightly", schedule="nightly",
                    tool="create-backup", started="2026-12-01T03:00:00+00:00", set="nightly-x",
                    duration_seconds=2.5, error="restic: boom" if kind == "failure" else None,
                    log_tail=["line 1", "line 2"])


def test_webhook_body_follows_the_schema() -> None:
    notifier = NOTIFIER.validate_python({"kind": "webhook", "url": "https://h.example/x",
                                         "headers": {"X-Team": "ops"}})
    request = http_request(notifier, 0, event())
    body = json.loads(request.body)
    assert body["version"] == 1 and body["event"] == "failure" and body["job"] == "nightly"
    assert body["error"] == "restic: boom" and body["log_tail"] == ["line 1", "line 2"]
    assert set(body) == {"version", "event", "profile", "host", "job", "schedule", "tool",
                         "started", "set", "finished", "duration_seconds", "bytes",
                         "bytes_added", "error", "log_tail"}
    assert request.headers == {"Content-Type": "application/json", "X-Team": "ops"}


def test_ntfy_and_healthchecks_forms(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("tk_secret\n")
    ntfy = NOTIFIER.validate_python({"kind": "ntfy", "url": "https://ntfy.example/topic",
                                     "token": {"file": str(token)}})
    request = http_request(ntfy, 0, event())
    assert request.headers["Priority"] == "high" and request.headers["Tags"] == "rotating_light"
    assert request.headers["Authorization"] == "Bearer tk_secret"
    assert "FAILED" in request.headers["Title"] and b"line 2" in request.body
    assert http_request(ntfy, 0, event("success")).headers["Priority"] == "default"

    checks = NOTIFIER.validate_python({"kind": "healthchecks", "url": "https://hc.example/u/"})
    assert checks.on == ["start", "success", "failure", "warning"]
    urls = {kind: http_request(checks, 0, event(kind)).url
            for kind in ("start", "success", "failure", "warning")}
    assert urls == {"start": "https://hc.example/u/start", "success": "https://hc.example/u",
                    "failure": "https://hc.example/u/fail", "warning": "https://hc.example/u"}
    assert b"line 1" in http_request(checks, 0, event()).body


def test_who_is_told_what() -> None:
    failures = NOTIFIER.validate_python({"kind": "webhook", "url": "http://h/x"})
    assert failures.on == ["failure", "warning"]
    successes = NOTIFIER.validate_python({"kind": "webhook", "url": "http://h/x",
                                          "on": ["success"]})
    assert addressed(failures, event("start")) is None
    assert addressed(failures, event("warning")).event == "warning"
    told = addressed(successes, event("warning"))
    assert told is not None and told.event == "success"
    assert addressed(successes, event("failure")) is None


def test_email_message() -> None:
    mail = NOTIFIER.validate_python({"kind": "email", "smtp_host": "mail.example",
                                     "from": "backup@example.org", "to": ["ops@example.org"]})
    message = email_message(mail, event())
    assert message["To"] == "ops@example.org" and "FAILED" in message["Subject"]
    assert "restic: boom" in message.get_content()


@pytest.mark.parametrize("table, problem", [
    ({"kind": "pager", "url": "http://h"}, "kind"),
    ({"kind": "webhook", "url": "ftp://h/x"}, "http"),
    ({"kind": "webhook", "url": "http://h", "colour": "red"}, "Extra inputs"),
    ({"kind": "ntfy", "url": "http://h", "on": ["sometimes"]}, "on"),
    ({"kind": "ntfy", "url": "http://h", "timeout": "1h"}, "between"),
    ({"kind": "email", "smtp_host": "mail.example", "from": "a@b.c", "to": ["d@e.f"],
      "starttls": False}, "only allowed"),
    ({"kind": "email", "smtp_host": "m", "from": "a@b.c", "to": ["d@e.f"],
      "username": "u"}, "go together"),
    ({"kind": "webhook", "url": "http://h", "headers": {"X": {"file": "a", "env": "B"}}},
     "exactly one"),
    ({"kind": "apprise", "urls": []}, "at least 1"),
])
def test_bad_notify_tables_are_refused(table: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        NOTIFIER.validate_python(table)


def test_urls_in_logs_keep_scheme_and_host_only() -> None:
    assert redact_url("https://hc-ping.com/5f1c-uuid") == "https://hc-ping.com/***"
    assert redact_url("https://user:pw@ntfy.example:8443/t?auth=x") == "https://ntfy.example:8443/***"
    assert redact_url("https://example.org") == "https://example.org"
    assert redact_url("not a url") == "***"


def test_an_unreachable_receiver_is_counted_within_its_deadline() -> None:
    import socket

    with socket.socket() as holder:  # a port nothing answers on: bound, never listening
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        notifier = NOTIFIER.validate_python({"kind": "webhook",
                                             "url": f"http://127.0.0.1:{port}/hook/secret",
                                             "timeout": "2s", "retries": 1})
        dispatcher = Dispatcher([notifier])
        clock = time.monotonic()
        dispatcher.send(event())
        assert dispatcher.wait() == ["webhook"]
        assert time.monotonic() - clock < 2.5


def test_relative_paths_are_relative_to_the_profile(tmp_path: Path) -> None:
    from orchestrator.profile.load import load_profile
    from orchestrator.profile.observe import AppriseNotify, EmailNotify

    profile = tmp_path / "conf" / "site.toml"
    profile.parent.mkdir()
    profile.write_text("""
[repositories.local]
url = "repo"
password_file = "repo.pass"

[metrics]
textfile_dir = "prom"

[[notify]]
kind = "email"
smtp_host = "mail.example"
ca_file = "ca.pem"
username = "u"
password = { file = "mail.pass" }
from = "a@b.c"
to = ["d@e.f"]

[[notify]]
kind = "apprise"
urls = ["json://localhost/", { file = "apprise.url" }]
""")
    loaded = load_profile(profile)
    folder = profile.parent
    assert loaded.metrics.textfile_dir == folder / "prom"
    mail, apprise = loaded.notify
    assert isinstance(mail, EmailNotify) and isinstance(apprise, AppriseNotify)
    assert mail.ca_file == folder / "ca.pem" and mail.password is not None
    assert mail.password.file == folder / "mail.pass"
    assert apprise.urls[0] == "json://localhost/"
    assert not isinstance(apprise.urls[1], str) and apprise.urls[1].file == folder / "apprise.url"
