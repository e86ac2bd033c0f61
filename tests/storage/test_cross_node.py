"""Two independent AuthMiddleware instances (two nodes) sharing their stores.

The deployments tested: memory (one process: the same objects), SQLite users and tokens
in one file (one machine), PostgreSQL users with Redis tokens (many machines).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryUserStore, PasswordHasher, SQLiteUserStore
from tests.conftest import BOB_PASSWORD, FakeClock, basic, echo_app
from tests.storage.conftest import STORED_TOKEN_BACKENDS, TokenFactory


@pytest.fixture
def shared_users(
    token_backend: str, tmp_path: Path, hasher: PasswordHasher, request: pytest.FixtureRequest
) -> Any:
    users: Any
    if token_backend == "memory":
        users = MemoryUserStore(hasher=hasher)
    elif token_backend == "sqlite":
        users = SQLiteUserStore(tmp_path / "restauth.db", hasher=hasher)
    else:
        from restauth.users.postgres import PostgresUserStore

        users = PostgresUserStore(request.getfixturevalue("postgres_schema_dsn"), hasher=hasher)
    users.add("alice", "wonderland-key-7", roles=["user"])
    users.add("bob", BOB_PASSWORD, roles=["user"])
    yield users
    if hasattr(users, "close"):
        users.close()


@pytest.fixture
def nodes(make_tokens: TokenFactory, shared_users: Any) -> tuple[TestApp, TestApp]:
    def node() -> TestApp:
        tokens = make_tokens(ttl=100, max_lifetime=10_000)
        return TestApp(AuthMiddleware(echo_app, users=shared_users, tokens=tokens, throttle=None))

    return node(), node()


def login(client: TestApp, userid: str = "alice", password: str = "wonderland-key-7") -> str:
    response = client.post_json("/tokens", {"username": userid, "password": password})
    token: str = response.json["token"]
    return token


def test_token_from_a_works_on_b(nodes: tuple[TestApp, TestApp]) -> None:
    node_a, node_b = nodes
    token = login(node_a)
    response = node_b.get("/x", headers={"Authorization": f"Bearer {token}"})
    assert response.json["userid"] == "alice"
    assert response.headers["Auth-Token"] == token
    as_password = node_b.get("/x", headers={"Authorization": basic("alice", token)})
    assert as_password.json["mechanism"] == "token-basic"
    again = login(node_b)  # a second login, on the other node: a session of its own
    assert again != token
    for node in (node_a, node_b):
        for value in (token, again):
            node.get("/x", headers={"Authorization": f"Token {value}"}, status=200)


def test_sessions_are_shared_by_the_nodes(nodes: tuple[TestApp, TestApp]) -> None:
    node_a, node_b = nodes
    laptop = node_a.post_json("/tokens", {"username": "alice", "password": "wonderland-key-7"}).json
    phone = node_b.post_json("/tokens", {"username": "alice", "password": "wonderland-key-7"}).json
    mine = {"Authorization": f"Token {phone['token']}"}
    listed = node_a.get("/tokens/alice", headers=mine).json["sessions"]
    assert [(s["id"], s["current"]) for s in listed] == [
        (laptop["session"], False),
        (phone["session"], True),
    ]
    node_a.delete(f"/tokens/alice/{laptop['session']}", headers=mine, status=204)
    node_b.get("/x", headers={"Authorization": f"Token {laptop['token']}"}, status=401)
    renewed = node_b.post("/tokens?renew=true", headers=mine).json
    node_a.get("/x", headers=mine, status=401)  # the rotated-away token, on the other node
    node_a.get("/x", headers={"Authorization": f"Token {renewed['token']}"}, status=200)
    node_a.delete(
        "/tokens/alice?all=true", headers={"Authorization": basic("alice", "wonderland-key-7")}
    )
    node_b.get("/x", headers={"Authorization": f"Token {renewed['token']}"}, status=401)


def test_logout_on_a_is_refused_on_b_at_once(nodes: tuple[TestApp, TestApp]) -> None:
    node_a, node_b = nodes
    token = login(node_a)
    auth = {"Authorization": f"Token {token}"}
    node_b.get("/x", headers=auth, status=200)
    node_a.delete("/tokens/alice", headers=auth, status=204)
    response = node_b.get("/x", headers=auth, status=401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    node_b.get("/x", headers={"Authorization": basic("alice", token)}, status=401)


@pytest.mark.parametrize("token_backend", STORED_TOKEN_BACKENDS, indirect=True)
def test_renewal_on_b_extends_for_a(nodes: tuple[TestApp, TestApp], clock: FakeClock) -> None:
    node_a, node_b = nodes
    token = login(node_a)
    auth = {"Authorization": f"Bearer {token}"}
    for node in (node_b, node_a, node_b, node_a):
        clock.advance(80)  # each step is within the 100 s idle timeout of the last use
        node.get("/x", headers=auth, status=200)
    clock.advance(101)
    node_a.get("/x", headers=auth, status=401)
    node_b.get("/x", headers=auth, status=401)


def test_password_change_on_a_kills_tokens_on_b(
    nodes: tuple[TestApp, TestApp], shared_users: Any
) -> None:
    node_a, node_b = nodes
    token = login(node_a)
    shared_users.set_password("alice", "changed passphrase")
    node_b.get("/x", headers={"Authorization": f"Token {token}"}, status=401)
    node_b.get("/x", headers={"Authorization": basic("alice", "wonderland-key-7")}, status=401)
    assert login(node_b, password="changed passphrase") != token


def test_removed_user_and_roles_take_effect_everywhere(
    nodes: tuple[TestApp, TestApp], shared_users: Any
) -> None:
    node_a, node_b = nodes
    token = login(node_a)
    auth = {"Authorization": f"Token {token}"}
    shared_users.set_roles("alice", ["user", "admin"])
    assert node_b.get("/x", headers=auth).json["roles"] == ["admin", "user"]
    shared_users.remove("alice")
    node_a.get("/x", headers=auth, status=401)
    node_b.get("/x", headers=auth, status=401)
    node_b.get("/roles/alice", headers=auth, status=401)


def test_another_users_token_endpoint_is_forbidden_on_every_node(
    nodes: tuple[TestApp, TestApp],
) -> None:
    node_a, node_b = nodes
    alice = login(node_a)
    bob = login(node_b, "bob", BOB_PASSWORD)
    node_b.delete("/tokens/bob", headers={"Authorization": f"Token {alice}"}, status=403)
    node_a.get("/x", headers={"Authorization": f"Token {bob}"}, status=200)
