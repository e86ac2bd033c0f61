"""restauth's Lua scripts on Redis: sent by digest, the text only when the server lacks it;
the session keys they keep, and what a client that decodes responses reads back."""

from __future__ import annotations

import uuid
from typing import Any

from restauth._storage.redis import LuaScript
from restauth.tokens.base import DeadToken, TokenGrant
from tests.conftest import FakeClock
from tests.services import redis_url
from tests.storage.conftest import SECRET_KEY
from tests.storage.test_round_trips import counting_redis_client


def manager(prefix: str, clock: FakeClock, client: Any = None, **options: Any) -> Any:
    from restauth.tokens.redis import RedisTokenManager

    return RedisTokenManager(
        client if client is not None else redis_url(),
        900,
        max_lifetime=3600,
        prefix=prefix,
        clock=clock,
        secret_key=SECRET_KEY,
        **options,
    )


def test_a_script_the_server_lacks_is_sent_once(redis_prefix: str) -> None:
    client = counting_redis_client()
    script = LuaScript(client, f"-- {uuid.uuid4().hex}, never loaded before\nreturn ARGV[1]")
    assert script(0, "first") == b"first"
    assert client.commands == ["EVALSHA", "EVAL"]  # NOSCRIPT, then the text (cached there)
    client.commands.clear()
    assert script(0, "second") == b"second"
    assert client.commands == ["EVALSHA"]


def test_a_client_that_decodes_responses_reads_sessions_alike(
    redis_prefix: str, clock: FakeClock
) -> None:
    import redis

    client = redis.Redis.from_url(redis_url(), decode_responses=True)
    tokens = manager(redis_prefix, clock, client)
    grant = tokens.issue("zoë user", "stämp 1", client="téléphone")
    checked = tokens.authenticate(grant.token)
    assert isinstance(checked, TokenGrant)
    assert (checked.userid, checked.stamp, checked.valid_until, checked.session) == (
        "zoë user",
        "stämp 1",
        grant.valid_until,
        grant.session,
    )
    (listed,) = tokens.sessions("zoë user")
    assert (listed.id, listed.client, listed.stamp) == (grant.session, "téléphone", "stämp 1")
    renewed = tokens.renew(grant.token)
    assert renewed is not None
    assert renewed.userid == "zoë user"
    assert tokens.authenticate(grant.token) == DeadToken("zoë user", grant.session, "ended")
    assert tokens.revoke("zoë user") == 1
    client.close()


def test_the_keys_of_a_users_sessions(redis_prefix: str, clock: FakeClock) -> None:
    """One hash per token (only its id in the key), and per user: the sessions in order,
    session -> current token, the basic session. No previous-release ``user:`` key."""
    tokens = manager(redis_prefix, clock)
    login = tokens.issue("alice", "s", client="laptop")
    basic = tokens.issue("alice", "s", kind="basic")
    service = tokens.issue("alice", "s", kind="service", client="ci", lifetime=86400)
    client = tokens.client
    ids = {g.session: g.token.partition(".")[0] for g in (login, basic, service)}
    zset = redis_prefix + "sessions:alice"
    assert [m.decode() for m in client.zrange(zset, 0, -1)] == list(ids)  # oldest first
    mapping = client.hgetall(redis_prefix + "session-tokens:alice")
    assert {k.decode(): v.decode() for k, v in mapping.items()} == ids
    assert client.get(redis_prefix + "basic-session:alice") == basic.session.encode()
    record = client.hgetall(redis_prefix + "token:" + ids[service.session])
    fields = {k.decode(): v.decode() for k, v in record.items()}
    numbers = {name: float(fields.pop(name)) for name in ("created", "deadline", "ttl", "expires")}
    assert fields == {
        "userid": "alice",
        "stamp": "s",
        "session": service.session,
        "kind": "service",
        "client": "ci",
    }
    assert numbers == {
        "created": clock.now,
        "deadline": clock.now + 86400,
        "ttl": 86400,
        "expires": clock.now + 86400,
    }
    # Garbage collection only: a record lives until its death plus its ttl; the user's
    # keys until the end of their longest session (plus a minute).
    assert 0 < client.pttl(redis_prefix + "token:" + ids[login.session]) <= (900 + 900) * 1000
    assert 86400 * 1000 < client.pttl(zset) <= (86400 + 60) * 1000
    assert not list(client.scan_iter(match=redis_prefix + "user:*"))


def test_an_ended_token_is_a_tombstone_until_its_ttl_has_passed(
    redis_prefix: str, clock: FakeClock
) -> None:
    tokens = manager(redis_prefix, clock)
    grant = tokens.issue("alice", "s", kind="basic")
    key = redis_prefix + "token:" + grant.token.partition(".")[0]
    assert tokens.end("alice", grant.session)
    assert tokens.client.hget(key, "deadline") == b"0"  # refused by a previous-release node
    assert float(tokens.client.hget(key, "ended")) == clock.now
    assert 0 < tokens.client.pttl(key) <= 900 * 1000
    assert not tokens.client.exists(redis_prefix + "basic-session:alice")
    assert not tokens.client.exists(redis_prefix + "sessions:alice")  # its last session
    assert tokens.authenticate(grant.token) == DeadToken("alice", grant.session, "ended")
    tokens.client.delete(key)  # what Redis does once the tombstone's time is up
    assert tokens.authenticate(grant.token) is None


def test_a_record_redis_has_dropped_leaves_the_list(redis_prefix: str, clock: FakeClock) -> None:
    tokens = manager(redis_prefix, clock)
    lost = tokens.issue("alice", "s")
    kept = tokens.issue("alice", "s")
    tokens.client.delete(redis_prefix + "token:" + lost.token.partition(".")[0])
    assert [s.id for s in tokens.sessions("alice")] == [kept.session]
    assert tokens.end("alice", lost.session) is False
    assert tokens.client.zrange(redis_prefix + "sessions:alice", 0, -1) == [kept.session.encode()]


def test_a_prefix_beyond_ascii(redis_prefix: str, clock: FakeClock) -> None:
    """The scripts find the prefix by its length in bytes, not characters."""
    tokens = manager(redis_prefix + "jeton-é:", clock)
    grant = tokens.issue("alice", "s")
    assert isinstance(tokens.authenticate(grant.token), TokenGrant)
    renewed = tokens.renew(grant.token)
    assert renewed is not None
    assert [s.id for s in tokens.sessions("alice")] == [grant.session]
    assert tokens.revoke("alice") == 1
