"""Verification and password reset end to end through a real SMTP server (aiosmtpd on
127.0.0.1, STARTTLS with a certificate made for the test), on every account store: the
mail goes to the address the store keeps, and its link's token does the job once."""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest
from webtest import TestApp

from restauth import Accounts, AuthMiddleware
from restauth.notify.smtp import SMTPNotifier
from tests.conftest import basic, echo_app
from tests.storage.conftest import UserFactory
from tests.test_notify_smtp import Certificate, Collector, Server, certificate, start_server

__all__ = ["certificate", "start_server"]  # fixtures, used by name

PASSWORD = "a garden of forking paths"
NEW_PASSWORD = "the library of babel"
LINK = re.compile(r"https://app\.example/(reset|verify)#token=([A-Za-z0-9_%\-]+)")


def wait_for_mail(server: Server, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(server.received) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(server.received) == count


def token_in(server: Server, index: int, kind: str) -> str:
    found = LINK.search(server.received[index].body)
    assert found is not None
    assert found.group(1) == kind
    return found.group(2)


@pytest.fixture
def mail(start_server: Any, certificate: Certificate) -> Server:
    server: Server = start_server(Collector(), tls_context=certificate.server_context(),
                                  require_starttls=True)  # fmt: skip
    return server


def test_verify_then_reset_through_smtp(
    make_users: UserFactory,
    mail: Server,
    certificate: Certificate,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    users = make_users()
    notifier = SMTPNotifier.for_store(
        users,
        host="127.0.0.1",
        port=mail.port,
        sender="Accounts <accounts@example.org>",
        ssl_context=certificate.client_context(),
        timeout=5,
        reset_url="https://app.example/reset#token={token}",
        verify_url="https://app.example/verify#token={token}",
    )
    middleware = AuthMiddleware(
        echo_app, users=users, accounts=Accounts("verify", notifier=notifier)
    )
    client = TestApp(middleware)
    alice = {"username": "alice", "password": PASSWORD, "email": "alice@example.org"}
    client.post_json("/users", alice, status=201)
    wait_for_mail(mail, 1)
    assert mail.received[0].tls
    message = mail.received[0].message
    assert message["To"] == "alice@example.org"
    assert mail.received[0].envelope.rcpt_tos == ["alice@example.org"]
    client.get("/", headers={"Authorization": basic("alice", PASSWORD)}, status=401)
    verify = token_in(mail, 0, "verify")
    client.post_json("/users/verification/confirm", {"token": verify}, status=204)
    session = client.post("/tokens", headers={"Authorization": basic("alice", PASSWORD)}).json
    client.post_json("/users/password-reset", {"username": "alice"}, status=202)
    client.post_json("/users/password-reset", {"username": "nobody"}, status=202)
    wait_for_mail(mail, 2)
    reset = token_in(mail, 1, "reset")
    confirm = {"token": reset, "new_password": NEW_PASSWORD}
    client.post_json("/users/password-reset/confirm", confirm, status=204)
    client.get("/", headers={"Authorization": f"Bearer {session['token']}"}, status=401)
    client.get("/", headers={"Authorization": basic("alice", NEW_PASSWORD)}, status=200)
    client.post_json("/users/password-reset/confirm", confirm, status=400)
    time.sleep(0.2)
    assert len(mail.received) == 2  # nothing was sent for "nobody"
    ours = [r for r in caplog.records if r.name.startswith("restauth")]  # not the test server's
    assert any("account.password-reset" in r.getMessage() for r in ours)
    logged = "\n".join(record.getMessage() for record in ours)
    for secret in (PASSWORD, NEW_PASSWORD, verify, reset):
        assert secret not in logged
