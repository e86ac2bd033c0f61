"""``MemoryTokenManager`` beyond the shared contract: races, sweeping, the token format."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from restauth.tokens.base import ID_BYTES, DeadToken, TokenCodec, TokenGrant, looks_like_token
from restauth.tokens.memory import PURGE_INTERVAL, MemoryTokenManager
from tests.conftest import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_tokens_are_url_safe_and_carry_128_bits(clock: FakeClock) -> None:
    tokens = MemoryTokenManager(clock=clock)
    grant = tokens.issue("alice", "s1")
    token_id, _, mac = grant.token.partition(".")
    assert len(token_id) >= (ID_BYTES * 8) // 6  # base64url: 6 bits a character
    assert all(c.isalnum() or c in "-_" for c in token_id + mac)


def test_valid_until_is_the_earlier_deadline(clock: FakeClock) -> None:
    tokens = MemoryTokenManager(ttl=60, max_lifetime=100, clock=clock)
    grant = tokens.issue("alice", "s1")
    assert grant.valid_until == clock.now + 60
    clock.advance(50)
    renewed = tokens.authenticate(grant.token)
    assert renewed is not None
    assert renewed.valid_until == grant.created + 100  # capped by max_lifetime


def test_durations_accept_timedelta(clock: FakeClock) -> None:
    tokens = MemoryTokenManager(ttl=timedelta(minutes=2), max_lifetime=timedelta(hours=1))
    assert (tokens.ttl, tokens.max_lifetime) == (120.0, 3600.0)


def test_tokens_from_another_key_are_refused(clock: FakeClock) -> None:
    one = MemoryTokenManager(clock=clock, secret_key="k" * 32)
    other = MemoryTokenManager(clock=clock, secret_key="j" * 32)
    grant = one.issue("alice", "s1")
    assert other.authenticate(grant.token) is None


def test_purge_forgets_dead_records_once_their_tombstone_time_is_over(clock: FakeClock) -> None:
    tokens = MemoryTokenManager(ttl=10, clock=clock)
    old = tokens.issue("old", "s")
    clock.advance(5)
    fresh = tokens.issue("fresh", "s")
    clock.advance(6)  # old expired 1 s ago: kept to say so, not yet forgotten
    assert tokens.purge_expired() == 0
    assert len(tokens) == 1
    assert isinstance(tokens.authenticate(old.token), DeadToken)
    clock.advance(10)  # old died 11 s ago (> its ttl): forgotten; fresh died 1 s ago
    assert tokens.purge_expired() == 1
    assert tokens.authenticate(old.token) is None
    assert isinstance(tokens.authenticate(fresh.token), DeadToken)
    assert len(tokens) == 0


def test_logins_sweep_dead_records(clock: FakeClock) -> None:
    tokens = MemoryTokenManager(ttl=10, clock=clock)
    for n in range(100):
        tokens.issue(f"user{n}", "s")
    clock.advance(PURGE_INTERVAL + 1)
    tokens.issue("alice", "s")  # a login past the interval sweeps
    assert len(tokens._by_id) == 1
    assert list(tokens._by_user) == ["alice"]


def _race_renewals_against_revoke(tokens: MemoryTokenManager) -> list[bool]:
    """Four threads renew alice's token while a fifth revokes it; report uses after revoke."""
    grant = tokens.issue("alice", "s1")
    start = threading.Barrier(5)
    revoked = threading.Event()
    after_revoke: list[bool] = []

    def renew() -> None:
        start.wait()
        for _ in range(200):
            was_revoked = revoked.is_set()
            ok = isinstance(tokens.authenticate(grant.token), TokenGrant)
            if was_revoked:
                after_revoke.append(ok)

    def revoke() -> None:
        start.wait()
        tokens.revoke("alice")
        revoked.set()

    threads = [threading.Thread(target=renew) for _ in range(4)]
    threads.append(threading.Thread(target=revoke))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after_revoke.append(isinstance(tokens.authenticate(grant.token), TokenGrant))
    after_revoke.append(bool(tokens.sessions("alice")))
    return after_revoke


def test_refresh_racing_revoke_never_resurrects(clock: FakeClock) -> None:
    """Once revoked, a token stays dead however its renewals interleave with the revoke."""
    tokens = MemoryTokenManager(clock=clock)
    for _ in range(50):
        assert not any(_race_renewals_against_revoke(tokens))


def test_concurrent_basic_sessions_leave_one_per_user(clock: FakeClock) -> None:
    tokens = MemoryTokenManager(clock=clock)
    seen: list[str] = []
    lock = threading.Lock()

    def use_basic() -> None:
        for _ in range(100):
            token = tokens.issue("alice", "s", kind="basic").token
            with lock:
                seen.append(token)

    threads = [threading.Thread(target=use_basic) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(seen)) == 1
    assert [s.kind for s in tokens.sessions("alice")] == ["basic"]


def test_max_sessions_is_checked() -> None:
    for bad in (0, -1, 1.5, True, "20"):
        with pytest.raises(ValueError, match="max_sessions"):
            MemoryTokenManager(max_sessions=bad)  # type: ignore[arg-type]


def test_codec_refuses_wrong_shapes() -> None:
    codec = TokenCodec("k" * 32)
    token = codec.token_for(codec.new_id())
    assert codec.id_of(token) == token.partition(".")[0]
    for bad in [
        "",
        ".",
        token.partition(".")[0],
        "." + token.partition(".")[2],
        token + "x",
        token.replace(".", ".\u00e9"),
    ]:
        assert codec.id_of(bad) is None


def test_codec_refuses_short_keys() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        TokenCodec("short")


def test_looks_like_token_is_a_cheap_shape_test() -> None:
    assert looks_like_token("abc.def")
    assert not looks_like_token("a password")
    assert not looks_like_token("x." + "y" * 300)
