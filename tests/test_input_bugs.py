"""Regressions: hostile input that once reached the 503 catch-all, and a TTL that never ends.

Each of these used to be answered "store unavailable" (or accepted), because an
exception escaped from code that has nothing to do with a store.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from webob.request import DisconnectionError
from webtest import TestApp

from restauth import MemoryTokenManager, MemoryUserStore, PasswordHasher
from restauth._time import as_seconds
from restauth.tokens.sqlite import SQLiteTokenManager
from restauth.users.sqlite import SQLiteUserStore
from restauth.wire.credentials import BasicCredentials, Malformed, check_credentials

from . import adapters
from .adapters import AuthMiddleware
from .conftest import ALICE_PASSWORD, echo_app

SECRET_KEY = "test-secret-key-0123456789abcdef"

middleware = adapters.middleware  # conftest's fixture, built by the adapter under test
pytestmark = pytest.mark.usefixtures("adapter")  # every test: WSGI and ASGI adapters


def call(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> tuple[str, bytes]:
    """Call a WSGI app with a hand-made environ (WebTest would fix a broken body)."""
    seen: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        seen.append(status)

    body = b"".join(app(environ, start_response))
    return seen[0], body


def login_environ(body: Any, length: int) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/tokens",
        "SERVER_NAME": "api.example",
        "SERVER_PORT": "443",
        "wsgi.url_scheme": "https",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(length),
        "wsgi.input": body,
    }


class BrokenInput:
    """A ``wsgi.input`` whose client went away mid-body."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self, *args: object) -> bytes:
        raise self.error

    readline = read


@pytest.mark.parametrize(
    "body",
    [
        io.BytesIO(b'{"username": "alice", "pass'),  # shorter than CONTENT_LENGTH
        BrokenInput(OSError("connection reset by peer")),
        BrokenInput(DisconnectionError("client disconnected")),
    ],
    ids=["short", "oserror", "disconnected"],
)
def test_truncated_login_body_is_400_not_503(middleware: Any, body: Any) -> None:
    status, text = call(middleware, login_environ(body, 200))
    assert status == "400 Bad Request"
    assert b"Content-Length" in text


@pytest.fixture(params=["memory", "sqlite"])
def any_client(
    request: pytest.FixtureRequest, tmp_path: Path, hasher: PasswordHasher
) -> Iterator[TestApp]:
    """A middleware in front of memory stores, or of SQLite stores (which must encode text)."""
    users: Any
    tokens: Any
    if request.param == "memory":
        users, tokens = MemoryUserStore(hasher=hasher), MemoryTokenManager()
    else:
        db = tmp_path / "restauth.db"
        users = SQLiteUserStore(db, hasher=hasher)
        tokens = SQLiteTokenManager(db, secret_key=SECRET_KEY)
    users.add("alice", ALICE_PASSWORD)
    yield TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens))
    for store in (users, tokens):
        getattr(store, "close", lambda: None)()


HOSTILE_USERNAMES = ["al\x00ice", "alice\n", "al\rice", "\x7f", "al\x85ice", "\ud800", "a\udfffb"]


@pytest.mark.parametrize("username", HOSTILE_USERNAMES)
def test_login_body_with_a_control_or_surrogate_username_is_401(
    any_client: TestApp, username: str
) -> None:
    body = json.dumps({"username": username, "password": ALICE_PASSWORD})  # \\u escapes
    response = any_client.post("/tokens", body, content_type="application/json", status=401)
    assert "WWW-Authenticate" not in response.headers  # the login form never gets a challenge


def test_login_form_with_a_nul_username_is_401(any_client: TestApp) -> None:
    any_client.post("/tokens", {"username": "alice\x00", "password": ALICE_PASSWORD}, status=401)


@pytest.mark.parametrize("password", ["p\ud800", "\udc00", ALICE_PASSWORD + "\ud800", "pw\x00"])
@pytest.mark.parametrize("username", ["alice", "ghost"])
def test_login_body_with_a_control_or_surrogate_password_is_401(
    any_client: TestApp, username: str, password: str
) -> None:
    body = json.dumps({"username": username, "password": password})
    any_client.post("/tokens", body, content_type="application/json", status=401)


def test_login_body_follows_the_same_rule_as_basic() -> None:
    assert check_credentials("alice", "pw") == BasicCredentials("alice", "pw")
    assert check_credentials("Ame\u0301lie", "pw").userid == "Am\u00e9lie"  # NFC, as Basic
    for userid, password in [("", "pw"), ("a:b", "pw"), ("a\tb", "pw"), ("alice", "p\ud800")]:
        assert check_credentials(userid, password) is Malformed.BASIC


@pytest.mark.parametrize("password", ["\ud800", "p\udfff" * 600])
def test_a_lone_surrogate_password_never_matches_and_never_raises(password: str) -> None:
    hasher = PasswordHasher(rounds=4)
    stored = hasher.hash("pw")
    assert hasher.verify(password, stored) is False
    assert hasher.verify(password, None) is False
    assert hasher.verify(password, "$2b$04$" + "x" * 53) is False  # a plain bcrypt hash
    with pytest.raises(ValueError, match="surrogate"):
        hasher.hash("p\ud800")


