"""``Authenticator``: which store is asked what, and what each failure is called."""

from __future__ import annotations

import logging

import bcrypt
import pytest

from restauth.authenticator import Authenticated, Authenticator, Failure
from restauth.errors import StoreUnavailable
from restauth.passwords.cache import PasswordCache
from restauth.passwords.hasher import PasswordHasher
from restauth.tokens.base import DeadToken, TokenGrant
from restauth.tokens.memory import MemoryTokenManager
from restauth.users.base import User, UserStore, WritableUserStore
from restauth.users.memory import MemoryUserStore
from restauth.wire.credentials import BasicCredentials, TokenCredentials
from tests.conftest import FakeClock

HASHER = PasswordHasher(rounds=4)


@pytest.fixture
def users() -> MemoryUserStore:
    store = MemoryUserStore(hasher=HASHER)
    store.add("alice", "wonderland-key-7", roles=["admin"])
    store.add("bob", "pebble-key-42")
    return store


@pytest.fixture
def tokens() -> MemoryTokenManager:
    return MemoryTokenManager(clock=FakeClock())


@pytest.fixture
def auth(users: MemoryUserStore, tokens: MemoryTokenManager) -> Authenticator:
    return Authenticator(users, tokens, HASHER)


@pytest.fixture(autouse=True)
def warm_dummy_hash() -> None:
    """The dummy hash for unknown users is made on first use; make it before counting."""
    HASHER.verify("warm", None)


def token_of(userid: str, users: MemoryUserStore, tokens: MemoryTokenManager) -> TokenGrant:
    """Issue ``userid`` a token under their current credential stamp."""
    user = users.get(userid)
    assert user is not None
    return tokens.issue(userid, user.stamp)


def test_basic_success(auth: Authenticator) -> None:
    outcome = auth.authenticate(BasicCredentials("alice", "wonderland-key-7"))
    assert isinstance(outcome, Authenticated)
    assert outcome.identity.userid == "alice"
    assert outcome.identity.roles == frozenset({"admin"})
    assert outcome.identity.mechanism == "basic"
    assert outcome.grant is None


@pytest.mark.parametrize(
    ("userid", "password"), [("alice", "wrong"), ("nobody", "wonderland-key-7"), ("alice", "")]
)
def test_every_password_failure_costs_one_bcrypt_check(
    auth: Authenticator, bcrypt_calls: list[bytes], userid: str, password: str
) -> None:
    assert auth.authenticate(BasicCredentials(userid, password)) is Failure.BAD_PASSWORD
    assert len(bcrypt_calls) == 1


def test_unknown_user_with_a_token_shaped_password_costs_one_check(
    auth: Authenticator, bcrypt_calls: list[bytes]
) -> None:
    assert auth.authenticate(BasicCredentials("nobody", "abc.def")) is Failure.BAD_PASSWORD
    assert len(bcrypt_calls) == 1


def test_token_as_password_needs_no_bcrypt(
    auth: Authenticator,
    tokens: MemoryTokenManager,
    users: MemoryUserStore,
    bcrypt_calls: list[bytes],
) -> None:
    grant = token_of("alice", users, tokens)
    outcome = auth.authenticate(BasicCredentials("alice", grant.token))
    assert isinstance(outcome, Authenticated)
    assert outcome.identity.mechanism == "token-basic"
    assert outcome.grant is not None
    assert bcrypt_calls == []


def test_token_as_password_of_another_user_is_a_bad_password(
    auth: Authenticator, tokens: MemoryTokenManager, users: MemoryUserStore
) -> None:
    grant = token_of("alice", users, tokens)
    assert auth.authenticate(BasicCredentials("bob", grant.token)) is Failure.BAD_PASSWORD


@pytest.mark.parametrize("scheme", ["token", "bearer", "cookie"])
def test_token_mechanisms(
    auth: Authenticator, tokens: MemoryTokenManager, users: MemoryUserStore, scheme: str
) -> None:
    grant = token_of("alice", users, tokens)
    outcome = auth.authenticate(TokenCredentials(grant.token, scheme))
    assert isinstance(outcome, Authenticated)
    assert outcome.identity.mechanism == ("cookie" if scheme == "cookie" else "token")


def test_stale_stamp_kills_the_token(
    auth: Authenticator, tokens: MemoryTokenManager, users: MemoryUserStore
) -> None:
    grant = token_of("alice", users, tokens)
    users.set_password("alice", "new passphrase 2")
    ended = DeadToken("alice", grant.session, "ended")  # refused; its user is recorded
    assert auth.authenticate(TokenCredentials(grant.token, "token")) == ended
    assert auth.authenticate(BasicCredentials("alice", grant.token)) == ended  # no hash check
    assert auth.authenticate(BasicCredentials("bob", grant.token)) is Failure.BAD_PASSWORD


def test_removed_user_kills_the_token(
    auth: Authenticator, tokens: MemoryTokenManager, users: MemoryUserStore
) -> None:
    grant = token_of("bob", users, tokens)
    users.remove("bob")
    ended = DeadToken("bob", grant.session, "ended")
    assert auth.authenticate(TokenCredentials(grant.token, "bearer")) == ended


def test_without_a_token_manager_tokens_fail(users: MemoryUserStore) -> None:
    auth = Authenticator(users, None, HASHER)
    assert auth.authenticate(TokenCredentials("abc.def", "token")) is Failure.BAD_TOKEN
    assert isinstance(auth.authenticate(BasicCredentials("bob", "pebble-key-42")), Authenticated)


