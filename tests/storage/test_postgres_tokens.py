"""PostgresTokenManager beyond the shared contract: what a request costs (counted on the
wire, BEGIN and COMMIT included), a server that is down, a DSN that never leaks, the
renewal that cannot resurrect, the cap, the purge, and a fork."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryUserStore, StoreUnavailable
from restauth.tokens import postgres as postgres_tokens
from restauth.tokens.base import DeadToken, TokenGrant
from restauth.tokens.postgres import PostgresTokenManager
from tests.conftest import FakeClock, basic, echo_app
from tests.services import free_port
from tests.storage.conftest import SECRET_KEY

ADDRESS = {"REMOTE_ADDR": "192.0.2.1"}


@pytest.fixture
def make(postgres_schema_dsn: str, clock: FakeClock) -> Iterator[Callable[..., Any]]:
    made: list[PostgresTokenManager] = []

    def build(**options: Any) -> PostgresTokenManager:
        options = {"clock": clock, "secret_key": SECRET_KEY, **options}
        manager = PostgresTokenManager(postgres_schema_dsn, **options)
        made.append(manager)
        return manager

    yield build
    for manager in made:
        manager.close()


class Wire:
    """What a pooled connection sends and receives, from libpq's own trace of the
    protocol (``BEGIN`` and ``COMMIT`` included, whoever sends them)."""

    def __init__(self, tokens: PostgresTokenManager, directory: Path) -> None:
        tokens.sessions("nobody")  # first use: the pool opens, the table is created
        pool = tokens.database._pool
        assert pool is not None
        self._connection = pool.getconn()
        pool.putconn(self._connection)
        self._path = directory / "libpq.trace"

    @contextlib.contextmanager
    def watch(self) -> Iterator[list[str]]:
        """The trace's lines of what runs inside the block (libpq flushes on untrace)."""
        lines: list[str] = []
        with self._path.open("wb") as file:
            self._connection.pgconn.trace(file.fileno())
            try:
                yield lines
            finally:
                self._connection.pgconn.untrace()
        lines += self._path.read_text("utf-8", "replace").splitlines()


def frontend(lines: list[str], *messages: str) -> list[str]:
    return [line for line in lines if "\tF\t" in line and line.split("\t")[3] in messages]


def statements(lines: list[str]) -> int:
    """Statements run: an Execute (extended protocol) or a Query (simple: BEGIN, COMMIT)."""
    return len(frontend(lines, "Execute", "Query"))


def round_trips(lines: list[str]) -> int:
    """Waits for the server: one ReadyForQuery ends each."""
    return sum(1 for line in lines if "\tB\t" in line and line.split("\t")[3] == "ReadyForQuery")


def sql(lines: list[str]) -> str:
    """The SQL text sent (Queries, and the Parse of a statement; a prepared one is Bind only)."""
    return "\n".join(line.split("\t")[-1] for line in frontend(lines, "Query", "Parse"))


# -- what a request costs -------------------------------------------------------------


def test_a_token_request_is_one_statement_and_a_due_renewal_two(
    make: Callable[..., Any], clock: FakeClock, tmp_path: Path
) -> None:
    """Issue 17 item 7: a Token check with no renewal due is one SELECT, one round trip,
    no BEGIN and no COMMIT; past the renewal step it adds one conditional UPDATE."""
    tokens = make(ttl=900, min_size=1, max_size=1)  # one connection: the one traced
    users = MemoryUserStore()
    users.add("alice", "wonderland-key-7")
    app = TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens, throttle=None))
    grant = tokens.issue("alice", users.get("alice").stamp)
    auth = {"Authorization": f"Token {grant.token}"}
    wire = Wire(tokens, tmp_path)
    for number in range(8):
        clock.advance(1)  # within the 9 s step
        with wire.watch() as lines:
            app.get("/x", headers=auth, extra_environ=ADDRESS, status=200)
        assert statements(lines) == 1, lines
        assert "BEGIN" not in sql(lines)
        assert "COMMIT" not in sql(lines)
        # psycopg prepares a statement at its 6th use on a connection, with a round trip
        # of its own (once per connection); every other check is one round trip.
        assert round_trips(lines) == (2 if number == 5 else 1), lines
    clock.advance(10)  # past the step: the check renews
    with wire.watch() as lines:
        app.get("/x", headers=auth, extra_environ=ADDRESS, status=200)
    assert statements(lines) == 2, lines
    assert "UPDATE restauth_tokens SET idle_deadline" in sql(lines)


