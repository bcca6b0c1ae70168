"""[[notify]] receivers told of real runs: webhook, ntfy and Healthchecks forms on a
local HTTP receiver, a mail through an SMTP server with STARTTLS and a login
(aiosmtpd), and a receiver that never answers holding the run up no longer than its
timeout."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from integration.conftest import Site
from integration.servers import free_port


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int
    requests: list[Received] = field(default_factory=list)

    def under(self, prefix: str) -> list[Received]:
        return [item for item in self.requests if item.path.startswith(prefix)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            found.requests.append(Received("POST", self.path, dict(self.headers.items()), body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    found.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def add_notify(site: Site, tables: str) -> None:
    site.profile.write_text(site.profile.read_text() + tables)


def fail_a_run(site: Site) -> str:
    """A scheduled run whose repository has gone; its stderr."""
    moved = site.root / "moved-away"
    site.repository.rename(moved)
    try:
        result = site.run("create-backup", "--schedule", "nightly", check=False)
    finally:
        moved.rename(site.repository)
    assert result.returncode != 0
    return result.stderr


def test_webhook_ntfy_and_healthchecks_are_told(site: Site, receiver: Receiver) -> None:
    token = site.root / "ntfy.token"
    token.write_text("tk_0123456789\n")
    base = f"http://127.0.0.1:{receiver.port}"
    add_notify(site, f"""
[[notify]]
kind = "webhook"
url = "{base}/hook/s3cr3t-path"
on = ["start", "success", "failure", "warning"]

[[notify]]
kind = "ntfy"
url = "{base}/ntfy/backups"
on = ["start", "success", "failure"]
token = {{ file = "{token}" }}

[[notify]]
kind = "healthchecks"
url = "{base}/ping/6f1c0a"
""")
    made = site.run("create-backup", "--schedule", "nightly", "--json").json()
    hooks = [json.loads(item.body) for item in receiver.under("/hook/")]
    assert [item["event"] for item in hooks] == ["start", "success"]
    start, success = hooks
    assert start["version"] == 1 and start["profile"] == "site" and start["job"] == "nightly"
    assert start["schedule"] == "nightly" and start["tool"] == "create-backup"
    assert start["set"] is None and start["finished"] is None
    assert success["set"] == made["set"] and success["bytes_added"] == made["bytes_added"]
    assert success["bytes"] == made["bytes"] and success["error"] is None
    assert success["started"] == start["started"] and success["duration_seconds"] >= 0
    assert all(item.headers["Content-Type"] == "application/json"
               for item in receiver.under("/hook/"))

    ntfy = receiver.under("/ntfy/backups")
    assert [item.headers["Tags"] for item in ntfy] == ["arrow_forward", "white_check_mark"]
    assert all(item.headers["Authorization"] == "Bearer tk_0123456789" for item in ntfy)
    assert "succeeded" in ntfy[1].headers["Title"] and made["set"].encode() in ntfy[1].body
    pings = [item.path for item in receiver.under("/ping/")]
    assert pings == ["/ping/6f1c0a/start", "/ping/6f1c0a"]

    receiver.requests.clear()
    stderr = fail_a_run(site)
    hooks = [json.loads(item.body) for item in receiver.under("/hook/")]
    assert [item["event"] for item in hooks] == ["start", "failure"]
    failure = hooks[1]
    assert "no restic repository" in failure["error"] and failure["set"] is None
    assert failure["bytes"] is None and failure["log_tail"] is not None
    ntfy = receiver.under("/ntfy/")
    assert ntfy[-1].headers["Priority"] == "high" and b"no restic repository" in ntfy[-1].body
    pings = receiver.under("/ping/")
    assert [item.path for item in pings] == ["/ping/6f1c0a/start", "/ping/6f1c0a/fail"]
    assert b"FAILED" in pings[1].body and b"error: no restic repository" in pings[1].body
    assert "s3cr3t" not in stderr and "tk_0123456789" not in stderr


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_failure_mail_over_starttls_with_login(site: Site, tls_files: tuple[Path, Path]) -> None:
    pytest.importorskip("aiosmtpd", reason="aiosmtpd is a dev dependency")
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert_file, key_file = tls_files
    mails: list[tuple[str, list[str], bytes]] = []
    logins: list[tuple[bytes, bytes]] = []

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))  # type: ignore[attr-defined]
            return "250 OK"

    def authenticator(server: object, session: object, envelope: object, mechanism: str,
                      data: object) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.login == b"backup" and data.password == b"m4il-pass")

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, authenticator=authenticator,
                            auth_require_tls=True)
    controller.start()
    try:
        password = site.root / "mail.pass"
        password.write_text("m4il-pass\n")
        add_notify(site, f"""
[[notify]]
kind = "email"
on = ["failure"]
smtp_host = "127.0.0.1"
smtp_port = {port}
ca_file = "{cert_file}"
username = "backup"
password = {{ file = "{password}" }}
from = "strongroom@example.org"
to = ["ops@example.org", "oncall@example.org"]
""")
        site.run("create-backup", "--schedule", "nightly")
        assert mails == []  # only failures are mailed
        fail_a_run(site)
    finally:
        controller.stop()
    assert logins == [(b"backup", b"m4il-pass")]
    assert len(mails) == 1
    sender, recipients, content = mails[0]
    assert sender == "strongroom@example.org"
    assert recipients == ["ops@example.org", "oncall@example.org"]
    text = content.decode()
    assert "Subject: [strongroom] strongroom site/nightly on" in text and "FAILED" in text
    assert "error: no restic repository" in text


def test_a_hanging_receiver_delays_the_run_at_most_its_timeout(site: Site) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_hang() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])  # read nothing, answer nothing
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept_and_hang, daemon=True)
    thread.start()
    try:
        clock = time.monotonic()
        site.run("create-backup", "--schedule", "nightly")
        plain = time.monotonic() - clock
        add_notify(site, f"""
[[notify]]
kind = "webhook"
url = "http://127.0.0.1:{listener.getsockname()[1]}/hook/hidden-token"
on = ["start", "success", "warning"]
timeout = "3s"
""")
        clock = time.monotonic()
        hung = site.run("create-backup", "--schedule", "nightly")
        waited = time.monotonic() - clock
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()
    assert len(held) >= 2  # the start and the end message both reached it
    assert waited - plain < 3 + 2.5, (plain, waited)
    assert "not delivered" in hung.stderr and "hidden-token" not in hung.stderr
    status = site.run("status", "--json", "--no-probe", check=False).json()
    assert status["notify_failures"] == {"webhook": 2}
    assert status["schedules"][0]["last_status"] == "complete"


def test_apprise_urls_from_a_file(site: Site, receiver: Receiver) -> None:
    pytest.importorskip("apprise", reason="apprise is the optional extra (a dev dependency)")
    url_file = site.root / "apprise.url"
    url_file.write_text(f"json://127.0.0.1:{receiver.port}/apprise/t0ken\n")
    add_notify(site, f"""
[[notify]]
kind = "apprise"
on = ["failure"]
urls = [{{ file = "{url_file}" }}]
""")
    stderr = fail_a_run(site)
    sent = [json.loads(item.body) for item in receiver.under("/apprise/")]
    assert len(sent) == 1 and sent[0]["type"] == "failure"
    assert "FAILED" in sent[0]["title"] and "no restic repository" in sent[0]["message"]
    assert "t0ken" not in stderr
