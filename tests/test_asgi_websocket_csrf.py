"""Cross-site websocket hijacking: in cookie mode a browser sends the session cookie with a
handshake another site's page opens, and no script can add the CSRF header to a handshake,
so the ASGI adapter refuses a handshake whose Origin is another site's, before ``accept``."""

from __future__ import annotations

from typing import Any

import pytest

from restauth import CookieMode, MemoryTokenManager, MemoryUserStore, PasswordHasher
from restauth.asgi import AuthMiddleware
from tests.adapters import run_async

PASSWORD = "a long enough passphrase"


def handshake(middleware: AuthMiddleware, headers: list[tuple[bytes, bytes]]) -> list[Any]:
    sent: list[Any] = []
    scope = {
        "type": "websocket", "path": "/ws", "query_string": b"", "headers": headers,
        "scheme": "wss", "server": ("app.example", 443), "client": ("203.0.113.9", 5000),
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        sent.append(message)

    run_async(middleware(scope, receive, send))  # not in this thread: see tests/adapters.py
    return sent


@pytest.fixture
def cookie_site() -> tuple[AuthMiddleware, str]:
    users = MemoryUserStore(PasswordHasher(rounds=4))
    users.add("alice", PASSWORD)
    tokens = MemoryTokenManager()
    grant = tokens.issue("alice", users.get("alice").stamp)  # type: ignore[union-attr]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "websocket.accept"})

    middleware = AuthMiddleware(app, users=users, tokens=tokens, cookie=CookieMode())
    return middleware, grant.token


def test_a_same_site_handshake_with_the_cookie_is_accepted(
    cookie_site: tuple[AuthMiddleware, str],
) -> None:
    middleware, token = cookie_site
    headers = [(b"host", b"app.example"), (b"origin", b"https://app.example"),
               (b"cookie", f"__Host-restauth={token}".encode())]  # fmt: skip
    assert handshake(middleware, headers) == [{"type": "websocket.accept"}]


@pytest.mark.parametrize("origin", [b"https://evil.example", b"null", b"http://app.example"])
def test_a_cross_site_handshake_is_refused_before_accept(
    cookie_site: tuple[AuthMiddleware, str], origin: bytes
) -> None:
    middleware, token = cookie_site
    headers = [(b"host", b"app.example"), (b"origin", origin),
               (b"cookie", f"__Host-restauth={token}".encode())]  # fmt: skip
    sent = handshake(middleware, headers)
    assert sent == [{"type": "websocket.close", "code": 1008}]
