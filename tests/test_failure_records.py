"""What a 503 and a stored user show: who asked and from where, never a secret
(issue 16 item 16).

The README says every audit record carries the client's address and, when known, the
userid; the ``store.unavailable`` and ``internal.error`` records had neither. And
``repr(User)`` printed the password hash, which a log or a traceback would keep.
"""

from __future__ import annotations

import base64
import logging

import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryUserStore, PasswordHasher, User
from restauth.errors import StoreUnavailable
from tests.conftest import basic, echo_app

SECRET = "s3cret-pässword"


class DownUsers(MemoryUserStore):
    """A user store whose backend is unreachable."""

    def __init__(self, error: Exception) -> None:
        super().__init__(hasher=PasswordHasher(rounds=4))
        self.error = error

    def get(self, userid: str) -> User | None:
        raise self.error


def client(error: Exception, **settings: object) -> TestApp:
    middleware = AuthMiddleware(
        echo_app,
        users=DownUsers(error),
        throttle=None,
        password_cache=None,
        trusted_proxies=["10.0.0.1"],
        **settings,  # type: ignore[arg-type]
    )
    return TestApp(middleware, extra_environ={"REMOTE_ADDR": "10.0.0.1"})


def records(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "restauth", {}).get("event") == name]


def assert_no_secret(caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    for record in caplog.records:
        text = record.getMessage() + repr(getattr(record, "restauth", ""))
        for secret in secrets:
            assert secret not in text


def test_a_store_outage_record_names_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="restauth")
    headers = {"Authorization": basic("jörg", SECRET), "X-Forwarded-For": "203.0.113.9"}
    client(StoreUnavailable("connection refused")).get("/", headers=headers, status=503)
    (record,) = records(caplog, "store.unavailable")
    assert record.levelno == logging.ERROR
    assert record.restauth == {  # type: ignore[attr-defined]
        "event": "store.unavailable",
        "outcome": "503",
        "userid": "jörg",
        "address": "203.0.113.9",  # as every other record: the client, through the proxy
        "mechanism": None,
        "session": None,
    }
    assert 'userid="j\\xf6rg"' in record.getMessage()
    assert_no_secret(caplog, SECRET, basic("jörg", SECRET).split()[1])


def test_an_internal_error_record_names_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="restauth")
    middleware = AuthMiddleware(
        echo_app, users=MemoryUserStore(), throttle=None, require_https=False
    )

    def bug(*args: object) -> None:
        raise RuntimeError("a bug in restauth's own code")

    middleware.pipeline.gate.authenticator.authenticate = bug  # type: ignore[method-assign]
    app = TestApp(middleware, extra_environ={"REMOTE_ADDR": "198.51.100.4"})
    app.get("/", headers={"Authorization": basic("alice", SECRET)}, status=503)
    (record,) = records(caplog, "internal.error")
    assert record.restauth["userid"] == "alice"  # type: ignore[attr-defined]
    assert record.restauth["address"] == "198.51.100.4"  # type: ignore[attr-defined]
    assert_no_secret(caplog, SECRET)


def test_a_token_caller_has_an_address_and_no_userid(caplog: pytest.LogCaptureFixture) -> None:
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    users.add("alice", SECRET)
    middleware = AuthMiddleware(echo_app, users=users, throttle=None, password_cache=None)
    app = TestApp(middleware, extra_environ={"REMOTE_ADDR": "10.0.0.1"})
    token = app.get("/", headers={"Authorization": basic("alice", SECRET)}).headers["Auth-Token"]

    def down(userid: str) -> User | None:
        raise StoreUnavailable("down")

    users.get = down  # type: ignore[method-assign]
    caplog.set_level(logging.DEBUG, logger="restauth")
    app.get("/", headers={"Authorization": f"Token {token}"}, status=503)
    (record,) = records(caplog, "store.unavailable")
    assert record.restauth["userid"] is None  # type: ignore[attr-defined]
    assert record.restauth["address"] == "10.0.0.1"  # type: ignore[attr-defined]


def test_the_outage_record_reads_latin1_basic_only_when_asked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="restauth")
    latin1 = "Basic " + base64.b64encode("josé:contraseña".encode("latin-1")).decode()
    client(StoreUnavailable("down"), basic_charset_fallback="latin-1").get(
        "/", headers={"Authorization": latin1}, status=503
    )
    (record,) = records(caplog, "store.unavailable")
    assert record.restauth["userid"] == "josé"  # type: ignore[attr-defined]
    assert_no_secret(caplog, "contraseña")


def test_no_record_is_built_when_nobody_listens(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="restauth.audit")
    client(StoreUnavailable("down")).get(
        "/", headers={"Authorization": basic("a", "b")}, status=503
    )
    assert records(caplog, "store.unavailable") == []


def test_a_user_never_shows_its_hash() -> None:
    hashed = PasswordHasher(rounds=4).hash(SECRET)
    user = User("alice", hashed, frozenset({"admin"}), "stamp1")
    for shown in (repr(user), str(user), f"{user}", repr([user])):
        assert hashed not in shown
        assert hashed.split("$")[-1] not in shown  # not even the salt and digest
        assert "alice" in shown
    assert user.password_hash == hashed  # still there for the code that needs it
