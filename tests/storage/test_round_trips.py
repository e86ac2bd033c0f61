"""What one request costs a store: counted, not guessed. Also the housekeeping."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryUserStore, PasswordHasher, SQLiteTokenManager
from restauth.tokens.base import DeadToken, TokenGrant, renewal_step
from tests.conftest import FakeClock, echo_app
from tests.services import redis_url
from tests.storage.conftest import SECRET_KEY


def counting_redis_client() -> Any:
    import redis

    class Counting(redis.Redis):
        commands: list[str] = []  # noqa: RUF012 - one list per test is enough

        def execute_command(self, *args: Any, **options: Any) -> Any:
            self.commands.append(str(args[0]))
            return super().execute_command(*args, **options)

    client = Counting.from_url(redis_url())
    client.commands = []
    return client


def test_redis_token_request_is_one_round_trip(redis_prefix: str, users: MemoryUserStore) -> None:
    from restauth.tokens.redis import RedisTokenManager

    client = counting_redis_client()
    tokens = RedisTokenManager(client, prefix=redis_prefix, secret_key=SECRET_KEY)
    app = TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens))
    token = tokens.issue("alice", users.get("alice").stamp).token
    auth = {"Authorization": f"Token {token}"}
    app.get(
        "/x", headers=auth, extra_environ={"REMOTE_ADDR": "192.0.2.1"}, status=200
    )  # loads the script once (EVALSHA, NOSCRIPT, EVAL)
    client.commands.clear()
    for _ in range(3):
        app.get("/x", headers=auth, extra_environ={"REMOTE_ADDR": "192.0.2.1"}, status=200)
    # One script checks and renews the token: tokens are not throttled, so no counter read.
    assert client.commands == ["EVALSHA"] * 3


def test_every_redis_session_operation_is_one_round_trip(
    redis_prefix: str, clock: FakeClock
) -> None:
    """Issue 17: each method of the manager is one script (atomic), the Basic session's
    reuse and a dead token's verdict included."""
    from restauth.tokens.redis import RedisTokenManager

    client = counting_redis_client()
    tokens = RedisTokenManager(client, prefix=redis_prefix, clock=clock, secret_key=SECRET_KEY)
    warm = tokens.issue("warm", "s")  # each script loaded once (EVALSHA, NOSCRIPT, EVAL)
    for call in (
        lambda: tokens.authenticate(warm.token),
        lambda: tokens.renew(warm.token),
        lambda: tokens.sessions("warm"),
        lambda: tokens.end("warm", warm.session),
        lambda: tokens.revoke("warm"),
    ):
        call()
    client.commands.clear()
    login = tokens.issue("alice", "s")
    basic = tokens.issue("alice", "s", kind="basic")
    assert tokens.issue("alice", "s", kind="basic").token == basic.token
    assert isinstance(tokens.authenticate(login.token), TokenGrant)
    renewed = tokens.renew(login.token)
    assert renewed is not None
    assert isinstance(tokens.authenticate(login.token), DeadToken)
    assert len(tokens.sessions("alice")) == 2
    assert tokens.end("alice", basic.session)
    assert tokens.revoke("alice") == 1
    assert client.commands == ["EVALSHA"] * 9


def traced(tokens: SQLiteTokenManager) -> list[str]:
    """The statements ``tokens`` runs on this thread from now on."""
    statements: list[str] = []
    tokens.database.connection().set_trace_callback(statements.append)
    return statements


def stored_deadline(path: Path) -> float:
    with sqlite3.connect(path) as connection:
        return float(connection.execute("SELECT idle_deadline FROM restauth_tokens").fetchone()[0])


def test_sqlite_token_request_is_one_read(tmp_path: Path, clock: FakeClock) -> None:
    """Issue 16 item 6: a Token request with no renewal due is one SELECT, and a read needs
    no write lock: it is answered while another process holds one."""
    path = tmp_path / "t.db"
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    users.add("alice", "wonderland-key-7")
    tokens = SQLiteTokenManager(path, clock=clock, secret_key=SECRET_KEY, timeout=0.1)
    app = TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens))
    token = tokens.issue("alice", users.get("alice").stamp).token
    token_id = token.partition(".")[0]
    auth = {"Authorization": f"Token {token}"}
    statements = traced(tokens)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        for _ in range(3):
            clock.advance(1)  # within the renewal step (9 s of the default 15 min)
            app.get("/x", headers=auth, extra_environ={"REMOTE_ADDR": "192.0.2.1"}, status=200)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(statements) == 3
    assert all(statement.startswith("SELECT userid, stamp") for statement in statements)
    assert all(statement.endswith(f"WHERE token_id = '{token_id}'") for statement in statements)


