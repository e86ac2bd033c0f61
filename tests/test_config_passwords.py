"""``[users] scheme``: Argon2id chosen in the configuration file, bcrypt by default, and the
account hashes a file may hold (v1, v2, plain bcrypt, Argon2id)."""

from __future__ import annotations

import sys

import argon2
import bcrypt
import pytest
from webtest import TestApp

from restauth import ConfigError, from_config, load_config
from restauth.passwords.hasher import V1_PREFIX, PasswordHasher
from tests.conftest import basic, echo_app

V2_HASH = PasswordHasher(rounds=4).hash("wonderland-key-7")  # what `restauth hash-password` prints


def users_table(**users: object) -> dict[str, object]:
    return {"users": users, "tokens": {"kind": "memory"}}


def test_bcrypt_is_the_default_scheme() -> None:
    config = load_config({}, environ={})
    hasher = config.build_users().hasher  # type: ignore[attr-defined]
    assert hasher.scheme == "bcrypt"
    assert hasher.rounds == 12
    assert config.describe()["users"]["scheme"] == "bcrypt"


def test_argon2id_is_selectable() -> None:
    config = load_config(users_table(scheme="argon2id"), environ={})
    assert config.describe()["users"]["scheme"] == "argon2id"
    store = config.build_users()
    assert store.hasher.scheme == "argon2id"  # type: ignore[attr-defined]
    assert store.hasher.hash("pw").startswith("$argon2id$")  # type: ignore[attr-defined]


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"\[users\] scheme: must be one of bcrypt, argon2id"):
        load_config(users_table(scheme="scrypt"), environ={})


def test_argon2id_without_the_extra_is_a_start_up_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "argon2", None)
    with pytest.raises(ConfigError, match=r"pip install 'restauth\[argon2\]'"):
        load_config(users_table(scheme="argon2id"), environ={})


@pytest.mark.parametrize(
    "stored",
    [
        V2_HASH,
        V1_PREFIX + bcrypt.hashpw(b"x" * 44, bcrypt.gensalt(4)).decode(),
        bcrypt.hashpw(b"wonderland-key-7", bcrypt.gensalt(4)).decode(),
        argon2.PasswordHasher().hash("wonderland-key-7"),
    ],
)
def test_account_hashes_of_every_readable_format_are_accepted(stored: str) -> None:
    account = {"userid": "alice", "password_hash": stored}
    config = load_config(users_table(accounts=[account]), environ={})
    assert config.build_users().get("alice") is not None


@pytest.mark.parametrize(
    "stored", ["x", "$argon2id$v=19$m=1,t=1,p=1$", V2_HASH[:-1], "$restauth-bcrypt-sha256$v3$x"]
)
def test_malformed_account_hashes_are_refused(stored: str) -> None:
    account = {"userid": "alice", "password_hash": stored}
    with pytest.raises(ConfigError, match="password_hash: must be a bcrypt hash"):
        load_config(users_table(accounts=[account]), environ={})


def test_a_file_switched_to_argon2id_migrates_its_bcrypt_account_at_login() -> None:
    """The file's account holds a bcrypt hash; with scheme = argon2id, one login moves it."""
    account = {"userid": "alice", "password_hash": V2_HASH, "roles": ["user"]}
    middleware = from_config(
        echo_app, users_table(scheme="argon2id", accounts=[account]), environ={}
    )
    client = TestApp(middleware)
    client.get("/", headers={"Authorization": basic("alice", "wonderland-key-7")}, status=200)
    user = middleware.users.get("alice")
    assert user is not None
    assert user.password_hash.startswith("$argon2id$")
    client.get("/", headers={"Authorization": basic("alice", "wonderland-key-7")}, status=200)