# -- stored hashes: corrupt ones are reported, weak ones replaced ---------------------------

CORRUPT_HASH = "$2b$12$corrupt-stored-hash-XYZ"


def test_corrupt_hash_is_logged_with_the_userid_never_the_hash(
    users: MemoryUserStore, auth: Authenticator, caplog: pytest.LogCaptureFixture
) -> None:
    users.add_hashed("carol", CORRUPT_HASH)
    with caplog.at_level(logging.DEBUG):
        outcome = auth.authenticate(BasicCredentials("carol", "carol-pw"))
    assert outcome is Failure.BAD_PASSWORD
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "carol" in errors[0].getMessage()
    for record in caplog.records:
        assert "corrupt-stored" not in record.getMessage()
        assert "corrupt-stored" not in str(record.args)
        assert record.exc_info is None


def test_a_wrong_password_is_not_logged_as_a_corrupt_hash(
    auth: Authenticator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        assert auth.authenticate(BasicCredentials("alice", "wrong")) is Failure.BAD_PASSWORD
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def weak_user(users: MemoryUserStore) -> str:
    """Import "weak" with a plain cost-4 bcrypt hash (weaker than HASHER's v2 at cost 4)."""
    stored = bcrypt.hashpw(b"weak-pw", bcrypt.gensalt(4)).decode()
    users.add_hashed("weak", stored, roles=["user"])
    return stored


def test_login_replaces_a_weak_hash_and_keeps_the_stamp(
    users: MemoryUserStore, auth: Authenticator
) -> None:
    old = weak_user(users)
    stamp = users.get("weak").stamp
    outcome = auth.authenticate(BasicCredentials("weak", "weak-pw"))
    assert isinstance(outcome, Authenticated)
    assert outcome.stamp == stamp
    new = users.get("weak")
    assert new.password_hash != old
    assert not HASHER.needs_rehash(new.password_hash)
    assert new.stamp == stamp
    assert HASHER.verify("weak-pw", new.password_hash)


def test_a_current_hash_is_left_alone(users: MemoryUserStore, auth: Authenticator) -> None:
    before = users.get("alice")
    assert isinstance(
        auth.authenticate(BasicCredentials("alice", "wonderland-key-7")), Authenticated
    )
    assert users.get("alice") == before


def test_a_wrong_password_never_rehashes(users: MemoryUserStore, auth: Authenticator) -> None:
    old = weak_user(users)
    assert auth.authenticate(BasicCredentials("weak", "weak-PW")) is Failure.BAD_PASSWORD
    assert users.get("weak").password_hash == old


def test_the_cache_remembers_the_new_hash(
    users: MemoryUserStore, tokens: MemoryTokenManager, bcrypt_calls: list[bytes]
) -> None:
    """The login that rehashed caches the new hash: the next request skips bcrypt."""
    weak_user(users)
    auth = Authenticator(users, tokens, HASHER, cache=PasswordCache())
    assert isinstance(auth.authenticate(BasicCredentials("weak", "weak-pw")), Authenticated)
    assert len(bcrypt_calls) == 1
    assert isinstance(auth.authenticate(BasicCredentials("weak", "weak-pw")), Authenticated)
    assert len(bcrypt_calls) == 1


class ReadOnlyUsers:
    """A store with nothing but ``get`` (say, a view of an LDAP directory)."""

    def __init__(self, inner: MemoryUserStore) -> None:
        self.inner = inner

    def get(self, userid: str) -> User | None:
        return self.inner.get(userid)


class UnwritableUsers(MemoryUserStore):
    """A writable store whose backend refuses writes right now."""

    def replace_hash(self, userid: str, old_hash: str, new_hash: str) -> bool:
        raise StoreUnavailable("users: read-only replica")


@pytest.mark.parametrize("kind", ["read-only", "unavailable"])
def test_a_store_that_cannot_rehash_still_lets_the_login_through(
    users: MemoryUserStore, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    if kind == "unavailable":
        users = UnwritableUsers(hasher=HASHER)
    old = weak_user(users)
    store: UserStore = ReadOnlyUsers(users) if kind == "read-only" else users
    assert isinstance(store, WritableUserStore) is (kind == "unavailable")
    auth = Authenticator(store, None, HASHER)
    with caplog.at_level(logging.DEBUG):
        outcome = auth.authenticate(BasicCredentials("weak", "weak-pw"))
    assert isinstance(outcome, Authenticated)
    assert users.get("weak").password_hash == old
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "weak" in warnings[0].getMessage()
    for record in caplog.records:
        assert "weak-pw" not in record.getMessage()
        assert old not in record.getMessage()


def test_a_password_change_during_the_login_wins(users: MemoryUserStore) -> None:
    """The login read the old hash; a password change lands before the rehash is written."""
    old = weak_user(users)

    class Racing(MemoryUserStore):
        def replace_hash(self, userid: str, old_hash: str, new_hash: str) -> bool:
            users.set_password(userid, "changed-pw")  # the other request's change
            return users.replace_hash(userid, old_hash, new_hash)

        def get(self, userid: str) -> User | None:
            return users.get(userid)

    auth = Authenticator(Racing(hasher=HASHER), None, HASHER)
    assert isinstance(auth.authenticate(BasicCredentials("weak", "weak-pw")), Authenticated)
    current = users.get("weak")
    assert current.password_hash != old
    assert HASHER.verify("changed-pw", current.password_hash)
    assert not HASHER.verify("weak-pw", current.password_hash)