def test_sqlite_renewal_cannot_resurrect_an_ended_session(tmp_path: Path, clock: FakeClock) -> None:
    """The check reads the row live; another process ends the session before the due
    renewal's UPDATE runs: the UPDATE renews nothing and the token is reported dead."""
    path = tmp_path / "t.db"
    tokens = SQLiteTokenManager(path, ttl=100, clock=clock, secret_key=SECRET_KEY)
    other = SQLiteTokenManager(path, ttl=100, clock=clock, secret_key=SECRET_KEY)
    grant = tokens.issue("alice", "s")
    clock.advance(10)  # past the 1 s step: the check will renew
    ended: list[bool] = []

    def end_before_the_update(statement: str) -> None:
        if statement.startswith("UPDATE restauth_tokens SET idle_deadline") and not ended:
            ended.append(other.end("alice", grant.session))

    tokens.database.connection().set_trace_callback(end_before_the_update)
    verdict = tokens.authenticate(grant.token)
    assert ended == [True]
    assert verdict == DeadToken("alice", grant.session, "ended")
    tokens.database.connection().set_trace_callback(None)
    assert other.sessions("alice") == []
    assert stored_deadline(path) <= clock.now  # ended: its idle deadline was not moved on


def test_sqlite_renewal_writes_only_past_the_step(tmp_path: Path, clock: FakeClock) -> None:
    """Issue 16 item 7: the idle deadline is written only when it moves by more than
    renewal_step(ttl); what the grant reports is what is stored."""
    path = tmp_path / "t.db"
    tokens = SQLiteTokenManager(path, ttl=1000, clock=clock, secret_key=SECRET_KEY)
    issued = tokens.issue("alice", "s")
    assert issued.valid_until == stored_deadline(path) == clock.now + 1000
    statements = traced(tokens)
    clock.advance(renewal_step(1000))  # exactly one step (10 s): kept
    grant = tokens.authenticate(issued.token)
    assert grant is not None
    assert grant.valid_until == stored_deadline(path) == issued.valid_until
    assert len(statements) == 1
    clock.advance(0.5)  # now past the step: one write, and the new deadline is reported
    grant = tokens.authenticate(issued.token)
    assert grant is not None
    assert grant.valid_until == stored_deadline(path) == clock.now + 1000
    assert [statement.split()[0] for statement in statements[1:]] == ["SELECT", "UPDATE"]


def test_sqlite_reissue_writes_only_past_the_step(tmp_path: Path, clock: FakeClock) -> None:
    """A Basic request hands out the user's basic session's token: a read unless a
    renewal is due."""
    path = tmp_path / "t.db"
    tokens = SQLiteTokenManager(path, ttl=1000, clock=clock, secret_key=SECRET_KEY)
    first = tokens.issue("alice", "s", kind="basic")
    statements = traced(tokens)
    clock.advance(5)
    again = tokens.issue("alice", "s", kind="basic")
    assert (again.token, again.valid_until) == (first.token, first.valid_until)
    assert len(statements) == 1  # the SELECT of the basic session
    clock.advance(20)
    renewed = tokens.issue("alice", "s", kind="basic")
    assert (renewed.token, renewed.session) == (first.token, first.session)
    assert renewed.valid_until == stored_deadline(path) == clock.now + 1000
    assert "UPDATE restauth_tokens SET idle_deadline" in " ".join(statements[1:])


def test_sqlite_coarse_renewal_keeps_revocation_and_max_lifetime(
    tmp_path: Path, clock: FakeClock
) -> None:
    tokens = SQLiteTokenManager(
        tmp_path / "t.db", ttl=100, max_lifetime=250, clock=clock, secret_key=SECRET_KEY
    )
    issued = tokens.issue("alice", "s")
    for _ in range(4):  # renewed well past max_lifetime's reach, then capped by it
        clock.advance(60)
        grant = tokens.authenticate(issued.token)
        assert isinstance(grant, TokenGrant)
        assert grant.valid_until <= grant.created + 250
    clock.advance(11)  # 251 s after issue
    assert tokens.authenticate(issued.token) == DeadToken("alice", issued.session, "expired")
    grant = tokens.issue("alice", "s")
    assert isinstance(tokens.authenticate(grant.token), TokenGrant)
    tokens.revoke("alice")
    ended = DeadToken("alice", grant.session, "ended")
    assert tokens.authenticate(grant.token) == ended  # the very next request


def stored_userids(path: Path) -> list[str]:
    """The userid of every row of the tokens table, tombstones included."""
    with sqlite3.connect(path) as connection:
        return [userid for (userid,) in connection.execute("SELECT userid FROM restauth_tokens")]


