"""The built-in notifiers: SMTPNotifier against a real SMTP server (aiosmtpd on 127.0.0.1,
plain, STARTTLS and implicit TLS with a certificate made here, AUTH LOGIN and PLAIN), and
ConsoleNotifier. Every network step has a short timeout, so a failure is quick."""

from __future__ import annotations

import datetime
import email
import io
import ipaddress
import logging
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

pytest.importorskip("aiosmtpd")
pytest.importorskip("cryptography")

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import restauth.notify.console as console_module
from restauth.errors import ConfigError, RestauthError
from restauth.notify.console import ConsoleNotifier
from restauth.notify.smtp import (
    SETTINGS_KEYS,
    NotificationFailed,
    SMTPNotifier,
    store_recipient,
    userid_address,
)
from restauth.users.base import User

TOKEN = "Tok3n-s3cret_xyz-0123456789abcdefABCDEF"
PASSWORD = "smtp-Pa55word-never-shown"
SENDER = "Example App <noreply@example.org>"
RESET_URL = "https://app.example/reset#token={token}"
ADDRESSES = {
    "alice": "alice@example.org",
    "jürgen": "juergen@example.org",
    "zoë": "zoë@exämple.org",  # needs SMTPUTF8
}
TIMEOUT = 2.0


# A certificate for 127.0.0.1, made once for the module.


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A context trusting this certificate only, checking the host name as usual (and
        strictly, as Python 3.13's default context does)."""
        context = ssl.create_default_context(cafile=str(self.cert))
        context.verify_flags |= ssl.VERIFY_X509_STRICT
        return context


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    directory = tmp_path_factory.mktemp("smtp-tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "restauth test SMTP")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificate(cert_path, key_path)


# A real SMTP server on 127.0.0.1 that keeps what it is given.


@dataclass
class Received:
    envelope: Any
    tls: bool
    authenticated: bool

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def body(self) -> str:
        """The decoded text, with the wire's CRLF line ends as \\n."""
        content = self.message.get_content()
        assert isinstance(content, str)
        return content.replace("\r\n", "\n")


@dataclass
class Collector:
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(Received(envelope, session.ssl is not None, session.authenticated))
        return "250 OK"


@dataclass
class Authenticator:
    """Accepts ``mailer`` with PASSWORD; remembers every attempt's mechanism."""

    attempts: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        self.attempts.append((mechanism, auth_data.login, auth_data.password))
        ok = auth_data.login == b"mailer" and auth_data.password == PASSWORD.encode()
        return AuthResult(success=ok, handled=False)


@dataclass
class Server:
    port: int
    received: list[Received]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def start_server() -> Iterator[Callable[..., Server]]:
    controllers: list[Controller] = []

    def start(handler: Collector | None = None, **settings: Any) -> Server:
        handler = handler or Collector()
        controller = Controller(
            handler, hostname="127.0.0.1", port=free_port(), ready_timeout=5, **settings
        )
        controller.start()
        controllers.append(controller)
        return Server(controller.port, handler.received)

    yield start
    for controller in controllers:
        controller.stop()


def notifier(port: int, **settings: Any) -> SMTPNotifier:
    defaults: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": SENDER,
        "starttls": False,
        "timeout": TIMEOUT,
        "recipient": ADDRESSES.get,
        "reset_url": RESET_URL,
        "local_hostname": "client.test",
    }
    return SMTPNotifier(**{**defaults, **settings})


def assert_no_secret(error: BaseException) -> None:
    for text in (str(error), repr(error), *map(str, error.args)):
        assert TOKEN not in text
        assert PASSWORD not in text
    assert error.__cause__ is None
    # the smtplib error (and its text) is not chained, so a logged traceback lacks it too
    assert error.__context__ is None or error.__suppress_context__


# Delivery in clear (a trusted local relay).


def test_a_plain_message_is_delivered(start_server: Callable[..., Server]) -> None:
    server = start_server()
    notifier(server.port)("alice", "password-reset", TOKEN)
    [received] = server.received
    assert received.envelope.mail_from == "noreply@example.org"
    assert received.envelope.rcpt_tos == ["alice@example.org"]
    message = received.message
    assert message["To"] == "alice@example.org"
    assert message["From"] == SENDER
    assert message["Subject"] == "Reset your password"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"]
    assert message["Message-ID"].endswith("@example.org>")
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    body = received.body
    assert f"https://app.example/reset#token={TOKEN}" in body
    assert "alice" in body
    assert not received.tls


def test_verify_messages_use_their_own_link_and_subject(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()
    send = notifier(server.port, verify_url="https://app.example/verify?t={token}&u={userid}")
    send("alice", "verify", TOKEN)
    [received] = server.received
    assert received.message["Subject"] == "Confirm your e-mail address"
    assert f"https://app.example/verify?t={TOKEN}&u=alice" in received.body


def test_without_a_link_the_body_holds_the_code(start_server: Callable[..., Server]) -> None:
    server = start_server()
    notifier(server.port, reset_url=None)("alice", "password-reset", TOKEN)
    body = server.received[0].body
    assert "enter this code" in body
    assert f"\n{TOKEN}\n" in body


def test_custom_subjects_and_bodies(start_server: Callable[..., Server]) -> None:
    server = start_server()
    send = notifier(
        server.port,
        subject_reset="{userid}: new password",
        body_reset="Hi {userid}, go to {link} (code {token}).\n",
    )
    send("alice", "password-reset", TOKEN)
    [received] = server.received
    assert received.message["Subject"] == "alice: new password"
    assert received.body == (
        f"Hi alice, go to https://app.example/reset#token={TOKEN} (code {TOKEN}).\n"
    )


def test_a_non_ascii_userid(start_server: Callable[..., Server]) -> None:
    server = start_server()
    send = notifier(
        server.port,
        subject_reset="Neues Passwort für {userid}",
        reset_url="https://app.example/reset?u={userid}#token={token}",
    )
    send("jürgen", "password-reset", TOKEN)
    [received] = server.received
    assert received.envelope.original_content.isascii()  # 7-bit on the wire (QP, RFC 2047)
    message = received.message
    assert message["Subject"] == "Neues Passwort für jürgen"
    body = received.body
    assert "account jürgen" in body
    assert f"https://app.example/reset?u={quote('jürgen')}#token={TOKEN}" in body


def test_a_non_ascii_address_is_sent_with_smtputf8(start_server: Callable[..., Server]) -> None:
    server = start_server()  # aiosmtpd's Controller offers SMTPUTF8
    notifier(server.port)("zoë", "password-reset", TOKEN)
    [received] = server.received
    assert received.envelope.rcpt_tos == ["zoë@exämple.org"]
    assert received.envelope.smtp_utf8


def test_a_non_ascii_address_fails_without_smtputf8(start_server: Callable[..., Server]) -> None:
    server = start_server(enable_SMTPUTF8=False)
    with pytest.raises(NotificationFailed, match="SMTPUTF8") as caught:
        notifier(server.port)("zoë", "password-reset", TOKEN)
    assert_no_secret(caught.value)
    assert server.received == []


# TLS.


def test_starttls_with_a_self_signed_certificate(
    start_server: Callable[..., Server], certificate: Certificate
) -> None:
    server = start_server(tls_context=certificate.server_context(), require_starttls=True)
    send = notifier(server.port, starttls=True, ssl_context=certificate.client_context())
    send("alice", "password-reset", TOKEN)
    [received] = server.received
    assert received.tls
    assert TOKEN in received.body


def test_starttls_is_the_default(
    start_server: Callable[..., Server], certificate: Certificate
) -> None:
    server = start_server(tls_context=certificate.server_context(), require_starttls=True)
    send = SMTPNotifier(
        host="127.0.0.1",
        port=server.port,
        sender=SENDER,
        recipient=ADDRESSES.get,
        timeout=TIMEOUT,
        ssl_context=certificate.client_context(),
    )
    assert send.starttls
    send("alice", "password-reset", TOKEN)
    assert server.received[0].tls


def test_starttls_checks_the_certificate(
    start_server: Callable[..., Server], certificate: Certificate
) -> None:
    """The default context trusts the system's CAs, which never signed this certificate."""
    server = start_server(tls_context=certificate.server_context(), require_starttls=True)
    with pytest.raises(NotificationFailed, match=r"STARTTLS.*CERTIFICATE_VERIFY_FAILED") as caught:
        notifier(server.port, starttls=True)("alice", "password-reset", TOKEN)
    assert_no_secret(caught.value)
    assert server.received == []


def test_starttls_checks_the_host_name(
    start_server: Callable[..., Server], certificate: Certificate
) -> None:
    """The certificate names 127.0.0.1 and localhost; ::1 or another name would fail. Here:
    a context trusting the certificate, reached under a name the certificate lacks."""
    server = start_server(tls_context=certificate.server_context(), require_starttls=True)
    context = certificate.client_context()
    send = notifier(server.port, host="127.0.0.1", starttls=True, ssl_context=context)
    send("alice", "password-reset", TOKEN)  # matches the IP address in the certificate
    other = notifier(server.port, host="localhost", starttls=True, ssl_context=context)
    other("alice", "password-reset", TOKEN)  # and the DNS name
    assert len(server.received) == 2


def test_refuses_to_send_when_starttls_is_not_offered(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()  # no tls_context: no STARTTLS in the EHLO answer
    send = notifier(server.port, starttls=True)
    with pytest.raises(NotificationFailed, match="does not offer STARTTLS") as caught:
        send("alice", "password-reset", TOKEN)
    assert_no_secret(caught.value)
    assert server.received == []


def test_implicit_tls(start_server: Callable[..., Server], certificate: Certificate) -> None:
    server = start_server(ssl_context=certificate.server_context())
    send = notifier(server.port, ssl=True, ssl_context=certificate.client_context())
    assert not send.starttls  # moot with ssl
    send("alice", "password-reset", TOKEN)
    assert server.received[0].envelope.rcpt_tos == ["alice@example.org"]


def test_implicit_tls_to_a_plain_server_fails(start_server: Callable[..., Server]) -> None:
    server = start_server()
    with pytest.raises(NotificationFailed, match="connect") as caught:
        notifier(server.port, ssl=True)("alice", "password-reset", TOKEN)
    assert_no_secret(caught.value)


# AUTH.


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_auth_with_the_password_from_the_environment_over_starttls(
    start_server: Callable[..., Server],
    certificate: Certificate,
    monkeypatch: pytest.MonkeyPatch,
    mechanism: str,
) -> None:
    authenticator = Authenticator()
    other = {"LOGIN": "PLAIN", "PLAIN": "LOGIN"}[mechanism]
    server = start_server(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,  # AUTH is only offered after STARTTLS
        auth_required=True,
        auth_exclude_mechanism=[other],
    )
    # The default context (from_settings has no ssl_context) trusting only our certificate.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    table = {
        "host": "127.0.0.1",
        "port": server.port,
        "sender": SENDER,
        "username": "mailer",
        "password_env": "RESTAUTH_SMTP_PASSWORD",
        "timeout": TIMEOUT,
        "reset_url": RESET_URL,
    }
    send = SMTPNotifier.from_settings(
        table, {"RESTAUTH_SMTP_PASSWORD": PASSWORD}, recipient=ADDRESSES.get
    )
    assert PASSWORD not in repr(send)
    assert "password='***'" in repr(send)
    send("alice", "password-reset", TOKEN)
    assert authenticator.attempts == [(mechanism, b"mailer", PASSWORD.encode())]
    [received] = server.received
    assert received.tls
    assert received.authenticated


def test_a_wrong_password_fails_without_showing_it(
    start_server: Callable[..., Server], certificate: Certificate
) -> None:
    server = start_server(
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=Authenticator(),
        auth_require_tls=True,
        auth_required=True,
    )
    wrong = PASSWORD[::-1]
    send = notifier(
        server.port,
        starttls=True,
        ssl_context=certificate.client_context(),
        username="mailer",
        password=wrong,
    )
    with pytest.raises(NotificationFailed, match="at AUTH: SMTPAuthenticationError: 535") as caught:
        send("alice", "password-reset", TOKEN)
    assert_no_secret(caught.value)
    assert wrong not in str(caught.value)
    assert str(caught.value).endswith("SMTPAuthenticationError: 535")  # no server text
    assert server.received == []


def test_auth_without_tls_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match=r"^username: AUTH is only sent over TLS"):
        notifier(25, starttls=False, username="mailer", password=PASSWORD)


# Failures: quick, and never holding a secret.


def test_a_server_that_is_down(certificate: Certificate) -> None:
    port = free_port()  # nothing listens there
    send = notifier(
        port,
        starttls=True,
        ssl_context=certificate.client_context(),
        username="mailer",
        password=PASSWORD,
    )
    started = time.monotonic()
    with pytest.raises(NotificationFailed) as caught:
        send("alice", "password-reset", TOKEN)
    assert time.monotonic() - started < TIMEOUT
    message = str(caught.value)
    assert f"127.0.0.1:{port} failed at connect: ConnectionRefusedError" in message
    assert "'alice'" in message
    assert_no_secret(caught.value)
    assert isinstance(caught.value, RestauthError)


def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog), says nothing
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        send = notifier(
            silent.getsockname()[1], timeout=0.3, password=PASSWORD, username="u", starttls=True
        )
        started = time.monotonic()
        with pytest.raises(NotificationFailed, match=r"failed at connect: .*timed out") as caught:
            send("alice", "password-reset", TOKEN)
        assert time.monotonic() - started < 2
    assert_no_secret(caught.value)


