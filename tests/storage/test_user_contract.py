"""The writable user store contract, run against every store (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import unicodedata

import pytest

from restauth import PasswordHasher, RestauthError, UnknownUser, UserExists
from restauth.users import WritableUserStore
from tests.storage.conftest import UserFactory


def test_add_and_get(make_users: UserFactory, hasher: PasswordHasher) -> None:
    users = make_users()
    added = users.add("alice", "s3cret-passphrase", roles=["user", "admin"])
    found = users.get("alice")
    assert found == added
    assert found.roles == frozenset({"user", "admin"})
    assert hasher.verify("s3cret-passphrase", found.password_hash)
    assert "s3cret-passphrase" not in found.password_hash
    assert users.get("ALICE") is None  # userids are case-sensitive
    assert users.get("nobody") is None


def test_duplicate_userid_is_refused(make_users: UserFactory) -> None:
    """Every store raises the same exception: a RestauthError, and a ValueError as before."""
    users = make_users()
    users.add("alice", "first passphrase")
    with pytest.raises(UserExists, match="already exists") as refused:
        users.add("alice", "second passphrase")
    assert isinstance(refused.value, RestauthError)
    assert isinstance(refused.value, ValueError)
    assert users.get("alice") is not None


def test_duplicate_hashed_userid_is_refused(
    make_users: UserFactory, hasher: PasswordHasher
) -> None:
    users = make_users()
    users.add("alice", "first passphrase")
    with pytest.raises(UserExists, match="already exists"):
        users.add_hashed("alice", hasher.hash("second passphrase"))


def test_userid_is_stored_in_nfc(make_users: UserFactory) -> None:
    users = make_users()
    decomposed = unicodedata.normalize("NFD", "zoë")
    user = users.add(decomposed, "correct horse battery")
    assert user.userid == "zoë"
    assert users.get("zoë") is not None
    with pytest.raises(UserExists, match="already exists"):
        users.add("zoë", "correct horse battery")


@pytest.mark.parametrize("userid", ["", "a:b", "tab\there", "ᴮᴵᴳᴮᴵᴿᴰ", " lead"])
def test_bad_userids_are_refused(make_users: UserFactory, userid: str) -> None:
    with pytest.raises(ValueError, match="userid"):
        make_users().add(userid, "correct horse battery")


@pytest.mark.parametrize("roles", [["has space"], ["a,b"], [""]])
def test_bad_roles_are_refused(make_users: UserFactory, roles: list[str]) -> None:
    with pytest.raises(ValueError, match="role"):
        make_users().add("alice", "correct horse battery", roles=roles)


def test_set_password_changes_the_stamp(make_users: UserFactory, hasher: PasswordHasher) -> None:
    users = make_users()
    before = users.add("alice", "old passphrase 1", roles=["user"])
    after = users.set_password("alice", "new passphrase 2")
    assert after.stamp != before.stamp
    assert users.get("alice") == after
    assert after.roles == frozenset({"user"})
    assert hasher.verify("new passphrase 2", after.password_hash)
    assert not hasher.verify("old passphrase 1", after.password_hash)


def test_set_roles_keeps_the_stamp(make_users: UserFactory) -> None:
    users = make_users()
    before = users.add("alice", "correct horse battery", roles=["user"])
    after = users.set_roles("alice", ["admin", "user"])
    assert after.stamp == before.stamp
    assert users.get("alice").roles == frozenset({"admin", "user"})
    assert users.set_roles("alice", []).roles == frozenset()
    assert users.get("alice").roles == frozenset()


def test_changes_to_unknown_users_raise_unknown_user(make_users: UserFactory) -> None:
    """Every store raises the same exception: a RestauthError, and a KeyError as before."""
    users = make_users()
    with pytest.raises(UnknownUser) as refused:
        users.set_password("ghost", "correct horse battery")
    assert refused.value.args == ("ghost",)
    assert isinstance(refused.value, RestauthError)
    assert isinstance(refused.value, KeyError)
    with pytest.raises(UnknownUser):
        users.set_roles("ghost", ["user"])
    assert users.remove("ghost") is False


def test_changes_to_a_removed_user_raise_unknown_user(make_users: UserFactory) -> None:
    users = make_users()
    users.add("alice", "correct horse battery")
    assert users.remove("alice") is True
    with pytest.raises(UnknownUser):
        users.set_password("alice", "new passphrase 2")
    with pytest.raises(UnknownUser):
        users.set_roles("alice", [])
    assert users.remove("alice") is False


def test_remove_and_list(make_users: UserFactory) -> None:
    users = make_users()
    for userid in ["carol", "alice", "bob"]:
        users.add(userid, "correct horse battery")
    assert list(users.userids()) == ["alice", "bob", "carol"]
    assert users.remove("bob") is True
    assert users.get("bob") is None
    assert list(users.userids()) == ["alice", "carol"]


def test_add_hashed(make_users: UserFactory, hasher: PasswordHasher) -> None:
    users = make_users()
    users.add_hashed("alice", hasher.hash("correct horse battery"), roles=["user"])
    assert hasher.verify("correct horse battery", users.get("alice").password_hash)


def test_stores_share_the_database(make_users: UserFactory) -> None:
    """Two stores on one database (two nodes) see each other's changes at once."""
    node_a, node_b = make_users(), make_users()
    node_a.add("alice", "correct horse battery", roles=["user"])
    assert node_b.get("alice") is not None
    node_b.set_roles("alice", ["admin"])
    assert node_a.get("alice").roles == frozenset({"admin"})
    stamp = node_a.set_password("alice", "new passphrase 2").stamp
    assert node_b.get("alice").stamp == stamp
    node_b.remove("alice")
    assert node_a.get("alice") is None


def test_replace_hash_keeps_the_stamp(make_users: UserFactory, hasher: PasswordHasher) -> None:
    """A rehash on login swaps the hash of the same password; sessions must live on."""
    users = make_users()
    before = users.add("alice", "correct horse battery", roles=["user"])
    stronger = PasswordHasher(rounds=5).hash("correct horse battery")
    assert users.replace_hash("alice", before.password_hash, stronger) is True
    after = users.get("alice")
    assert after.password_hash == stronger
    assert after.stamp == before.stamp
    assert after.roles == before.roles
    assert users.set_roles("alice", ["admin"]).stamp == before.stamp  # still, after a rehash
    assert users.get("alice").stamp == before.stamp


def test_replace_hash_loses_to_a_password_change(make_users: UserFactory) -> None:
    """Compare-and-set on the old hash: a change made since the login was read wins."""
    node_a, node_b = make_users(), make_users()
    read_at_login = node_a.add("alice", "old passphrase 1").password_hash
    changed = node_b.set_password("alice", "new passphrase 2")
    rehash = PasswordHasher(rounds=5).hash("old passphrase 1")
    assert node_a.replace_hash("alice", read_at_login, rehash) is False
    assert node_a.get("alice") == changed


def test_replace_hash_of_an_unknown_user_writes_nothing(make_users: UserFactory) -> None:
    users = make_users()
    assert users.replace_hash("ghost", "old", "new") is False
    assert users.get("ghost") is None


def test_every_store_is_writable(make_users: UserFactory) -> None:
    """The authenticator rehashes only through the declared protocol."""
    assert isinstance(make_users(), WritableUserStore)
