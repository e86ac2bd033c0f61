"""``Accounts`` settings, one-time tokens and the request limiter, without HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from restauth import Accounts, ConfigError, MemoryUserStore, PasswordHasher
from restauth.accounts.limiter import RequestLimiter
from restauth.accounts.one_time import OneTimeTokens, digest_of
from restauth.throttle.policy import MemoryThrottleStore
from tests.conftest import FakeClock


def notify(userid: str, purpose: str, token: str) -> None:
    """A notifier that sends nothing."""


def test_defaults() -> None:
    accounts = Accounts()
    assert accounts.registration == "off"
    assert accounts.path == "/users"
    assert not accounts.self_service
    assert not accounts.password_reset
    assert (accounts.reset_ttl, accounts.verify_ttl) == (900, 900)


def test_durations_may_be_timedeltas() -> None:
    accounts = Accounts("open", reset_ttl=timedelta(minutes=5), window=timedelta(hours=2))
    assert (accounts.reset_ttl, accounts.window) == (300, 7200)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"registration": "everyone"}, "registration"),
        ({"registration": "verify"}, "notifier"),
        ({"notifier": "smtp"}, "notifier"),
        ({"path": "/users/"}, "path"),
        ({"path": "users"}, "path"),
        ({"default_roles": ["a b"]}, "role"),
        ({"default_roles": "user"}, "str"),
        ({"reset_ttl": 0}, "reset_ttl"),
        ({"verify_ttl": float("inf")}, "verify_ttl"),
        ({"requests_per_address": 0}, "requests_per_address"),
        ({"requests_per_address": True}, "requests_per_address"),
        ({"page_size": 600}, "page_size"),
    ],
)
def test_mistakes_are_config_errors(settings: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Accounts(**settings)  # type: ignore[arg-type]


def test_one_time_tokens_are_stored_as_digests_and_end_with_the_stamp() -> None:
    clock = FakeClock()
    users = MemoryUserStore(PasswordHasher(rounds=4), clock=clock)
    alice = users.add("alice", "a long enough passphrase")
    tokens = OneTimeTokens(users, clock)
    token = tokens.issue(alice, "password-reset", 60)
    assert len(token) >= 43  # 256 bits
    record = users.get_one_time(digest_of(token))
    assert record is not None
    assert token not in repr(record)
    assert tokens.find(token, "verify") is None  # another purpose
    found = tokens.find(token, "password-reset")
    assert found is not None
    clock.advance(61)
    assert tokens.find(token, "password-reset") is None  # expired
    fresh = tokens.issue(alice, "password-reset", 60)
    users.set_password("alice", "another long passphrase")
    assert tokens.find(fresh, "password-reset") is None  # the password changed


def test_the_limiter_allows_so_many_per_window() -> None:
    clock = FakeClock()
    limiter = RequestLimiter(MemoryThrottleStore(), 3, 100.0, clock)
    assert [limiter.admit("register", "192.0.2.1") for _ in range(3)] == [0, 0, 0]
    wait = limiter.admit("register", "192.0.2.1")
    assert 0 < wait <= 100
    assert limiter.admit("register", "192.0.2.2") == 0  # another address
    assert limiter.admit("password-reset", "192.0.2.1") == 0  # another kind
    clock.advance(101)
    assert limiter.admit("register", "192.0.2.1") == 0