def test_a_refused_recipient(start_server: Callable[..., Server]) -> None:
    class Refusing(Collector):
        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, options: Any
        ) -> str:
            return f"550 5.1.1 <{address}> no such user"

    server = start_server(Refusing())
    with pytest.raises(NotificationFailed, match="at send: SMTPRecipientsRefused: 550") as caught:
        notifier(server.port)("alice", "password-reset", TOKEN)
    assert "no such user" in str(caught.value)  # the server's answer helps the operator
    assert_no_secret(caught.value)
    assert server.received == []


def test_a_server_answer_never_carries_a_secret_into_the_error(
    start_server: Callable[..., Server], certificate: Certificate
) -> None:
    """A server's answer is not ours: one that quotes the token (or the password) back
    has it replaced; at the AUTH step only the code is kept."""

    class Echoing(Collector):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return f"554 5.7.1 rejected: {TOKEN} / {PASSWORD}"

    server = start_server(
        Echoing(),
        tls_context=certificate.server_context(),
        require_starttls=True,
        authenticator=Authenticator(),
        auth_require_tls=True,
    )
    send = notifier(
        server.port,
        starttls=True,
        ssl_context=certificate.client_context(),
        username="mailer",
        password=PASSWORD,
    )
    with pytest.raises(NotificationFailed, match=r"at send: SMTPDataError: 554") as caught:
        send("alice", "password-reset", TOKEN)
    assert "rejected: *** / ***" in str(caught.value)
    assert_no_secret(caught.value)