def test_a_lone_surrogate_password_costs_the_same_one_bcrypt_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bcrypt

    hasher = PasswordHasher(rounds=4)
    stored = hasher.hash("pw")
    calls: list[bytes] = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda pw, h: calls.append(h) or real(pw, h))
    hasher.verify("p\ud800", stored)
    assert len(calls) == 1


@pytest.mark.parametrize(
    "value",
    [math.inf, -math.inf, math.nan, 0, 0.0, -0.0, -1, 10**400, -(10**400), timedelta(0)],
    ids=["inf", "-inf", "nan", "0", "0.0", "-0.0", "-1", "1e400", "-1e400", "timedelta0"],
)
def test_ttl_must_be_positive_and_finite(value: Any) -> None:
    with pytest.raises(ValueError, match="positive, finite"):
        as_seconds(value, "ttl")
    with pytest.raises(ValueError, match="max_lifetime"):
        MemoryTokenManager(max_lifetime=value)


def test_ttl_accepts_seconds_and_timedeltas() -> None:
    assert as_seconds(90, "ttl") == 90.0
    assert as_seconds(0.5, "ttl") == 0.5
    assert as_seconds(timedelta(minutes=2), "ttl") == 120.0
    with pytest.raises(TypeError):
        as_seconds(True, "ttl")


def test_a_cors_preflight_never_hands_the_query_token_to_the_app(
    users: MemoryUserStore, tokens: MemoryTokenManager
) -> None:
    """A browser's preflight repeats the URL, query and all; the app (and its access log)
    must not see a token there any more than on the request itself (found by
    tests/property)."""
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        seen.append(environ["QUERY_STRING"])
        start_response("204 No Content", [])
        return [b""]

    client = TestApp(AuthMiddleware(app, users=users, tokens=tokens, query_token="access_token"))
    client.options(
        "/data?access_token=abc.def&page=2",
        headers={"Access-Control-Request-Method": "GET", "Origin": "https://app.example"},
        status=204,
    )
    assert seen == ["page=2"]


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        # Latin-1 form: the review got 503 and an ERROR store.unavailable record.
        ("application/x-www-form-urlencoded; charset=ISO-8859-1", b"", 200),
        ("application/x-www-form-urlencoded; charset=utf-8", b"", 200),
        ("application/x-www-form-urlencoded; charset=x-no-such-charset", b"", 415),
        ("application/x-www-form-urlencoded; charset=utf-8", b"username=al%FFice&password=x", 400),
        ("application/x-www-form-urlencoded", b"username=alice&password=\xff", 400),
        # curl -d 'username=jörg&password=...' sends the UTF-8 bytes as they are
        (
            "application/x-www-form-urlencoded",
            f"username=jörg&password={ALICE_PASSWORD}".encode(),
            200,
        ),
        ("application/json; charset=ISO-8859-1", b"{]", 400),
    ],
)
def test_a_login_body_in_any_charset_is_never_a_backend_failure(
    users: MemoryUserStore,
    caplog: pytest.LogCaptureFixture,
    content_type: str,
    body: bytes,
    status: int,
) -> None:
    users.add("jörg", ALICE_PASSWORD)
    if not body:  # the form in the charset it declares
        charset = content_type.rpartition("=")[2].replace("x-no-such-charset", "utf-8")
        body = urlencode(
            {"username": "jörg", "password": ALICE_PASSWORD}, encoding=charset
        ).encode()
    client = TestApp(AuthMiddleware(echo_app, users=users))
    with caplog.at_level(logging.DEBUG):
        response = client.post(
            "/tokens", body, headers={"Content-Type": content_type}, status=status
        )
    if status == 200:
        assert response.json["userid"] == "jörg"
    assert response.content_type == (
        "application/json" if status == 200 else "application/problem+json"
    )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "store.unavailable" not in caplog.text


@pytest.mark.parametrize("length", ["-5", "abc", "1e3"])
def test_a_malformed_content_length_on_the_login_is_400(
    users: MemoryUserStore, length: str
) -> None:
    app = AuthMiddleware(echo_app, users=users)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/tokens",
        "wsgi.url_scheme": "https",
        "CONTENT_LENGTH": length,
        "CONTENT_TYPE": "application/json",
        "HTTP_AUTHORIZATION": "Basic "
        + base64.b64encode(f"alice:{ALICE_PASSWORD}".encode()).decode(),
        "wsgi.input": io.BytesIO(b"{}"),
    }
    status, _ = call(app, environ)
    assert status.startswith("400")  # never a token, even with right Basic credentials


def test_a_body_that_arrives_in_small_reads_is_read_whole(users: MemoryUserStore) -> None:
    class Trickle(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            return super().read(1)  # a server may hand the body over in pieces

    body = json.dumps({"username": "alice", "password": ALICE_PASSWORD}).encode()
    app = AuthMiddleware(echo_app, users=users)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/tokens",
        "wsgi.url_scheme": "https",
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "wsgi.input": Trickle(body),
    }
    status, answer = call(app, environ)
    assert status.startswith("200")
    assert json.loads(answer)["userid"] == "alice"
