"""With in-process stores the ASGI adapter decides a Basic request inline unless a hash
must be checked: a password the password cache remembers, a token as password and a
throttled guess need no thread; a first login, a wrong password, an unknown or disabled
user go to one, counted and audited once."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

from restauth import MemoryTokenManager, MemoryUserStore, PasswordHasher
from restauth.asgi import AuthMiddleware
from tests.adapters import run_async

PASSWORD = "a long enough passphrase"


def basic(userid: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{userid}:{password}".encode())


def status(middleware: AuthMiddleware, authorization: bytes) -> int:
    sent: list[Any] = []
    scope = {
        "type": "http", "method": "GET", "path": "/", "query_string": b"", "scheme": "https",
        "headers": [(b"host", b"localhost"), (b"authorization", authorization)],
        "server": ("localhost", 443), "client": ("203.0.113.9", 5000),
    }  # fmt: skip

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    middleware.app = app
    run_async(middleware(scope, receive, send))
    code: int = sent[0]["status"]
    return code


def test_a_remembered_password_is_decided_inline(thread_calls: list[object]) -> None:
    users = MemoryUserStore(PasswordHasher(rounds=4))
    users.add("alice", PASSWORD)
    middleware = AuthMiddleware(lambda *a: None, users=users, tokens=MemoryTokenManager())
    assert status(middleware, basic("alice", PASSWORD)) == 200
    assert len(thread_calls) == 1  # the first login checks the hash: a thread
    assert status(middleware, basic("alice", PASSWORD)) == 200
    assert len(thread_calls) == 1  # remembered: inline
    assert status(middleware, basic("alice", "a wrong passphrase")) == 401
    assert len(thread_calls) == 2  # a wrong password costs a hash check: a thread
    users.update("alice", disabled=True)
    assert status(middleware, basic("alice", PASSWORD)) == 401
    assert len(thread_calls) == 3  # a disabled user costs a dummy check: a thread too


def test_without_a_password_cache_every_basic_request_takes_a_thread(
    thread_calls: list[object],
) -> None:
    users = MemoryUserStore(PasswordHasher(rounds=4))
    users.add("alice", PASSWORD)
    middleware = AuthMiddleware(lambda *a: None, users=users, password_cache=None)
    for _ in range(2):
        assert status(middleware, basic("alice", PASSWORD)) == 200
    assert len(thread_calls) == 2


def test_a_password_to_check_is_tried_inline_then_decided_once_in_a_thread(
    thread_calls: list[object], caplog: pytest.LogCaptureFixture
) -> None:
    """The inline try stops at the hash check, before anything is counted or logged: a
    wrong password or an unknown user is counted by the throttle once, audited once."""
    users = MemoryUserStore(PasswordHasher(rounds=4))
    users.add("alice", PASSWORD)
    middleware = AuthMiddleware(lambda *a: None, users=users, tokens=MemoryTokenManager())
    throttle = middleware.options.throttle
    assert throttle is not None
    with caplog.at_level(logging.INFO, logger="restauth.audit"):
        assert status(middleware, basic("alice", "a wrong passphrase")) == 401
        assert status(middleware, basic("nobody", "a wrong passphrase")) == 401
    assert len(thread_calls) == 2
    counters = throttle.store.get_many(["u:alice", "u:nobody", "a:203.0.113.9"])
    assert [counter.count if counter else 0 for counter in counters] == [1, 1, 2]
    failures = [r.getMessage() for r in caplog.records if "login.failure" in r.getMessage()]
    assert len(failures) == 2
    assert 'userid="alice"' in failures[0]
    assert 'userid="nobody"' in failures[1]


def test_a_token_as_password_is_decided_inline(thread_calls: list[object]) -> None:
    users = MemoryUserStore(PasswordHasher(rounds=4))
    users.add("alice", PASSWORD)
    users.add("bob", "another long passphrase")
    tokens = MemoryTokenManager()
    alice = users.get("alice")
    assert alice is not None
    token = tokens.issue("alice", alice.stamp).token
    middleware = AuthMiddleware(lambda *a: None, users=users, tokens=tokens)
    assert status(middleware, basic("alice", token)) == 200
    assert thread_calls == []
    assert status(middleware, basic("bob", token)) == 401  # alice's token: bob's hash checked
    assert status(middleware, basic("carol", token)) == 401  # nobody: the dummy check
    assert len(thread_calls) == 2


def test_a_throttled_password_is_refused_inline(thread_calls: list[object]) -> None:
    users = MemoryUserStore(PasswordHasher(rounds=4))
    users.add("alice", PASSWORD)
    middleware = AuthMiddleware(lambda *a: None, users=users, tokens=MemoryTokenManager())
    statuses = [status(middleware, basic("alice", f"wrong guess {n}")) for n in range(8)]
    assert statuses[0] == 401
    assert 429 in statuses  # the throttle's wait: no hash checked
    checked = statuses.index(429)
    assert len(thread_calls) == checked  # each 401 checked a hash in a thread; each 429 none