# Header injection: a line break can never add a header (or an SMTP command).


INJECTIONS = ["\r\nBcc: mallory@evil.example", "\nBcc: mallory@evil.example", "\rBcc: x@y.org"]


@pytest.mark.parametrize("injection", INJECTIONS)
def test_an_address_with_a_line_break_is_refused(
    start_server: Callable[..., Server], injection: str
) -> None:
    server = start_server()
    send = notifier(server.port, recipient=lambda userid: "alice@example.org" + injection)
    with pytest.raises(NotificationFailed, match="not a usable e-mail address") as caught:
        send("alice", "password-reset", TOKEN)
    assert_no_secret(caught.value)
    assert server.received == []


@pytest.mark.parametrize("injection", INJECTIONS)
def test_a_userid_with_a_line_break_never_reaches_a_header(
    start_server: Callable[..., Server], injection: str
) -> None:
    """Userids cannot hold control characters (check_userid); if a store held one anyway,
    EmailMessage refuses the subject that would carry it."""
    server = start_server()
    send = notifier(
        server.port, subject_reset="Password for {userid}", recipient=lambda u: "a@b.org"
    )
    with pytest.raises(NotificationFailed, match="header would hold a line break") as caught:
        send("alice" + injection, "password-reset", TOKEN)
    assert "\\n" in str(caught.value) or "\\r" in str(caught.value)  # shown escaped
    assert_no_secret(caught.value)
    assert server.received == []