def test_a_basic_request_reusing_its_session_is_one_statement(
    make: Callable[..., Any], clock: FakeClock, tmp_path: Path
) -> None:
    """A Basic caller's requests each reuse its basic session: one SELECT, no lock."""
    tokens = make(ttl=900, min_size=1, max_size=1)
    users = MemoryUserStore()
    users.add("alice", "wonderland-key-7")
    app = TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens, throttle=None))
    auth = {"Authorization": basic("alice", "wonderland-key-7")}
    first = app.get("/x", headers=auth, extra_environ=ADDRESS, status=200)
    wire = Wire(tokens, tmp_path)
    for _ in range(3):
        clock.advance(1)
        with wire.watch() as lines:
            again = app.get("/x", headers=auth, extra_environ=ADDRESS, status=200)
        assert again.headers["Auth-Token"] == first.headers["Auth-Token"]
        assert statements(lines) == 1, lines
        assert "pg_advisory_xact_lock" not in sql(lines)


# -- failures -------------------------------------------------------------------------


def test_a_server_that_is_down_is_a_quick_503_and_building_touches_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dsn = f"postgresql://app:hunter2@127.0.0.1:{free_port()}/test"
    started = time.monotonic()
    tokens = PostgresTokenManager(dsn, secret_key=SECRET_KEY, timeout=0.5)
    assert time.monotonic() - started < 0.5  # no connection attempted
    caplog.set_level(logging.DEBUG)
    calls: list[Callable[[], object]] = [
        lambda: tokens.authenticate(tokens._codec.token_for("x" * 22)),
        lambda: tokens.issue("alice", "s"),
        lambda: tokens.issue("alice", "s", kind="basic"),
        lambda: tokens.renew(tokens._codec.token_for("x" * 22)),
        lambda: tokens.sessions("alice"),
        lambda: tokens.end("alice", "session"),
        lambda: tokens.revoke("alice"),
    ]
    try:
        for call in calls:
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as raised:
                call()
            assert time.monotonic() - started < 3
            for text in (str(raised.value), repr(raised.value)):
                assert "hunter2" not in text
                assert dsn not in text
        assert tokens.authenticate("not-a-token") is None  # refused before any I/O
        assert "hunter2" not in repr(tokens)
        assert "hunter2" not in caplog.text  # the pool's own connection errors included
    finally:
        tokens.close()


def test_a_token_request_while_the_server_is_down_is_503(clock: FakeClock) -> None:
    users = MemoryUserStore()
    users.add("alice", "wonderland-key-7")
    dsn = f"postgresql://app:hunter2@127.0.0.1:{free_port()}/test"
    tokens = PostgresTokenManager(dsn, secret_key=SECRET_KEY, timeout=0.5, clock=clock)
    app = TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens, throttle=None))
    token = tokens._codec.token_for("x" * 22)
    response = app.get("/x", headers={"Authorization": f"Token {token}"}, status=503)
    assert "hunter2" not in response.text
    assert response.headers["Retry-After"]
    tokens.close()


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://app:hunter2@db.example/auth",
        "host=db.example user=app password=hunter2 dbname=auth",
        "postgresql://db.example/auth?password=hunter2",
    ],
)
def test_the_dsn_is_never_shown(dsn: str) -> None:
    tokens = PostgresTokenManager(dsn, secret_key=SECRET_KEY)
    for text in (repr(tokens), str(tokens), repr(tokens.database)):
        assert "hunter2" not in text
        assert "db.example" not in text


def test_a_missing_secret_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from restauth import MissingSecretKey

    monkeypatch.delenv("RESTAUTH_SECRET_KEY", raising=False)
    with pytest.raises(MissingSecretKey, match="PostgresTokenManager"):
        PostgresTokenManager("postgresql://db.example/auth")


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "20"])
def test_a_bad_max_sessions_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="max_sessions"):
        PostgresTokenManager(
            "postgresql://db.example/auth", secret_key=SECRET_KEY, max_sessions=value
        )  # type: ignore[arg-type]


# -- sessions -------------------------------------------------------------------------


