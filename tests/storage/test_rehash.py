"""Rehash on login, through the middleware, on every user store: a weaker stored hash is
replaced after one successful password login, and no session ends (the stamp stays).

These stores use the default hasher (bcrypt cost 12), as a deployment would.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import argon2
import bcrypt
import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore, PasswordHasher
from restauth.passwords.hasher import V1_PREFIX, V2_PREFIX
from restauth.users.sqlite import SQLiteUserStore
from tests.conftest import basic, echo_app

PASSWORD = "correct horse battery staple"


def cost_of(stored: str) -> int:
    """bcrypt's cost, for restauth's prefixed hashes and plain ones alike."""
    return int(stored.split("$")[-2])


def cost_4_imports() -> dict[str, str]:
    """Hashes a migration might bring, all at bcrypt's lowest cost."""
    unkeyed = base64.b64encode(hashlib.sha256(PASSWORD.encode()).digest())
    return {
        "plain": bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode(),
        "v1": V1_PREFIX + bcrypt.hashpw(unkeyed, bcrypt.gensalt(4)).decode(),
        "v2": PasswordHasher(rounds=4).hash(PASSWORD),
    }


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A factory of stores of one backend, sharing one database, with a chosen hasher."""
    made: list[Any] = []

    def make(hasher: PasswordHasher | None = None) -> Any:
        store: Any
        if request.param == "memory":
            if made:
                return made[0]
            store = MemoryUserStore(hasher=hasher)
        elif request.param == "sqlite":
            store = SQLiteUserStore(tmp_path / "users.db", hasher=hasher)
        else:
            from restauth.users.postgres import PostgresUserStore

            dsn = request.getfixturevalue("postgres_schema_dsn")
            store = PostgresUserStore(dsn, hasher=hasher, timeout=5)
        made.append(store)
        return store

    yield make
    for store in made:
        if hasattr(store, "close"):
            store.close()


def wrap(users: Any, hasher: PasswordHasher | None = None) -> tuple[TestApp, MemoryTokenManager]:
    """The middleware; ``hasher`` is the setting it runs with now (default: the store's)."""
    tokens = MemoryTokenManager()
    app = AuthMiddleware(echo_app, users=users, tokens=tokens, password_hasher=hasher)
    return TestApp(app), tokens


@pytest.mark.parametrize("kind", ["plain", "v1", "v2"])
@pytest.mark.parametrize("how", ["basic", "login"])
def test_one_login_upgrades_a_cost_4_import_and_keeps_every_session(
    make_store: Any, kind: str, how: str
) -> None:
    users = make_store()
    assert users.hasher.rounds == 12  # a default store
    imported = users.add_hashed("alice", cost_4_imports()[kind], roles=["user"]).password_hash
    client, tokens = wrap(users)
    stamp = users.get("alice").stamp
    earlier = tokens.issue("alice", stamp).token  # a session from before the upgrade

    if how == "basic":
        client.get("/", headers={"Authorization": basic("alice", PASSWORD)}, status=200)
    else:
        login = client.post_json("/tokens", {"username": "alice", "password": PASSWORD})
        client.get("/", headers={"Authorization": f"Bearer {login.json['token']}"}, status=200)

    upgraded = users.get("alice")
    assert upgraded.password_hash != imported
    assert upgraded.password_hash.startswith(V2_PREFIX)
    assert cost_of(upgraded.password_hash) >= 10
    assert upgraded.stamp == stamp  # a rehash is not a password change
    assert upgraded.roles == frozenset({"user"})
    response = client.get("/", headers={"Authorization": f"Bearer {earlier}"}, status=200)
    assert response.json["userid"] == "alice"
    client.get("/", headers={"Authorization": basic("alice", PASSWORD)}, status=200)
    client.get("/", headers={"Authorization": basic("alice", PASSWORD + "!")}, status=401)


def test_another_node_sees_the_upgrade(make_store: Any) -> None:
    """Two processes on one database: the first login upgrades it for both."""
    node_a, node_b = make_store(), make_store()
    node_a.add_hashed("alice", cost_4_imports()["v1"])
    client_b, _ = wrap(node_b)
    client_b.get("/", headers={"Authorization": basic("alice", PASSWORD)}, status=200)
    assert cost_of(node_a.get("alice").password_hash) == 12


def test_a_changed_scheme_migrates_bcrypt_users_to_argon2id(make_store: Any) -> None:
    users = make_store(PasswordHasher(rounds=4))
    users.add("alice", PASSWORD)  # a bcrypt user, from before the change
    stamp = users.get("alice").stamp
    client, tokens = wrap(users, PasswordHasher(scheme="argon2id"))  # the new setting
    earlier = tokens.issue("alice", stamp).token
    client.get("/", headers={"Authorization": basic("alice", PASSWORD)}, status=200)
    migrated = users.get("alice")
    assert migrated.password_hash.startswith("$argon2id$")
    assert not argon2.PasswordHasher().check_needs_rehash(migrated.password_hash)
    assert migrated.stamp == stamp
    client.get("/", headers={"Authorization": f"Bearer {earlier}"}, status=200)
    client.get("/", headers={"Authorization": basic("alice", PASSWORD)}, status=200)


def test_argon2id_users_verify_under_bcrypt_and_move_back_to_it(make_store: Any) -> None:
    users = make_store(PasswordHasher(scheme="argon2id"))
    users.add("alice", PASSWORD)
    client, _ = wrap(users, PasswordHasher(rounds=10))
    client.get("/", headers={"Authorization": basic("alice", PASSWORD)}, status=200)
    stored = users.get("alice").password_hash
    assert stored.startswith(V2_PREFIX)
    assert cost_of(stored) == 10


def test_unknown_user_under_argon2id_costs_one_argon2id_check(
    make_store: Any, monkeypatch: pytest.MonkeyPatch, bcrypt_calls: list[bytes]
) -> None:
    users = make_store(PasswordHasher(scheme="argon2id"))
    users.add("alice", PASSWORD)
    client, _ = wrap(users)
    client.get("/", headers={"Authorization": basic("ghost", "x")}, status=401)  # warm up
    checked: list[str] = []
    real = argon2.PasswordHasher.verify

    def counting(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        checked.append(str(hash))
        return real(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)
    for userid in ("ghost", "alice"):  # unknown, then wrong password: the same work
        checked.clear()
        client.get("/", headers={"Authorization": basic(userid, "wrong")}, status=401)
        assert len(checked) == 1, userid
        assert checked[0].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert bcrypt_calls == []