def test_a_stored_email_with_a_line_break_is_refused(start_server: Callable[..., Server]) -> None:
    server = start_server()
    users = FakeStore({"mallory": stored("mallory", "m@example.org\r\nBcc: all@example.org")})
    send = SMTPNotifier.for_store(
        users, host="127.0.0.1", port=server.port, sender=SENDER, starttls=False, timeout=TIMEOUT
    )
    with pytest.raises(NotificationFailed):
        send("mallory", "password-reset", TOKEN)
    assert server.received == []


def test_a_userid_address_with_a_line_break_is_refused(
    start_server: Callable[..., Server],
) -> None:
    server = start_server()
    send = notifier(server.port, recipient=userid_address)
    with pytest.raises(NotificationFailed):
        send("mallory@evil.example\r\nBcc: all@example.org", "password-reset", TOKEN)
    assert server.received == []


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("sender", "noreply@example.org\r\nBcc: all@example.org"),
        ("subject_reset", "Reset\r\nBcc: all@example.org"),
        ("subject_verify", "Verify\nBcc: all@example.org"),
        ("reset_url", "https://app.example/#t={token}\r\nBcc: x"),
        ("host", "smtp.example\r\nRCPT TO:<x@y.org>"),
    ],
)
def test_settings_with_a_line_break_are_refused(setting: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"^{setting}: "):
        notifier(25, **{setting: value})


