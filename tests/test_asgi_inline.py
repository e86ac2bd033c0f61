"""A Basic password the password cache remembers is decided inline by the ASGI adapter
(in-process stores): no hash is checked, so no worker thread is needed; any other Basic
request (a first login, a wrong password, a disabled user) still goes to a thread."""

from __future__ import annotations

import base64
from typing import Any

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
