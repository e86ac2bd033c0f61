"""Stored hashes seen through the middleware: an empty password never passes, and a corrupt
hash is a plain 401 for the client and an ERROR (with the userid, never the hash) for the
operator."""

from __future__ import annotations

import base64
import hashlib
import logging

import bcrypt
import pytest
from webtest import TestApp

from restauth import MemoryUserStore
from restauth.passwords.hasher import V1_PREFIX

from .conftest import basic

CORRUPT_HASH = "$restauth-bcrypt-sha256$v2$$2b$04$CORRUPTcorruptCORRUPT"


def hashes_of_the_empty_password() -> list[str]:
    """What ``add_hashed`` would import for a password of "" (a migration, a config file)."""
    unkeyed = base64.b64encode(hashlib.sha256(b"").digest())
    return [
        V1_PREFIX + bcrypt.hashpw(unkeyed, bcrypt.gensalt(4)).decode(),
        bcrypt.hashpw(b"", bcrypt.gensalt(4)).decode(),
    ]


@pytest.mark.parametrize("stored", hashes_of_the_empty_password())
def test_an_empty_password_is_never_valid_on_basic_or_at_login(
    users: MemoryUserStore, client: TestApp, stored: str
) -> None:
    users.add_hashed("blank", stored, roles=["user"])
    client.get("/", headers={"Authorization": basic("blank", "")}, status=401)
    client.post_json("/tokens", {"username": "blank", "password": ""}, status=401)
    client.post("/tokens", {"username": "blank", "password": ""}, status=401)  # a form
    client.post("/tokens", headers={"Authorization": basic("blank", "")}, status=401)


def test_a_corrupt_hash_is_a_standard_401_and_an_error_naming_the_user(
    users: MemoryUserStore, client: TestApp, caplog: pytest.LogCaptureFixture
) -> None:
    users.add_hashed("carol", CORRUPT_HASH, roles=["user"])
    wrong = client.get("/", headers={"Authorization": basic("alice", "nope")}, status=401)
    with caplog.at_level(logging.DEBUG):
        corrupt = client.get("/", headers={"Authorization": basic("carol", "pw")}, status=401)
        login = client.post_json("/tokens", {"username": "carol", "password": "pw"}, status=401)
    assert corrupt.headerlist == wrong.headerlist
    assert corrupt.body == wrong.body
    assert login.json["status"] == 401
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2  # one per attempt
    assert all("carol" in r.getMessage() for r in errors)
    for record in caplog.records:  # neither the hash nor any piece of it, anywhere
        text = record.getMessage() + str(record.args) + str(getattr(record, "restauth", ""))
        assert "CORRUPT" not in text
        assert "$2b$" not in text
        assert record.exc_info is None
