"""What accounts do to sessions, on every token manager (memory, SQLite, Redis, PostgreSQL,
JWT): a disabled user's sessions end and stay ended, a password change ends the others
and hands the caller a working new one, a reset ends them all."""

from __future__ import annotations

from typing import Any

from webtest import TestApp

from restauth import Accounts, AuthMiddleware, MemoryUserStore, PasswordHasher
from tests.conftest import basic, echo_app
from tests.storage.conftest import TokenFactory

ROOT = ("root", "keeper of the keys")
ALICE = ("alice", "wonderland rabbit hole")
NEW = "through the looking glass"


def site(make_tokens: TokenFactory) -> tuple[TestApp, Any, list[str]]:
    users = MemoryUserStore(PasswordHasher(rounds=4))
    users.add(*ROOT, roles=["admin"])
    users.add(*ALICE)
    sent: list[str] = []
    middleware = AuthMiddleware(
        echo_app,
        users=users,
        tokens=make_tokens(),
        admin_role="admin",
        accounts=Accounts("open", notifier=lambda userid, purpose, token: sent.append(token)),
    )
    return TestApp(middleware), middleware, sent


def login(client: TestApp, who: tuple[str, str]) -> str:
    token: str = client.post("/tokens", headers={"Authorization": basic(*who)}).json["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_disable_ends_every_session_for_good(make_tokens: TokenFactory) -> None:
    client, _, _ = site(make_tokens)
    tokens = [login(client, ALICE) for _ in range(2)]
    root = {"Authorization": basic(*ROOT)}
    client.patch_json("/users/alice", {"disabled": True}, headers=root)
    for token in tokens:
        client.get("/", headers=bearer(token), status=401)
        client.get("/", headers={"Authorization": basic("alice", token)}, status=401)
    client.get("/", headers={"Authorization": basic(*ALICE)}, status=401)
    client.patch_json("/users/alice", {"disabled": False}, headers=root)
    for token in tokens:  # enabling again revives nothing
        client.get("/", headers=bearer(token), status=401)
    client.get("/", headers={"Authorization": basic(*ALICE)}, status=200)


def test_password_change_and_reset_end_sessions(make_tokens: TokenFactory) -> None:
    client, middleware, sent = site(make_tokens)
    caller, other = login(client, ALICE), login(client, ALICE)
    body = {"current_password": ALICE[1], "new_password": NEW}
    renewed = client.put_json("/users/alice/password", body, headers=bearer(caller)).json["token"]
    client.get("/", headers=bearer(caller), status=401)
    client.get("/", headers=bearer(other), status=401)
    client.get("/", headers=bearer(renewed), status=200)
    client.post_json("/users/password-reset", {"username": "alice"}, status=202)
    accounts = middleware.pipeline.endpoints.accounts
    assert accounts is not None
    accounts.context.outbox.join()
    confirm = {"token": sent[-1], "new_password": "the final passphrase"}
    client.post_json("/users/password-reset/confirm", confirm, status=204)
    client.get("/", headers=bearer(renewed), status=401)
    client.get("/", headers={"Authorization": basic("alice", "the final passphrase")}, status=200)