# Recipients.


def stored(userid: str, email: str | None) -> User:
    return User(userid, "x", frozenset(), "stamp", email=email)


class FakeStore:
    def __init__(self, users: dict[str, User]) -> None:
        self.users = users

    def get(self, userid: str) -> User | None:
        return self.users.get(userid)


def test_store_recipient() -> None:
    users = FakeStore(
        {
            "alice": stored("alice", "alice@example.org"),
            "bob@example.net": stored("bob@example.net", None),
            "carol@example.net": stored("carol@example.net", "carol@work.example"),
            "dave": stored("dave", None),
        }
    )
    recipient = store_recipient(users)
    assert recipient("alice") == "alice@example.org"
    assert recipient("bob@example.net") == "bob@example.net"  # the userid is an address
    assert recipient("carol@example.net") == "carol@work.example"  # User.email first
    assert recipient("dave") is None
    assert recipient("nobody@example.net") is None  # unknown: nothing to write to


def test_no_address_sends_nothing_and_logs_the_userid(
    start_server: Callable[..., Server], caplog: pytest.LogCaptureFixture
) -> None:
    server = start_server()
    users = FakeStore(
        {"dave": stored("dave", None), "erin@example.org": stored("erin@example.org", None)}
    )
    send = SMTPNotifier.for_store(
        users, host="127.0.0.1", port=server.port, sender=SENDER, starttls=False, timeout=TIMEOUT
    )
    with caplog.at_level(logging.WARNING, logger="restauth.notify.smtp"):
        send("dave", "password-reset", TOKEN)
    assert server.received == []
    [record] = caplog.records
    assert "'dave'" in record.getMessage()
    assert TOKEN not in caplog.text
    send("erin@example.org", "verify", TOKEN)
    assert server.received[0].envelope.rcpt_tos == ["erin@example.org"]


def test_with_recipient_keeps_the_settings(start_server: Callable[..., Server]) -> None:
    server = start_server()
    base = notifier(server.port, recipient=lambda userid: None)
    base.with_recipient(lambda userid: "alice@example.org")("bob", "password-reset", TOKEN)
    [received] = server.received
    assert received.envelope.rcpt_tos == ["alice@example.org"]
    assert f"#token={TOKEN}" in received.body


# Configuration tables.