def test_the_renewal_cannot_resurrect_an_ended_session(
    make: Callable[..., Any], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check reads the row live; another node ends the session before the due
    renewal's UPDATE runs: the UPDATE renews nothing and the token is reported dead."""
    tokens, other = make(ttl=100), make(ttl=100)
    grant = tokens.issue("alice", "s")
    clock.advance(10)  # past the 1 s step: the check will renew
    ended: list[bool] = []
    execute = tokens.database.execute

    def end_before_the_update(sql: str, parameters: Any = ()) -> Any:
        if sql.startswith("UPDATE restauth_tokens SET idle_deadline") and not ended:
            ended.append(other.end("alice", grant.session))
        return execute(sql, parameters)

    monkeypatch.setattr(tokens.database, "execute", end_before_the_update)
    verdict = tokens.authenticate(grant.token)
    assert ended == [True]
    assert verdict == DeadToken("alice", grant.session, "ended")
    monkeypatch.undo()
    assert other.sessions("alice") == []
    assert tokens.authenticate(grant.token) == DeadToken("alice", grant.session, "ended")


def test_the_cap_ends_nothing_below_it(make: Callable[..., Any], clock: FakeClock) -> None:
    tokens = make(max_sessions=5)
    grants = []
    for _ in range(4):
        clock.advance(1)
        grants.append(tokens.issue("alice", "s"))
    assert [s.id for s in tokens.sessions("alice")] == [g.session for g in grants]
    for _ in range(3):
        clock.advance(1)
        grants.append(tokens.issue("alice", "s"))
    assert [s.id for s in tokens.sessions("alice")] == [g.session for g in grants[2:]]
    assert len(tokens) == 5


def test_sessions_begun_in_the_same_instant_keep_their_order_across_rotation(
    make: Callable[..., Any],
) -> None:
    tokens = make()
    first, second, third = (tokens.issue("alice", "s") for _ in range(3))
    renewed = tokens.renew(first.token)
    assert renewed is not None
    listed = [s.id for s in tokens.sessions("alice")]
    assert listed == [first.session, second.session, third.session]


def test_dead_rows_are_kept_ttl_then_purged_in_batches(
    make: Callable[..., Any], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_tokens, "PURGE_BATCH", 4)
    monkeypatch.setattr(postgres_tokens, "ISSUE_PURGE_BATCHES", 2)
    tokens = make(ttl=100, purge_interval=1000, max_sessions=100)
    ended = [tokens.issue(f"user{n}", "s") for n in range(10)]
    for grant in ended:
        tokens.end(grant.userid, grant.session)
    clock.advance(99)
    assert all(isinstance(tokens.authenticate(g.token), DeadToken) for g in ended)
    clock.advance(902)  # past the tombstones (ended + 100) and the purge interval
    tokens.issue("bob", "s")  # purges 2 batches of 4: 8 rows, more left
    assert stored_rows(tokens) == 3  # 2 tombstones + bob's
    tokens.issue("bob", "s")  # more were left: this one goes on at once
    assert stored_rows(tokens) == 2
    assert tokens.authenticate(ended[0].token) is None  # forgotten: unknown now
    tokens.issue("bob", "s")
    assert stored_rows(tokens) == 3  # nothing to purge, no purge for another 1000 s


def stored_rows(tokens: PostgresTokenManager) -> int:
    with psycopg.connect(tokens.dsn) as connection:
        row = connection.execute("SELECT count(*) FROM restauth_tokens").fetchone()
    assert row is not None
    return int(row[0])


def test_a_service_token_lifetime_is_checked(make: Callable[..., Any]) -> None:
    tokens = make()
    with pytest.raises(ValueError, match="lifetime"):
        tokens.issue("ci", "s", kind="service", lifetime=0)
    with pytest.raises(ValueError, match="kind"):
        tokens.issue("ci", "s", kind="robot")


def _use_after_fork(tokens: PostgresTokenManager, token: str, results: Any) -> None:
    grant = tokens.authenticate(token)
    results.put(isinstance(grant, TokenGrant) and tokens.issue("child", "s").userid)
    tokens.close()


def test_a_forked_worker_opens_its_own_pool(make: Callable[..., Any]) -> None:
    """gunicorn --preload: the manager was used before the fork; each process gets its
    own connections, and the parent's keep working."""
    tokens = make()
    grant = tokens.issue("alice", "s")
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_use_after_fork, args=(tokens, grant.token, results))
    child.start()
    assert results.get(timeout=30) == "child"
    child.join(timeout=30)
    assert child.exitcode == 0
    assert isinstance(tokens.authenticate(grant.token), TokenGrant)
    assert [s.userid for s in tokens.sessions("child")] == ["child"]
