"""The session contract (tests/storage/test_session_contract.py) for JWT tokens over every
revocation store: memory, SQLite, Redis, and a CachedRevocation (over SQLite) that
refreshes before every check, so its snapshot of floors is what every check reads."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from restauth.tokens.jwt import JWTKey, JWTTokenManager
from restauth.tokens.revocation import (
    CachedRevocation,
    MemoryRevocation,
    RedisRevocation,
    RevocationStore,
    SQLiteRevocation,
)
from tests.conftest import FakeClock
from tests.jwt.conftest import HS_SECRET
from tests.services import redis_url
from tests.storage import test_session_contract as contract
from tests.storage.conftest import TokenFactory

# Every contract test, collected here with this module's make_tokens. The session list's
# last_used / valid_until follow a JWT's sliding re-sign (past half its ttl), not the
# stored managers' 1 % step: test_a_listed_session_follows_its_re_signed_token says how.
_JWT_SPECIFIC = {
    "test_the_session_list_describes_each_session",
    "test_a_node_whose_clock_runs_behind_revives_no_session_out_of_reach",  # below
}
for _name in dir(contract):
    if _name.startswith("test_") and _name not in _JWT_SPECIFIC:
        globals()[_name] = getattr(contract, _name)


@pytest.fixture(params=["memory", "sqlite", "redis", "cached"])
def make_tokens(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[TokenFactory]:
    """JWT managers (two calls: two nodes) over one revocation store of the kind asked."""
    made: list[RevocationStore] = []
    shared = MemoryRevocation()
    prefix = f"restauth-test:{uuid.uuid4().hex}:"

    def store(max_lifetime: float) -> RevocationStore:
        if request.param == "memory":
            return shared
        revocation: RevocationStore
        if request.param == "redis":
            revocation = RedisRevocation(redis_url(), prefix=prefix)
        else:
            revocation = SQLiteRevocation(tmp_path / "revocations.db")
        if request.param == "cached":
            always_stale = itertools.count(0.0, 1.0).__next__
            revocation = CachedRevocation(
                revocation, max_staleness=1, horizon=max_lifetime, clock=clock,
                monotonic=always_stale,
            )  # fmt: skip
        made.append(revocation)
        return revocation

    def make(ttl: float = 900, max_lifetime: float = 3600, **options: Any) -> JWTTokenManager:
        options = {"clock": clock, **options}  # a test may give a node a clock of its own
        return JWTTokenManager(
            JWTKey(HS_SECRET), ttl=ttl, max_lifetime=max_lifetime,
            revocation=store(max_lifetime), **options,
        )  # fmt: skip

    yield make
    for revocation in made:
        revocation.close()
    if request.param == "redis":
        import redis

        client = redis.Redis.from_url(redis_url())
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def test_a_listed_session_follows_its_re_signed_token(
    make_tokens: TokenFactory, clock: FakeClock
) -> None:
    """The JWT form of test_the_session_list_describes_each_session: a token is re-signed
    (and its session's record slid) once at most half its idle life is left."""
    tokens = make_tokens(ttl=100, max_lifetime=1000)
    start = clock.now
    grant = tokens.issue("alice", "s", client="curl/8.5.0\x00\x1b[31m\n" + "x" * 500)
    clock.advance(30)
    assert contract.live(tokens, grant.token).token == grant.token  # young: not re-signed
    (session,) = tokens.sessions("alice")
    assert (session.created, session.last_used, session.valid_until) == (start, start, start + 100)
    clock.advance(30)
    renewed = contract.live(tokens, grant.token)
    assert renewed.token != grant.token
    assert renewed.session == grant.session
    (session,) = tokens.sessions("alice")
    assert session.id == grant.session
    assert session.userid == "alice"
    assert session.created == pytest.approx(start)
    assert session.last_used == pytest.approx(start + 60)
    assert session.valid_until == pytest.approx(start + 160)
    assert session.client.startswith("curl/8.5.0[31m")
    assert not any(ch < " " for ch in session.client)
    assert 100 <= len(session.client) <= 120
    assert grant.token not in repr(session)
    assert renewed.token not in repr(session)


def test_a_node_whose_clock_runs_behind_revives_no_session_out_of_reach(
    make_tokens: TokenFactory, clock: FakeClock
) -> None:
    """The contract's test, over every revocation store (the memory one included)."""
    contract.test_a_node_whose_clock_runs_behind_revives_no_session_out_of_reach(make_tokens, clock)
