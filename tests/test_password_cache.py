"""The password verification cache: fast repeats, and never a wrong, changed or removed password."""

from __future__ import annotations

import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore, PasswordCache
from restauth.throttle.policy import Throttle

from .conftest import ALICE_PASSWORD, BOB_PASSWORD, FakeClock, basic, echo_app

HASH = "$restauth-bcrypt-sha256$v1$$2b$04$abcdefghijklmnopqrstuv"


@pytest.fixture
def cache_clock() -> FakeClock:
    return FakeClock(start=1000.0)


@pytest.fixture
def cache(cache_clock: FakeClock) -> PasswordCache:
    return PasswordCache(ttl=300, max_entries=100, clock=cache_clock)


@pytest.fixture
def client(users: MemoryUserStore, tokens: MemoryTokenManager, cache: PasswordCache) -> TestApp:
    return TestApp(
        AuthMiddleware(echo_app, users=users, tokens=tokens, realm="test", password_cache=cache)
    )


def get(client: TestApp, userid: str, password: str, status: int = 200) -> object:
    return client.get("/", headers={"Authorization": basic(userid, password)}, status=status)


# -- the cache on its own ---------------------------------------------------------------


def test_only_the_exact_triple_hits(cache: PasswordCache) -> None:
    cache.add("alice", "pw", HASH)
    assert cache.hit("alice", "pw", HASH)
    assert not cache.hit("alice", "pw ", HASH)
    assert not cache.hit("alice", "PW", HASH)
    assert not cache.hit("alicf", "pw", HASH)
    assert not cache.hit("alice", "pw", HASH + "x")


def test_encoding_is_unambiguous(cache: PasswordCache) -> None:
    cache.add("ab", "c", HASH)
    assert not cache.hit("a", "bc", HASH)
    assert not cache.hit("abc", "", HASH)
    cache.add("a", "b:c", HASH)
    assert not cache.hit("a:b", "c", HASH)


def test_entries_expire_after_the_ttl(cache: PasswordCache, cache_clock: FakeClock) -> None:
    cache.add("alice", "pw", HASH)
    cache_clock.advance(299.9)
    assert cache.hit("alice", "pw", HASH)  # a hit does not extend the entry's life
    cache_clock.advance(0.1)
    assert not cache.hit("alice", "pw", HASH)
    assert len(cache) == 0


def test_size_is_bounded_least_recently_used_first(cache_clock: FakeClock) -> None:
    cache = PasswordCache(max_entries=2, clock=cache_clock)
    cache.add("a", "1", HASH)
    cache.add("b", "2", HASH)
    assert cache.hit("a", "1", HASH)  # now "b" is the least recently used
    cache.add("c", "3", HASH)
    assert len(cache) == 2
    assert cache.hit("a", "1", HASH)
    assert cache.hit("c", "3", HASH)
    assert not cache.hit("b", "2", HASH)


def test_never_keeps_the_plaintext_and_keys_differ_per_process(cache: PasswordCache) -> None:
    password = "a very recognisable passphrase"
    cache.add("alice", password, HASH)
    stored = b"".join(cache._entries)
    assert password.encode() not in stored
    assert b"alice" not in stored
    other = PasswordCache()
    other.add("alice", password, HASH)
    assert set(other._entries).isdisjoint(cache._entries)  # a per-instance random key


def test_clear_forgets_everything(cache: PasswordCache) -> None:
    cache.add("alice", "pw", HASH)
    cache.clear()
    assert not cache.hit("alice", "pw", HASH)


@pytest.mark.parametrize("kwargs", [{"max_entries": 0}, {"max_entries": True}, {"ttl": 0}])
def test_bad_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        PasswordCache(**kwargs)  # type: ignore[arg-type]


# -- through the middleware ---------------------------------------------------------------


def test_a_repeated_right_password_costs_one_bcrypt_check(
    client: TestApp, bcrypt_calls: list[bytes]
) -> None:
    for _ in range(3):
        assert get(client, "alice", ALICE_PASSWORD).json["mechanism"] == "basic"  # type: ignore[attr-defined]
    assert len(bcrypt_calls) == 1


