"""Upgrading from the previous release (one "not before" record per user, no sessions):
its JWTs keep working until their own expiry, as sessions of their own, and its
revocation records (SQLite ``restauth_revocations`` schema 1, Redis ``<prefix>revoked``)
keep applying."""

from __future__ import annotations

import json
import secrets
import sqlite3
import uuid
from base64 import urlsafe_b64decode
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from restauth.tokens.base import DeadToken, TokenGrant
from restauth.tokens.jwt import JWTKey, JWTTokenManager, legacy_session_id
from restauth.tokens.revocation import RedisRevocation, RevocationStore, SQLiteRevocation
from tests.conftest import FakeClock
from tests.jwt.conftest import HS_SECRET
from tests.services import redis_url

TTL, MAX_LIFETIME = 100.0, 1000.0


def previous_release_token(
    key: JWTKey, userid: str, stamp: str, now: float, auth_time: float | None = None
) -> str:
    """A token exactly as the previous release signed it (``JWTTokenManager._mint`` at
    68be00a): these eight claims, no ``sid``, no ``gen``."""
    max_exp = (now if auth_time is None else auth_time) + MAX_LIFETIME
    claims = {
        "iss": "restauth",
        "sub": userid,
        "iat": round(now, 3),
        "exp": round(min(now + TTL, max_exp), 3),
        "auth_time": now if auth_time is None else auth_time,
        "max_exp": round(max_exp, 3),
        "jti": secrets.token_urlsafe(16),
        "stamp": stamp,
    }
    return key.sign(claims)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def manager(clock: FakeClock, revocation: RevocationStore) -> JWTTokenManager:
    return JWTTokenManager(
        JWTKey(HS_SECRET), ttl=TTL, max_lifetime=MAX_LIFETIME, clock=clock, revocation=revocation
    )


def live(verdict: TokenGrant | DeadToken | None) -> TokenGrant:
    assert isinstance(verdict, TokenGrant), verdict
    return verdict


def dead(verdict: TokenGrant | DeadToken | None, reason: str) -> DeadToken:
    assert isinstance(verdict, DeadToken), verdict
    assert verdict.reason == reason
    return verdict


def test_a_previous_release_token_works_until_its_own_expiry(
    clock: FakeClock, make_revocation: Callable[[], RevocationStore]
) -> None:
    a, b = manager(clock, make_revocation()), manager(clock, make_revocation())
    old = previous_release_token(a.key, "alice", "s", clock.now)
    sid = legacy_session_id(claims_of(old)["jti"])
    resigned = live(b.authenticate(old))  # its first use records it, and re-signs it...
    assert sid not in old
    claims = claims_of(resigned.token)
    assert (claims["sid"], claims["gen"]) == (sid, 0)  # ...as a session of its own
    assert claims["auth_time"] == claims_of(old)["auth_time"]
    assert claims["max_exp"] == claims_of(old)["max_exp"]
    assert (resigned.userid, resigned.stamp, resigned.session) == ("alice", "s", sid)
    assert (resigned.created, resigned.valid_until) == (clock.now, clock.now + TTL)
    (session,) = a.sessions("alice")  # and recorded: listed on every node
    assert (session.id, session.kind, session.created) == (sid, "login", resigned.created)
    assert session.valid_until == resigned.valid_until
    again = live(a.authenticate(old))  # recorded now: the old token comes back as it is
    assert again.token == old
    clock.advance(TTL)
    verdict = dead(b.authenticate(old), "expired")  # until its own exp
    assert (verdict.userid, verdict.session) == ("alice", sid)


def test_logging_out_with_a_legacy_token_kills_it(
    clock: FakeClock, make_revocation: Callable[[], RevocationStore]
) -> None:
    """The previous release's DELETE /tokens/<userid> killed the token it was sent with; so
    does ending its session now, on its very first use after the upgrade."""
    a, b = manager(clock, make_revocation()), manager(clock, make_revocation())
    old = previous_release_token(a.key, "alice", "s", clock.now)
    grant = live(a.authenticate(old))
    assert b.end("alice", grant.session) is True
    dead(a.authenticate(old), "ended")
    dead(b.authenticate(grant.token), "ended")


def test_ending_a_recorded_legacy_session_kills_its_old_token_too(
    clock: FakeClock, make_revocation: Callable[[], RevocationStore]
) -> None:
    a, b = manager(clock, make_revocation()), manager(clock, make_revocation())
    old = previous_release_token(a.key, "alice", "s", clock.now)
    clock.advance(TTL / 2)
    resigned = live(a.authenticate(old))
    assert b.end("alice", resigned.session) is True
    dead(a.authenticate(old), "ended")
    dead(a.authenticate(resigned.token), "ended")