def test_from_settings_defaults(start_server: Callable[..., Server]) -> None:
    send = SMTPNotifier.from_settings({"host": "smtp.example", "sender": "noreply@example.org"}, {})
    assert (send.host, send.port, send.starttls, send.ssl, send.timeout) == (
        "smtp.example",
        587,
        True,
        False,
        10.0,
    )
    assert send.username is None
    implicit = SMTPNotifier.from_settings(
        {"host": "smtp.example", "sender": "noreply@example.org", "ssl": True}, {}
    )
    assert (implicit.port, implicit.starttls, implicit.ssl) == (465, False, True)
    # Without a store the userid is the address: delivered through a plain relay.
    server = start_server()
    relay = SMTPNotifier.from_settings(
        {"host": "127.0.0.1", "port": server.port, "sender": SENDER, "starttls": False}, {}
    )
    relay("carol@example.org", "verify", TOKEN)
    assert server.received[0].envelope.rcpt_tos == ["carol@example.org"]


def test_from_settings_with_a_store() -> None:
    users = FakeStore({"alice": stored("alice", "alice@example.org")})
    table = {"host": "smtp.example", "sender": "noreply@example.org"}
    send = SMTPNotifier.from_settings(table, {}, users=users)
    assert send._recipient("alice") == "alice@example.org"
    with pytest.raises(TypeError):
        SMTPNotifier.from_settings(table, {}, users=users, recipient=ADDRESSES.get)


def test_every_settings_key_is_read() -> None:
    table = {
        "host": "smtp.example",
        "port": 2525,
        "sender": "noreply@example.org",
        "starttls": True,
        "ssl": False,
        "username": "mailer",
        "password_env": "PW",
        "timeout": 3,
        "reset_url": RESET_URL,
        "verify_url": "https://app.example/verify#{token}",
        "subject_reset": "Reset for {userid}",
        "subject_verify": "Verify",
    }
    assert set(table) == set(SETTINGS_KEYS)
    send = SMTPNotifier.from_settings(table, {"PW": PASSWORD})
    assert (send.port, send.username, send.timeout) == (2525, "mailer", 3.0)
    assert PASSWORD not in repr(send)


BASE = {"host": "smtp.example", "sender": "noreply@example.org"}


@pytest.mark.parametrize(
    ("table", "env", "message"),
    [
        ({"sender": "a@example.org"}, {}, "[smtp] host: is required"),
        ({"host": "smtp.example"}, {}, "[smtp] sender: is required"),
        ({**BASE, "sender": "nobody"}, {}, "[smtp] sender: expected an address"),
        ({**BASE, "port": "587"}, {}, "[smtp] port: expected an integer"),
        ({**BASE, "port": True}, {}, "[smtp] port: expected an integer"),
        ({**BASE, "port": 70000}, {}, "[smtp] port: expected an integer from 1 to 65535"),
        ({**BASE, "starttls": "yes"}, {}, "[smtp] starttls: expected true or false"),
        ({**BASE, "ssl": True, "starttls": True}, {}, "[smtp] ssl: "),
        ({**BASE, "password": PASSWORD}, {}, "[smtp] password: a password does not belong"),
        ({**BASE, "tll": 60}, {}, "[smtp]: unknown key tll"),
        ({**BASE, "username": "mailer"}, {}, "[smtp] password_env: username and password_env"),
        ({**BASE, "password_env": "PW"}, {"PW": PASSWORD}, "[smtp] username: username and"),
        (
            {**BASE, "username": "u", "password_env": "PW"},
            {},
            "[smtp] password_env: $PW is not set",
        ),
        (
            {**BASE, "username": "u", "password_env": "PW"},
            {"PW": PASSWORD + "é"},
            "[smtp] password_env: $PW must be ASCII",
        ),
        (
            {**BASE, "username": "u", "password_env": "PW", "starttls": False},
            {"PW": PASSWORD},
            "[smtp] username: AUTH is only sent over TLS",
        ),
        ({**BASE, "timeout": 0}, {}, "[smtp] timeout: must be a positive"),
        ({**BASE, "timeout": True}, {}, "[smtp] timeout: expected a number"),
        (
            {**BASE, "reset_url": "https://app.example/reset"},
            {},
            "[smtp] reset_url: must contain {token}",
        ),
        (
            {**BASE, "verify_url": "https://x.example/{token.__class__}"},
            {},
            "[smtp] verify_url: unknown placeholder",
        ),
        (
            {**BASE, "verify_url": "https://x.example/{token!r}"},
            {},
            "[smtp] verify_url: unknown placeholder",
        ),
        ({**BASE, "reset_url": "https://x.example/{token"}, {}, "[smtp] reset_url: "),
        (
            {**BASE, "subject_reset": "Your code {token}"},
            {},
            "[smtp] subject_reset: unknown placeholder {token}",
        ),
        (
            {**BASE, "subject_verify": "a\nb"},
            {},
            "[smtp] subject_verify: must not contain line breaks",
        ),
    ],
)
def test_from_settings_names_the_key(
    table: dict[str, Any], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        SMTPNotifier.from_settings(table, env)
    assert str(caught.value).startswith(message)
    assert isinstance(caught.value, ValueError)
    assert PASSWORD not in str(caught.value)


def test_from_settings_names_its_table() -> None:
    with pytest.raises(ConfigError, match=r"^\[accounts\.smtp\] host: is required"):
        SMTPNotifier.from_settings({}, {}, where="[accounts.smtp]")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"body_reset": "Hello {userid}"}, "body_reset: must contain {token} or {link}"),
        ({"body_verify": "{link} {secret}"}, "body_verify: unknown placeholder {secret}"),
        ({"password": "pässword", "username": "u", "starttls": True}, "password: must be ASCII"),
        ({"password": PASSWORD}, "username: is required with a password"),
        ({"ssl_context": "yes"}, "ssl_context: expected an ssl.SSLContext"),
        ({"recipient": "alice@example.org"}, "recipient: expected a callable"),
    ],
)
def test_the_constructor_names_the_argument(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)) as caught:
        notifier(25, **settings)
    assert "pässword" not in str(caught.value)


