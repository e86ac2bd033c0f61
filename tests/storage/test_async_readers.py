"""The async readers the ASGI adapter awaits (:mod:`restauth.lookups`): over the same data
they answer what the synchronous stores answer; a store that is down is a prompt
StoreUnavailable that never shows the DSN; ``aclose`` closes.

A reader belongs to the event loop it was made in, so each is made on the tests' loop
(:func:`tests.adapters.run_async`: never this thread's, which Playwright may hold).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from restauth import PasswordHasher, StoreUnavailable
from restauth.lookups import AsyncTokenReads, AsyncUserReads
from restauth.tokens.base import DeadToken, TokenCodec, TokenGrant
from tests.adapters import run_async
from tests.conftest import ALICE_PASSWORD, FakeClock
from tests.services import free_port, postgres_dsn, redis_url
from tests.storage.conftest import SECRET_KEY

T = TypeVar("T")
TTL = 900.0


def on_loop(make: Callable[[], T]) -> T:
    """``make()`` run on the tests' event loop, where the reader it makes will be used."""

    async def call() -> T:
        return make()

    return run_async(call())


def answers(tokens: Any, reader: Any, token: str) -> tuple[Any, Any]:
    """What the reader answers for ``token``, then what the manager answers."""
    found = run_async(reader.authenticate(token))
    return found, tokens.authenticate(token)


