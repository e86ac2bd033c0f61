"""Audit records: one per event, escaped userids, never a secret."""

from __future__ import annotations

import base64
import logging

import pytest
from webtest import TestApp

from restauth import MemoryUserStore
from restauth.audit import escape

from . import adapters
from .adapters import AuthMiddleware
from .conftest import ALICE_PASSWORD, FakeClock, basic, echo_app

middleware = adapters.middleware  # conftest's fixture, built by the adapter under test
pytestmark = pytest.mark.usefixtures("adapter")  # every test: WSGI and ASGI adapters


def records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "restauth", {}).get("event") == name]


def test_login_failure_success_issue_and_revoke_are_recorded(
    client: TestApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="restauth")
    client.get("/", headers={"Authorization": basic("alice", "wrong")}, status=401)
    (failure,) = records(caplog, "login.failure")
    assert failure.levelno == logging.WARNING
    assert failure.restauth == {  # type: ignore[attr-defined]
        "event": "login.failure",
        "outcome": "bad_password",
        "userid": "alice",
        "address": "unknown",
        "mechanism": "basic",
        "session": None,
    }
    peer = {"REMOTE_ADDR": "192.0.2.9"}
    login = client.post_json(
        "/tokens", {"username": "alice", "password": ALICE_PASSWORD}, extra_environ=peer
    )
    assert records(caplog, "login.success")
    (issue,) = records(caplog, "token.issue")
    assert issue.levelno == logging.INFO
    assert issue.restauth["address"] == "192.0.2.9"  # type: ignore[attr-defined]
    session = login.json["session"]
    assert issue.restauth["session"] == session  # type: ignore[attr-defined]
    assert issue.restauth["mechanism"] == "login"  # type: ignore[attr-defined]
    token = {"Authorization": f"Token {login.json['token']}"}
    client.delete("/tokens/alice", headers=token, extra_environ=peer)
    (revoke,) = records(caplog, "token.revoke")
    assert revoke.restauth["address"] == "192.0.2.9"  # type: ignore[attr-defined]
    assert revoke.restauth["session"] == session  # type: ignore[attr-defined]
    for record in (issue, revoke):
        assert login.json["token"] not in record.getMessage()
        assert login.json["token"] not in str(record.restauth)  # type: ignore[attr-defined]


def test_the_use_of_an_ended_or_expired_token_is_recorded_with_its_user(
    client: TestApp, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="restauth")
    body = {"username": "alice", "password": ALICE_PASSWORD}
    ended = client.post_json("/tokens", body).json
    expired = client.post_json("/tokens", body).json
    client.delete("/tokens/alice", headers={"Authorization": f"Token {ended['token']}"})
    client.get("/", headers={"Authorization": f"Token {ended['token']}"}, status=401)
    (record,) = records(caplog, "token.ended")
    assert record.levelno == logging.WARNING
    assert record.restauth["userid"] == "alice"  # type: ignore[attr-defined]
    assert record.restauth["session"] == ended["session"]  # type: ignore[attr-defined]
    clock.advance(16 * 60)  # past the 15-minute idle timeout
    client.get("/", headers={"Authorization": f"Bearer {expired['token']}"}, status=401)
    (record,) = records(caplog, "token.expired")
    assert record.restauth["userid"] == "alice"  # type: ignore[attr-defined]
    assert record.restauth["session"] == expired["session"]  # type: ignore[attr-defined]
    for record in caplog.records:
        assert ended["token"] not in record.getMessage()
        assert expired["token"] not in record.getMessage()


def test_throttle_and_outage_are_recorded(
    client: TestApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="restauth")
    for _ in range(6):
        client.get("/", headers={"Authorization": basic("bob", "x")}, expect_errors=True)
    assert records(caplog, "throttle")


def test_log_lines_cannot_be_forged() -> None:
    assert escape('eve\r\nlogin.success userid="admin"') == (
        'eve\\r\\nlogin.success userid=\\"admin\\"'
    )
    assert escape("jos\u00e9") == "jos\\xe9"


def test_no_secret_ever_reaches_a_log_record(
    client: TestApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "hunter2-very-secret"
    token = client.post_json("/tokens", {"username": "alice", "password": ALICE_PASSWORD}).json[
        "token"
    ]
    hostile = [
        basic("alice", password),
        basic("mallory", password),
        basic("alice", token),
        basic("bob", token),
        f"Bearer {token}x",
        f"Token {token}",
        "Basic " + base64.b64encode(b"alice:\xff" + password.encode()).decode(),
        f"Bearer {password} {password}",
        basic("alice", password) + "," + basic("bob", password),
    ]
    for value in hostile:
        client.get("/", headers={"Authorization": value}, expect_errors=True)
    client.post_json("/tokens", {"username": "alice", "password": password}, expect_errors=True)
    secrets = [password, token, token.split(".")[1], ALICE_PASSWORD, *hostile]
    secrets += [v.split(" ", 1)[1] for v in hostile]
    for record in caplog.records:
        text = record.getMessage() + repr(getattr(record, "restauth", ""))
        for secret in secrets:
            assert secret not in text


def test_an_admins_userid_in_the_mechanism_field_is_escaped(
    users: MemoryUserStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="restauth")
    users.add('root session="x"', "pw-of-the-admin", roles=["admin"])
    client = TestApp(AuthMiddleware(echo_app, users=users, admin_role="admin"))
    admin = client.post_json(
        "/tokens", {"username": 'root session="x"', "password": "pw-of-the-admin"}
    ).json
    client.delete("/tokens/bob?all=true", headers={"Authorization": f"Token {admin['token']}"})
    (record,) = records(caplog, "token.revoke")
    message = record.getMessage()
    assert 'mechanism=admin:root\\x20session=\\"x\\" session=-' in message  # one field
    assert "\u2028" not in message