def test_renewing_a_legacy_token_rotates_its_session(
    clock: FakeClock, make_revocation: Callable[[], RevocationStore]
) -> None:
    a, b = manager(clock, make_revocation()), manager(clock, make_revocation())
    old = previous_release_token(a.key, "alice", "s", clock.now)
    renewed = a.renew(old)
    assert renewed is not None
    assert claims_of(renewed.token)["gen"] == 1
    assert renewed.session == legacy_session_id(claims_of(old)["jti"])
    dead(b.authenticate(old), "ended")
    live(b.authenticate(renewed.token))
    assert [s.id for s in b.sessions("alice")] == [renewed.session]
    assert b.renew(old) is None


def test_log_out_everywhere_kills_previous_release_tokens_at_once(
    clock: FakeClock, make_revocation: Callable[[], RevocationStore]
) -> None:
    a, b = manager(clock, make_revocation()), manager(clock, make_revocation())
    old = previous_release_token(a.key, "alice", "s", clock.now)
    new = a.issue("alice", "s")
    assert b.revoke("alice") == 1  # the recorded sessions; the old token is not one yet
    dead(a.authenticate(old), "ended")
    dead(a.authenticate(new.token), "ended")
    assert a.renew(old) is None


def old_sqlite_file(path: Path, records: dict[str, float]) -> None:
    """A file as the previous release left it: its schema table and revocations table."""
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS restauth_schema "
            "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        connection.execute(
            "CREATE TABLE restauth_revocations "
            "(userid TEXT PRIMARY KEY NOT NULL, not_before REAL NOT NULL) WITHOUT ROWID"
        )
        connection.execute("INSERT INTO restauth_schema (component, version) VALUES (?, ?)",
                           ("revocations", 1))  # fmt: skip
        connection.executemany(
            "INSERT INTO restauth_revocations (userid, not_before) VALUES (?, ?)",
            records.items(),
        )
    connection.close()


def test_sqlite_records_of_the_previous_release_keep_applying(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "revocations.db"
    key = JWTKey(HS_SECRET)
    before = previous_release_token(key, "alice", "s", clock.now - 10)
    clock.advance(0.5)
    old_sqlite_file(path, {"alice": clock.now - 5, "gone": clock.now - 5000})
    after = previous_release_token(key, "alice", "s", clock.now)
    tokens = manager(clock, SQLiteRevocation(path))
    dead(tokens.authenticate(before), "ended")  # the old record still kills it
    legacy = live(tokens.authenticate(after))  # recorded by its first use
    login = tokens.issue("alice", "s")  # the new tables are created beside the old one
    assert [s.id for s in tokens.sessions("alice")] == [legacy.session, login.session]
    assert tokens.revoke("alice") == 2  # and the old table is written as before
    tokens.close()
    with sqlite3.connect(path) as connection:
        versions = dict(connection.execute("SELECT component, version FROM restauth_schema"))
        assert versions == {"revocations": 1, "jwt_sessions": 1}
        rows = dict(connection.execute("SELECT userid, not_before FROM restauth_revocations"))
        assert rows == {"alice": clock.now + 1.0}  # moved forward; "gone" was past the horizon
    connection.close()


def test_redis_records_of_the_previous_release_keep_applying(clock: FakeClock) -> None:
    pytest.importorskip("redis")
    prefix = f"restauth-test:{uuid.uuid4().hex}:"
    store = RedisRevocation(redis_url(), prefix=prefix)
    key = JWTKey(HS_SECRET)
    before = previous_release_token(key, "alice", "s", clock.now - 10)
    store.client.zadd(prefix + "revoked", {"alice": clock.now - 5})  # as the old release did
    after = previous_release_token(key, "alice", "s", clock.now)
    tokens = manager(clock, store)
    try:
        dead(tokens.authenticate(before), "ended")
        live(tokens.authenticate(after))  # recorded by its first use: a session
        tokens.issue("alice", "s")
        assert tokens.revoke("alice") == 2
        assert store.client.zscore(prefix + "revoked", "alice") == clock.now + 1.0
        dead(tokens.authenticate(after), "ended")
    finally:
        keys = list(store.client.scan_iter(match=prefix + "*"))
        store.client.delete(*keys)
        tokens.close()
