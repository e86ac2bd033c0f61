"""``Authenticator``: which store is asked what, and what each failure is called."""

from __future__ import annotations

import pytest

from restauth.authenticator import Authenticated, Authenticator, Failure
from restauth.credentials import BasicCredentials, TokenCredentials
from restauth.passwords import PasswordHasher
from restauth.tokens.base import TokenGrant
from restauth.tokens.memory import MemoryTokenManager
from restauth.users.memory import MemoryUserStore
from tests.conftest import FakeClock

HASHER = PasswordHasher(rounds=4)


@pytest.fixture
def users() -> MemoryUserStore:
    store = MemoryUserStore(hasher=HASHER)
    store.add("alice", "alice-pw", roles=["admin"])
    store.add("bob", "bob-pw")
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
    outcome = auth.authenticate(BasicCredentials("alice", "alice-pw"))
    assert isinstance(outcome, Authenticated)
    assert outcome.identity.userid == "alice"
    assert outcome.identity.roles == frozenset({"admin"})
    assert outcome.identity.mechanism == "basic"
    assert outcome.grant is None


@pytest.mark.parametrize(
    ("userid", "password"), [("alice", "wrong"), ("nobody", "alice-pw"), ("alice", "")]
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
    users.set_password("alice", "new-pw")
    assert auth.authenticate(TokenCredentials(grant.token, "token")) is Failure.BAD_TOKEN
    assert auth.authenticate(BasicCredentials("alice", grant.token)) is Failure.BAD_PASSWORD


def test_removed_user_kills_the_token(
    auth: Authenticator, tokens: MemoryTokenManager, users: MemoryUserStore
) -> None:
    grant = token_of("bob", users, tokens)
    users.remove("bob")
    assert auth.authenticate(TokenCredentials(grant.token, "bearer")) is Failure.BAD_TOKEN


def test_without_a_token_manager_tokens_fail(users: MemoryUserStore) -> None:
    auth = Authenticator(users, None, HASHER)
    assert auth.authenticate(TokenCredentials("abc.def", "token")) is Failure.BAD_TOKEN
    assert isinstance(auth.authenticate(BasicCredentials("bob", "bob-pw")), Authenticated)