def eventually(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture(params=["redis", "postgres"])
def tokens(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[Any]:
    options: dict[str, Any] = {"max_lifetime": 3600, "clock": clock, "secret_key": SECRET_KEY}
    manager: Any
    if request.param == "redis":
        from restauth.tokens.redis import RedisTokenManager

        prefix = request.getfixturevalue("redis_prefix")
        manager = RedisTokenManager(redis_url(), TTL, prefix=prefix, **options)
    else:
        from restauth.tokens.postgres import PostgresTokenManager

        manager = PostgresTokenManager(
            request.getfixturevalue("postgres_schema_dsn"), TTL, **options
        )
    yield manager
    manager.close()


@pytest.fixture
def reader(tokens: Any) -> Iterator[Any]:
    made = on_loop(tokens.async_token_reader)
    assert made is not None
    yield made
    run_async(made.aclose())


# -- the same answers as the manager ---------------------------------------------------


def test_managers_offer_readers(tokens: Any) -> None:
    assert isinstance(tokens, AsyncTokenReads)


def test_a_live_token_is_the_same_grant(tokens: Any, reader: Any) -> None:
    grant = tokens.issue("zoë", "stamp-1", client="curl/8")
    found, expected = answers(tokens, reader, grant.token)
    assert isinstance(found, TokenGrant)
    assert found == expected
    assert (found.token, found.valid_until, found.session) == (
        grant.token,
        grant.valid_until,
        grant.session,
    )


@pytest.mark.parametrize("how", ["ended", "expired", "revoked"])
def test_a_dead_token_is_the_same_dead_token(
    tokens: Any, reader: Any, clock: FakeClock, how: str
) -> None:
    grant = tokens.issue("alice", "stamp-1")
    if how == "ended":
        assert tokens.end("alice", grant.session)
    elif how == "expired":
        clock.advance(TTL + 1)
    else:
        assert tokens.revoke("alice") == 1
    reason = "expired" if how == "expired" else "ended"
    found, expected = answers(tokens, reader, grant.token)
    assert found == expected == DeadToken("alice", grant.session, reason)


def test_unknown_and_malformed_tokens_are_none(tokens: Any, reader: Any) -> None:
    grant = tokens.issue("alice", "stamp-1")
    codec, stranger = TokenCodec(SECRET_KEY), TokenCodec("another-key-0123456789abcdef")
    for token in (
        codec.token_for(codec.new_id()),  # well formed, never issued
        stranger.token_for(codec.id_of(grant.token) or ""),  # its id, another key's MAC
        grant.token + "x",
        "not-a-token",
        "",
    ):
        assert answers(tokens, reader, token) == (None, None), token


def test_a_due_renewal_is_written(tokens: Any, reader: Any, clock: FakeClock) -> None:
    grant = tokens.issue("alice", "stamp-1")
    clock.advance(300)  # the idle deadline would move by 300 s: more than the renewal step
    found = run_async(reader.authenticate(grant.token))
    assert isinstance(found, TokenGrant)
    assert found.valid_until == clock.now + TTL > grant.valid_until
    # The stored deadline moved (listing writes nothing), and the manager reads it back.
    assert [session.valid_until for session in tokens.sessions("alice")] == [found.valid_until]
    assert tokens.authenticate(grant.token) == found


def test_a_reader_used_first_finds_the_store_ready(tokens: Any, reader: Any) -> None:
    """Before the manager's first use (a PostgreSQL table not created yet)."""
    codec = TokenCodec(SECRET_KEY)
    assert run_async(reader.authenticate(codec.token_for(codec.new_id()))) is None
    assert tokens.sessions("alice") == []


# -- Redis ------------------------------------------------------------------------------


def redis_manager(client: Any, clock: FakeClock, prefix: str) -> Any:
    from restauth.tokens.redis import RedisTokenManager

    return RedisTokenManager(
        client, TTL, max_lifetime=3600, clock=clock, secret_key=SECRET_KEY, prefix=prefix
    )


def test_a_flushed_script_is_sent_again(redis_prefix: str, clock: FakeClock) -> None:
    tokens = redis_manager(redis_url(), clock, redis_prefix)
    reader = on_loop(tokens.async_token_reader)
    try:
        grant = tokens.issue("alice", "stamp-1")
        assert run_async(reader.authenticate(grant.token)) == tokens.authenticate(grant.token)
        tokens.client.script_flush()  # a restarted server: NOSCRIPT, then EVAL
        found = run_async(reader.authenticate(grant.token))
        assert tokens.client.script_exists(tokens._authenticate.sha) == [True]  # the reader's EVAL
        assert isinstance(found, TokenGrant)
        assert found == tokens.authenticate(grant.token)
    finally:
        run_async(reader.aclose())
        tokens.close()


def test_a_client_that_decodes_responses(redis_prefix: str, clock: FakeClock) -> None:
    import redis

    tokens = redis_manager(
        redis.Redis.from_url(redis_url(), decode_responses=True), clock, redis_prefix
    )
    reader = on_loop(tokens.async_token_reader)
    try:
        grant = tokens.issue("zoë", "stämp")
        found, expected = answers(tokens, reader, grant.token)
        assert isinstance(found, TokenGrant)
        assert found == expected
        assert (found.userid, found.stamp) == ("zoë", "stämp")
    finally:
        run_async(reader.aclose())
        tokens.close()


def test_aclose_closes_the_connections(redis_prefix: str, clock: FakeClock) -> None:
    import redis

    name = f"restauth-test-{uuid.uuid4().hex[:12]}"
    tokens = redis_manager(redis.Redis.from_url(redis_url(), client_name=name), clock, redis_prefix)
    reader = on_loop(tokens.async_token_reader)

    def connected() -> int:
        return sum(client["name"] == name for client in tokens.client.client_list())

    try:
        grant = tokens.issue("alice", "stamp-1")
        run_async(reader.authenticate(grant.token))
        assert connected() == 2  # the manager's and the reader's (a copy: the same name)
        run_async(reader.aclose())
        run_async(reader.aclose())  # harmless
        assert eventually(lambda: connected() == 1)
    finally:
        tokens.close()


def _subclassed() -> Any:
    import redis

    class Traced(redis.connection.Connection):
        pass

    return redis.Redis(connection_pool=redis.ConnectionPool(connection_class=Traced))


@pytest.mark.parametrize(
    "client",
    [
        pytest.param(_subclassed, id="a connection class of its own"),
        pytest.param(
            lambda: __import__("redis").Redis(ssl=True, ssl_validate_ocsp=True), id="OCSP"
        ),
        pytest.param(
            lambda: __import__("redis").Redis(redis_connect_func=lambda connection: None),
            id="a connect callback",
        ),
    ],
)
def test_a_client_the_async_library_cannot_copy_gives_no_reader(
    client: Callable[[], Any], clock: FakeClock
) -> None:
    tokens = redis_manager(client(), clock, "restauth-test:")
    assert on_loop(tokens.async_token_reader) is None
    tokens.close()


@pytest.mark.parametrize(
    ("options", "kind"),
    [
        ({"host": "127.0.0.1"}, "Connection"),
        ({"host": "127.0.0.1", "ssl": True}, "SSLConnection"),
        ({"unix_socket_path": "/nonexistent/redis.sock"}, "UnixDomainSocketConnection"),
    ],
)
def test_the_async_copy_keeps_the_connection_class_and_the_failure_policy(
    options: dict[str, Any], kind: str
) -> None:
    import redis
    import redis.asyncio

    from restauth._storage.redis import RETRIES, SOCKET_TIMEOUT, async_redis_client

    client = redis.Redis(db=3, password="hunter2", socket_timeout=30, **options)
    copy = async_redis_client(client)
    assert copy is not None
    pool = copy.connection_pool
    assert pool.connection_class is getattr(redis.asyncio.connection, kind)
    settings = pool.connection_kwargs
    assert (settings["db"], settings["password"]) == (3, "hunter2")
    assert settings["socket_timeout"] == settings["socket_connect_timeout"] == SOCKET_TIMEOUT
    retry = settings["retry"]
    assert isinstance(retry, redis.asyncio.retry.Retry)
    assert retry.get_retries() == RETRIES


def test_redis_down_is_a_prompt_503_without_the_url(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    tokens = redis_manager(url, clock, "restauth-test:")
    reader = on_loop(tokens.async_token_reader)  # no I/O: a server that is down is no error
    token = TokenCodec(SECRET_KEY).token_for("x" * 22)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable) as raised:
            run_async(reader.authenticate(token))
        assert time.monotonic() - started < 5
        with pytest.raises(StoreUnavailable) as expected:
            tokens.authenticate(token)
        assert str(raised.value) == str(expected.value) == "Redis: ConnectionError"
        assert "hunter2" not in caplog.text
    finally:
        run_async(reader.aclose())
        tokens.close()


# -- PostgreSQL -------------------------------------------------------------------------


def backends_connected(application: str) -> int:
    import psycopg

    with psycopg.connect(postgres_dsn(), autocommit=True) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (application,)
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("store", ["tokens", "users"])
def test_aclose_closes_the_pool(
    postgres_schema_dsn: str, hasher: PasswordHasher, clock: FakeClock, store: str
) -> None:
    from restauth.tokens.postgres import PostgresTokenManager
    from restauth.users.postgres import PostgresUserStore

    application = f"restauth-test-{uuid.uuid4().hex[:12]}"
    dsn = f"{postgres_schema_dsn}&application_name={application}"
    opened: Any
    if store == "tokens":
        opened = PostgresTokenManager(dsn, secret_key=SECRET_KEY, clock=clock)
        reader = on_loop(opened.async_token_reader)
        read = lambda: reader.authenticate(TokenCodec(SECRET_KEY).token_for("x" * 22))  # noqa: E731
    else:
        opened = PostgresUserStore(dsn, hasher=hasher)
        reader = on_loop(opened.async_user_reader)
        read = lambda: reader.get("alice")  # noqa: E731
    try:
        assert run_async(read()) is None
        before = backends_connected(application)
        assert before >= 2  # the store's pool (it made the tables) and the reader's
        run_async(reader.aclose())
        run_async(reader.aclose())  # harmless
        assert eventually(lambda: backends_connected(application) < before)
        with pytest.raises(StoreUnavailable, match="closed"):
            run_async(read())
    finally:
        opened.close()


@pytest.mark.parametrize("tables", ["to create", "none required"])
@pytest.mark.parametrize("store", ["tokens", "users"])
def test_postgres_down_is_a_prompt_503_without_the_dsn(
    store: str, tables: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Down before the tables were made (the thread that makes them fails), and with
    nothing to make (the async pool itself waits for a connection)."""
    from restauth.tokens.postgres import PostgresTokenManager
    from restauth.users.postgres import PostgresUserStore

    caplog.set_level(logging.DEBUG)
    dsn = f"postgresql://app:hunter2@127.0.0.1:{free_port()}/test"
    opened: Any
    if store == "tokens":
        opened = PostgresTokenManager(dsn, secret_key=SECRET_KEY, timeout=1)
        reader = on_loop(opened.async_token_reader)
        read = lambda: reader.authenticate(TokenCodec(SECRET_KEY).token_for("x" * 22))  # noqa: E731
    else:
        opened = PostgresUserStore(dsn, timeout=1)
        reader = on_loop(opened.async_user_reader)
        read = lambda: reader.get("alice")  # noqa: E731
    if tables == "none required":
        opened.database._pending.clear()
    try:
        for _ in range(2):  # and again: a failed first use is tried anew
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as raised:
                run_async(read())
            assert time.monotonic() - started < 5
            for text in (str(raised.value), repr(raised.value)):
                assert "hunter2" not in text
                assert "127.0.0.1" not in text
            assert str(raised.value) == "PostgreSQL: no connection within 1 s"
        assert "hunter2" not in caplog.text  # the pools' own connection errors included
    finally:
        run_async(reader.aclose())
        opened.close()


# -- PostgreSQL users -------------------------------------------------------------------


def test_a_user_is_read_alike(postgres_schema_dsn: str, hasher: PasswordHasher) -> None:
    from restauth.users.postgres import PostgresUserStore

    store = PostgresUserStore(postgres_schema_dsn, hasher=hasher)
    assert isinstance(store, AsyncUserReads)
    reader = on_loop(store.async_user_reader)  # first: its first read makes the tables
    try:
        assert run_async(reader.get("alice")) is None
        assert store.get("alice") is None
        store.add("alice", ALICE_PASSWORD, roles=["user", "admin"], email="alice@example.org")
        found = run_async(reader.get("alice"))
        assert found is not None
        assert found == store.get("alice")
        assert (found.userid, found.roles, found.email) == (
            "alice",
            frozenset({"user", "admin"}),
            "alice@example.org",
        )
        assert (found.verified, found.disabled, type(found.created)) == (True, False, float)
        assert hasher.verify(ALICE_PASSWORD, found.password_hash)
        store.update("alice", disabled=True)  # a new stamp, and the flag
        changed = run_async(reader.get("alice"))
        assert changed == store.get("alice")
        assert changed is not None
        assert (changed.disabled, changed.stamp != found.stamp) == (True, True)
        assert run_async(reader.get("bob")) is None
        assert run_async(reader.get("ALICE")) == store.get("ALICE")  # as the store: no folding
    finally:
        run_async(reader.aclose())
        store.close()