def test_a_cached_user_with_a_wrong_password_is_refused_after_bcrypt(
    client: TestApp, bcrypt_calls: list[bytes]
) -> None:
    get(client, "alice", ALICE_PASSWORD)
    get(client, "alice", ALICE_PASSWORD + "x", status=401)
    get(client, "alice", "nope", status=401)
    assert len(bcrypt_calls) == 3  # every wrong password is checked, and never cached
    get(client, "alice", "nope", status=401)
    assert len(bcrypt_calls) == 4


def test_unknown_users_still_cost_exactly_one_bcrypt_check(
    client: TestApp, bcrypt_calls: list[bytes]
) -> None:
    get(client, "alice", ALICE_PASSWORD)
    for expected in (2, 3):
        get(client, "mallory", ALICE_PASSWORD, status=401)
        assert len(bcrypt_calls) == expected


def test_a_password_change_invalidates_the_cached_password(
    client: TestApp, users: MemoryUserStore, bcrypt_calls: list[bytes]
) -> None:
    get(client, "alice", ALICE_PASSWORD)
    users.set_password("alice", "a new password")
    get(client, "alice", ALICE_PASSWORD, status=401)
    assert len(bcrypt_calls) == 2
    get(client, "alice", "a new password")
    get(client, "alice", "a new password")
    assert len(bcrypt_calls) == 3


def test_a_password_set_back_to_the_same_value_is_checked_again(
    client: TestApp, users: MemoryUserStore, bcrypt_calls: list[bytes]
) -> None:
    get(client, "alice", ALICE_PASSWORD)
    users.set_password("alice", ALICE_PASSWORD)  # same password, a new salt and stamp
    get(client, "alice", ALICE_PASSWORD)
    assert len(bcrypt_calls) == 2


def test_a_removed_user_is_refused_despite_a_cached_password(
    client: TestApp, users: MemoryUserStore, bcrypt_calls: list[bytes]
) -> None:
    get(client, "alice", ALICE_PASSWORD)
    users.remove("alice")
    get(client, "alice", ALICE_PASSWORD, status=401)
    assert len(bcrypt_calls) == 2  # the dummy check of an unknown user


def test_a_re_added_user_with_the_same_password_is_checked_again(
    client: TestApp, users: MemoryUserStore, bcrypt_calls: list[bytes]
) -> None:
    get(client, "bob", BOB_PASSWORD)
    users.remove("bob")
    users.add("bob", BOB_PASSWORD)
    get(client, "bob", BOB_PASSWORD)
    assert len(bcrypt_calls) == 2


def test_an_expired_entry_costs_bcrypt_again(
    client: TestApp, cache_clock: FakeClock, bcrypt_calls: list[bytes]
) -> None:
    get(client, "alice", ALICE_PASSWORD)
    cache_clock.advance(301)
    get(client, "alice", ALICE_PASSWORD)
    assert len(bcrypt_calls) == 2


def test_the_cache_is_on_by_default_and_none_turns_it_off(
    users: MemoryUserStore, bcrypt_calls: list[bytes]
) -> None:
    default = TestApp(AuthMiddleware(echo_app, users=users))
    get(default, "bob", BOB_PASSWORD)
    get(default, "bob", BOB_PASSWORD)
    assert len(bcrypt_calls) == 1
    off = TestApp(AuthMiddleware(echo_app, users=users, password_cache=None))
    get(off, "bob", BOB_PASSWORD)
    get(off, "bob", BOB_PASSWORD)
    assert len(bcrypt_calls) == 3


def test_the_login_endpoint_shares_the_cache_and_its_rules(
    client: TestApp, bcrypt_calls: list[bytes]
) -> None:
    get(client, "alice", ALICE_PASSWORD)
    login = {"username": "alice", "password": ALICE_PASSWORD}
    assert client.post_json("/tokens", login).json["userid"] == "alice"
    assert len(bcrypt_calls) == 1
    client.post_json("/tokens", {**login, "password": "nope"}, status=401)
    assert len(bcrypt_calls) == 2


def test_a_throttled_user_is_refused_even_with_a_cached_password(
    users: MemoryUserStore, tokens: MemoryTokenManager, cache: PasswordCache, clock: FakeClock
) -> None:
    client = TestApp(
        AuthMiddleware(
            echo_app,
            users=users,
            tokens=tokens,
            password_cache=cache,
            throttle=Throttle(clock=clock),
        )
    )
    get(client, "alice", ALICE_PASSWORD)
    for _ in range(5):
        get(client, "alice", "nope", status=401)
    get(client, "alice", ALICE_PASSWORD, status=429)
