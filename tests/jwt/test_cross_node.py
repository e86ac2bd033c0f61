"""Two AuthMiddleware instances (two nodes) with JWT tokens and one shared revocation record."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryUserStore
from restauth.tokens.jwt import JWTKey, JWTTokenManager
from restauth.tokens.revocation import (
    CachedRevocation,
    MemoryRevocation,
    RevocationStore,
    SQLiteRevocation,
)
from tests.conftest import ALICE_PASSWORD, FakeClock, basic, echo_app
from tests.jwt.conftest import HS_SECRET

TTL, MAX_LIFETIME = 100, 10_000


def node(
    users: MemoryUserStore, clock: FakeClock, revocation: RevocationStore, **options: Any
) -> TestApp:
    tokens = JWTTokenManager(
        JWTKey(HS_SECRET), ttl=TTL, max_lifetime=MAX_LIFETIME, clock=clock, revocation=revocation
    )
    return TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens, throttle=None, **options))


@pytest.fixture
def nodes(
    users: MemoryUserStore, clock: FakeClock, make_revocation: Callable[[], RevocationStore]
) -> tuple[TestApp, TestApp]:
    return node(users, clock, make_revocation()), node(users, clock, make_revocation())


def login(client: TestApp) -> str:
    body = client.post_json("/tokens", {"username": "alice", "password": ALICE_PASSWORD}).json
    token: str = body["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_issue_verify_renew_revoke_across_nodes(
    nodes: tuple[TestApp, TestApp], clock: FakeClock
) -> None:
    a, b = nodes
    token = login(a)
    response = b.get("/x", headers=bearer(token))
    assert response.json["userid"] == "alice"
    assert response.json["mechanism"] == "token"
    assert response.headers["Auth-Token"] == token  # young: the same token comes back
    clock.advance(TTL / 2)
    renewed = b.get("/x", headers=bearer(token)).headers["Auth-Token"]
    assert renewed != token  # past half its idle life: re-signed with a new exp
    clock.advance(TTL / 2)
    a.get("/x", headers=bearer(token), status=401)  # the old one ran out
    a.get("/x", headers=bearer(renewed), status=200)
    b.delete("/tokens/alice", headers=bearer(renewed), status=204)
    response = a.get("/x", headers=bearer(renewed), status=401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    fresh = login(a)  # logging in again right away works on both nodes
    b.get("/x", headers=bearer(fresh), status=200)


def test_basic_login_gets_a_jwt_and_token_as_password_works(
    nodes: tuple[TestApp, TestApp],
) -> None:
    a, b = nodes
    token = a.get("/x", headers={"Authorization": basic("alice", ALICE_PASSWORD)}).headers[
        "Auth-Token"
    ]
    assert token.count(".") == 2
    assert len(token) > 256
    response = b.get("/x", headers={"Authorization": basic("alice", token)})
    assert response.json["mechanism"] == "token-basic"
    b.get("/x", headers={"Authorization": basic("bob", token)}, status=401)  # not bob's


def test_password_change_kills_tokens_everywhere(
    nodes: tuple[TestApp, TestApp], users: MemoryUserStore
) -> None:
    a, b = nodes
    token = login(a)
    users.set_password("alice", "a new password")
    b.get("/x", headers=bearer(token), status=401)


def test_token_endpoints(nodes: tuple[TestApp, TestApp]) -> None:
    a, b = nodes
    token = login(a)
    info = b.get("/tokens/alice", headers=bearer(token)).json
    assert info["userid"] == "alice"
    assert info["valid_until"].endswith("Z")
    b.get("/tokens/bob", headers=bearer(token), status=403)
    assert b.get("/roles/alice", headers=bearer(token)).json["roles"] == ["admin", "user"]


def test_cached_revocation_reaches_other_nodes_within_its_bound(
    users: MemoryUserStore, clock: FakeClock
) -> None:
    shared = MemoryRevocation()
    monotonic = FakeClock(0.0)
    cached = CachedRevocation(shared, max_staleness=5, clock=clock, monotonic=monotonic)
    a, b = node(users, clock, cached), node(users, clock, shared)
    token = login(b)
    a.get("/x", headers=bearer(token), status=200)
    b.delete("/tokens/alice", headers=bearer(token), status=204)
    a.get("/x", headers=bearer(token), status=200)  # within the documented staleness
    monotonic.advance(5)
    a.get("/x", headers=bearer(token), status=401)


def test_revocation_store_down_is_503(users: MemoryUserStore, clock: FakeClock) -> None:
    from restauth.tokens.revocation import RedisRevocation
    from tests.services import free_port

    pytest.importorskip("redis")
    dead = RedisRevocation(f"redis://127.0.0.1:{free_port()}/0")
    key = JWTKey(HS_SECRET)
    token = JWTTokenManager(key, clock=clock).issue("alice", users.get("alice").stamp).token  # type: ignore[union-attr]
    tokens = JWTTokenManager(key, clock=clock, revocation=dead)
    app = TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens, throttle=None))
    response = app.get("/x", headers=bearer(token), status=503)
    assert "Retry-After" in response.headers
    app.get("/x", headers=bearer("forged." + token.split(".", 1)[1]), status=401)  # no I/O
    dead.close()


def test_cookie_mode_with_jwt(users: MemoryUserStore, clock: FakeClock) -> None:
    app = node(users, clock, MemoryRevocation(), cookie=True)
    login = {"username": "alice", "password": ALICE_PASSWORD}
    app.post_json("/tokens", login, headers={"X-Requested-With": "fetch"})  # cookie-mode login
    assert app.get("/x").json["mechanism"] == "cookie"


def test_one_redis_round_trip_per_token_request(users: MemoryUserStore, clock: FakeClock) -> None:
    from restauth.tokens.revocation import RedisRevocation
    from tests.storage.test_round_trips import counting_redis_client

    client = counting_redis_client()
    revocation = RedisRevocation(client, prefix=f"restauth-test:{id(client)}:")
    app = node(users, clock, revocation)
    token = login(app)
    app.get("/x", headers=bearer(token), status=200)  # loads the script (EVALSHA, EVAL)
    client.commands.clear()
    for _ in range(3):
        app.get("/x", headers=bearer(token), status=200)
    # One script reads the user's "not before" instant and the session's floor together.
    assert client.commands == ["EVALSHA"] * 3
    for key in client.scan_iter(match=revocation.prefix + "*"):
        client.delete(key)
    client.close()


def test_sqlite_token_request_is_one_statement(
    users: MemoryUserStore, clock: FakeClock, tmp_path: Path
) -> None:
    revocation = SQLiteRevocation(tmp_path / "r.db")
    app = node(users, clock, revocation)
    token = login(app)
    statements: list[str] = []
    revocation.database.connection().set_trace_callback(statements.append)
    for _ in range(3):
        app.get("/x", headers=bearer(token), status=200)
    assert len(statements) == 3
    assert all(s.startswith("SELECT") for s in statements)
    revocation.close()


def test_cached_token_request_is_no_round_trip(users: MemoryUserStore, clock: FakeClock) -> None:
    backing = MemoryRevocation()
    monotonic = FakeClock(0.0)
    cached = CachedRevocation(backing, max_staleness=5, clock=clock, monotonic=monotonic)
    app = node(users, clock, cached)
    token = login(app)
    app.get("/x", headers=bearer(token), status=200)  # the first check reads the snapshot
    touched: list[str] = []
    backing.check = lambda *a: touched.append("check")  # type: ignore[assignment,method-assign,return-value]
    backing.snapshot = lambda *a: touched.append("snapshot")  # type: ignore[assignment,method-assign,return-value]
    for _ in range(3):
        clock.advance(1)
        app.get("/x", headers=bearer(token), status=200)
    assert touched == []