def test_expired_sqlite_tokens_are_purged_by_logins(tmp_path: Path, clock: FakeClock) -> None:
    """Expired, ended and rotated-away tokens stay as tombstones (a use is reported as a
    dead token of its user) until their death plus their ttl; then a login deletes them."""
    path = tmp_path / "t.db"
    tokens = SQLiteTokenManager(
        path, ttl=60, clock=clock, secret_key=SECRET_KEY, purge_interval=600
    )
    for number in range(50):
        tokens.issue(f"user{number}", "s")
    ended = tokens.issue("ended", "s")
    rotated = tokens.issue("rotated", "s")
    clock.advance(30)
    assert tokens.end("ended", ended.session)
    assert tokens.renew(rotated.token) is not None  # the old token ends; the new one dies at 90
    clock.advance(31)  # 61 s: the 50 have expired
    tokens.issue("fresh", "s")  # before the interval: nothing purged yet
    assert len(stored_userids(path)) == 50 + 1 + 2 + 1  # rotated: its old token and new
    assert len(tokens) == 2  # live sessions: rotated (renewed) and fresh
    clock.advance(509)  # 570 s
    recent = tokens.issue("recent", "s")  # dies at 630: still a tombstone at 661
    clock.advance(91)  # 661 s
    tokens.issue("later", "s")
    assert sorted(stored_userids(path)) == ["later", "recent"]
    assert tokens.authenticate(recent.token) == DeadToken("recent", recent.session, "expired")
    assert tokens.authenticate(ended.token) is None  # forgotten
    assert tokens.purge_expired() == 0


def test_the_purge_deletes_in_bounded_batches(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16 item 4: each batch is its own short write transaction of at most
    PURGE_BATCH rows; a login runs at most LOGIN_PURGE_BATCHES and the next one goes on."""
    from restauth.tokens import sqlite as module

    monkeypatch.setattr(module, "PURGE_BATCH", 10)
    monkeypatch.setattr(module, "LOGIN_PURGE_BATCHES", 2)
    path = tmp_path / "t.db"
    tokens = SQLiteTokenManager(
        path, ttl=60, clock=clock, secret_key=SECRET_KEY, purge_interval=600
    )
    for number in range(55):
        tokens.issue(f"user{number:02}", "s")
    clock.advance(590)
    tokens.issue("alive", "s")  # before the purge is due; still alive when it runs
    clock.advance(11)  # the 55 have expired; the purge is due
    statements = traced(tokens)
    remaining = []
    for number in range(3):
        tokens.issue(f"login{number}", "s")
        remaining.append(len(stored_userids(path)))
    deletes = [s for s in statements if s.startswith("DELETE FROM restauth_tokens WHERE token_id")]
    assert [d.count("', '") + 1 for d in deletes] == [10, 10, 10, 10, 10, 5]
    assert statements.count("BEGIN IMMEDIATE") == len(deletes) + 3  # + the three new tokens
    assert remaining == [56 - 20 + 1, 37 - 20 + 1, 18 - 15 + 1]  # the next login goes on
    assert set(stored_userids(path)) == {"alive", "login0", "login1", "login2"}
    assert tokens.purge_expired() == 0


def test_stale_throttle_counters_are_purged_in_bounded_batches(tmp_path: Path) -> None:
    """Invented userids pile up counters; each attempt deletes at most one batch of the
    stale ones inside its own short transaction, and the next attempt goes on."""
    from restauth.throttle.policy import Rule, ThrottlePolicy
    from restauth.throttle.sqlite import PURGE_BATCH, TABLE, SQLiteThrottleStore

    store = SQLiteThrottleStore(tmp_path / "t.db")
    policy = ThrottlePolicy()
    stale, now = 2 * PURGE_BATCH + 50, 1_800_000_000.0
    for number in range(stale):  # counted long ago: past the window
        store.admit([Rule(f"u:old{number}", 5, 60)], now - policy.window - 10, policy)
    fresh = Rule("u:fresh", 5, 60)

    def left() -> int:
        rows = store.database.execute(f"SELECT count(*) FROM {TABLE} WHERE key != 'u:fresh'")  # noqa: S608
        return int(rows[0][0])

    store._next_purge = 0.0
    remaining = []
    for second in range(4):
        store.admit([fresh], now + second, policy)
        remaining.append(left())
    assert remaining == [stale - PURGE_BATCH, stale - 2 * PURGE_BATCH, 0, 0]
    assert store._next_purge > now + 3  # nothing left: the next purge waits its interval
    assert store.get_many(["u:fresh"])[0] is not None