def test_an_unknown_purpose_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown purpose"):
        notifier(25)("alice", "login", TOKEN)  # type: ignore[arg-type]


# ConsoleNotifier: development only.


def test_console_prints_one_line_with_the_link() -> None:
    stream = io.StringIO()
    console = ConsoleNotifier({"password-reset": "http://127.0.0.1:8000/#reset={token}"}, stream)
    console("alice", "password-reset", TOKEN)
    console("zoë", "verify", TOKEN)
    assert stream.getvalue().splitlines() == [
        f"restauth: password-reset for 'alice': http://127.0.0.1:8000/#reset={TOKEN}",
        f"restauth: verify for 'zoë': {TOKEN}",
    ]


def test_console_percent_encodes_into_links() -> None:
    stream = io.StringIO()
    console = ConsoleNotifier(
        {"verify": "http://127.0.0.1:8000/?u={userid}#verify={token}"}, stream
    )
    console("zoë", "verify", "a/b+c=")
    assert stream.getvalue() == (
        "restauth: verify for 'zoë': http://127.0.0.1:8000/?u=zo%C3%AB#verify=a%2Fb%2Bc%3D\n"
    )


def test_console_writes_to_stderr_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    ConsoleNotifier()("alice", "password-reset", TOKEN)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"restauth: password-reset for 'alice': {TOKEN}\n"


@pytest.mark.parametrize(
    ("links", "message"),
    [
        ({"reset": "http://x/{token}"}, "links: unknown purpose 'reset'"),
        ({"verify": "http://x/"}, "links['verify']: must contain {token}"),
        ({"verify": "http://x/ {token}"}, "links['verify']: must not contain spaces"),
        ({"verify": "http://x/{token}\r\n"}, "links['verify']: must not contain line breaks"),
        ({"verify": "http://x/{token.real}"}, "links['verify']: unknown placeholder"),
    ],
)
def test_console_refuses_bad_links(links: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        ConsoleNotifier(links)  # type: ignore[arg-type]


def test_console_says_it_is_not_for_production() -> None:
    assert "never use it in production" in (console_module.__doc__ or "").lower()
    assert "never use it in production" in (ConsoleNotifier.__doc__ or "").lower()
