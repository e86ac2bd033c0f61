"""The async readers the ASGI adapter awaits (:mod:`restauth.lookups`): over the same data
they answer what the synchronous stores answer; a store that is down is a prompt
StoreUnavailable that never shows the DSN; ``aclose`` closes.

A reader belongs to the event loop it was made in, so each is made on the tests' loop
(:func:`tests.adapters.run_async`: never this thread's, which Playwright may hold).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from restauth import PasswordHasher, StoreUnavailable
from restauth.tokens.base import AsyncTokenReads, DeadToken, TokenCodec, TokenGrant
from restauth.users.base import AsyncUserReads
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


def test_the_reader_reads_the_managers_clock_as_it_is_now(tokens: Any, reader: Any) -> None:
    """A clock set on the manager after the reader was made (a test moving time on) is the
    reader's clock too."""
    grant = tokens.issue("alice", "stamp-1")
    tokens.clock = lambda: grant.valid_until + 1
    found, expected = answers(tokens, reader, grant.token)
    assert found == expected == DeadToken("alice", grant.session, "expired")


def test_a_reader_used_first_finds_the_store_ready(tokens: Any, reader: Any) -> None:
    """Before the manager's first use (a PostgreSQL table not created yet)."""
    codec = TokenCodec(SECRET_KEY)
    assert run_async(reader.authenticate(codec.token_for(codec.new_id()))) is None
    assert tokens.sessions("alice") == []


# -- which stores offer a reader -------------------------------------------------------


def _store(kind: str, overriding: str) -> Any:
    """A store of ``kind`` whose class overrides ``overriding`` (``""``: the class itself).
    No I/O: nothing listens on the addresses given, and making a reader connects nowhere."""
    from restauth.tokens.postgres import PostgresTokenManager
    from restauth.tokens.redis import RedisTokenManager
    from restauth.users.postgres import PostgresUserStore

    dsn = f"postgresql://app@127.0.0.1:{free_port()}/test"
    base: Any
    arguments: tuple[Any, ...]
    base, arguments = {
        "redis tokens": (RedisTokenManager, (f"redis://127.0.0.1:{free_port()}/0",)),
        "postgres tokens": (PostgresTokenManager, (dsn,)),
        "postgres users": (PostgresUserStore, (dsn,)),
    }[kind]
    cls = base
    if overriding:

        def override(self: Any, *args: Any) -> Any:
            return getattr(base, overriding)(self, *args)

        cls = type("Subclass", (base,), {overriding: override})
    options = {"secret_key": SECRET_KEY} if "tokens" in kind else {}
    return cls(*arguments, **options)


def _reader_of(store: Any) -> Any:
    make = getattr(store, "async_token_reader", None) or store.async_user_reader
    return on_loop(make)


@pytest.mark.parametrize(
    ("kind", "method"),
    [
        ("redis tokens", "authenticate"),
        ("postgres tokens", "authenticate"),
        ("postgres users", "get"),
        ("postgres users", "_query"),  # what get reads through
    ],
)
def test_a_subclass_overriding_the_read_gets_no_reader(kind: str, method: str) -> None:
    """The reader runs the class's own script or SQL: it would bypass the override (a
    deny-list, an extra check), so the subclass's checks run its method in a thread."""
    store = _store(kind, method)
    try:
        assert _reader_of(store) is None
    finally:
        store.close()


@pytest.mark.parametrize(
    ("kind", "method"),
    [
        ("redis tokens", "authenticate"),
        ("postgres tokens", "authenticate"),
        ("postgres users", "get"),
    ],
)
def test_a_read_replaced_on_the_instance_gets_no_reader(kind: str, method: str) -> None:
    """A wrapper set on the store (a deny-list installed at start-up, ``mock.patch.object``)
    is an override too: the reader would bypass it."""
    store = _store(kind, "")
    original = getattr(store, method)
    setattr(store, method, lambda *args: original(*args))
    try:
        assert _reader_of(store) is None
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["redis tokens", "postgres tokens", "postgres users"])
@pytest.mark.parametrize("overriding", ["", "__repr__"])
def test_the_class_and_a_subclass_overriding_something_else_get_a_reader(
    kind: str, overriding: str
) -> None:
    store = _store(kind, overriding)
    reader = _reader_of(store)
    try:
        assert reader is not None
    finally:
        if reader is not None:
            run_async(reader.aclose())
        store.close()


@pytest.mark.parametrize("kind", ["redis tokens", "postgres tokens", "postgres users"])
def test_no_postgres_reader_on_a_proactor_event_loop(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psycopg refuses Windows' ProactorEventLoop: simulated here as the running loop's class
    (asyncio has no ProactorEventLoop off Windows). redis.asyncio runs on it."""
    monkeypatch.setattr(asyncio, "ProactorEventLoop", asyncio.AbstractEventLoop, raising=False)
    store = _store(kind, "")
    reader = _reader_of(store)
    try:
        assert (reader is None) == kind.startswith("postgres")
    finally:
        if reader is not None:
            run_async(reader.aclose())
        store.close()


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
def test_the_async_copy_keeps_the_connection_class_and_the_settings(
    options: dict[str, Any], kind: str
) -> None:
    import redis
    import redis.asyncio

    from restauth._storage.redis_async import async_redis_client

    client = redis.Redis(
        db=3, password="hunter2", socket_timeout=30, socket_connect_timeout=7, **options
    )
    copy = async_redis_client(client)
    assert copy is not None
    pool = copy.connection_pool
    assert pool.connection_class is getattr(redis.asyncio.connection, kind)
    settings = pool.connection_kwargs
    assert (settings["db"], settings["password"]) == (3, "hunter2")
    # The caller's own timeouts, as they are (redis-py keeps no connect timeout for a socket file).
    original = client.connection_pool.connection_kwargs
    for name in ("socket_timeout", "socket_connect_timeout"):
        assert settings.get(name) == original.get(name)
    assert settings["socket_timeout"] == 30
    # The caller's retry policy (redis-py's default), as redis.asyncio's Retry.
    retry, sync_retry = settings["retry"], client.connection_pool.connection_kwargs["retry"]
    assert isinstance(retry, redis.asyncio.retry.Retry)
    assert retry.get_retries() == sync_retry.get_retries()
    assert type(retry._backoff) is type(sync_retry._backoff)
    assert retry._backoff is not sync_retry._backoff  # a copy: no shared state
    # A pool that waits for a free connection (up to the socket timeout), never refuses.
    assert isinstance(pool, redis.asyncio.BlockingConnectionPool)
    assert (pool.max_connections, pool.timeout) == (client.connection_pool.max_connections, 30)


def test_the_async_copy_opens_a_bounded_number_of_connections() -> None:
    """redis-py before 8 lets a pool open 2**31 connections: the copy's stops at 100."""
    import redis

    from restauth._storage.redis_async import ASYNC_MAX_CONNECTIONS, async_redis_client

    copy = async_redis_client(
        redis.Redis(connection_pool=redis.ConnectionPool(max_connections=2**31))
    )
    assert copy is not None
    assert copy.connection_pool.max_connections == ASYNC_MAX_CONNECTIONS == 100


def test_a_url_client_s_copy_has_restauth_s_failure_policy() -> None:
    import redis.asyncio
    from redis.backoff import NoBackoff

    from restauth._storage.redis import RETRIES, SOCKET_TIMEOUT, redis_client
    from restauth._storage.redis_async import async_redis_client

    client = redis_client("redis://127.0.0.1:6379/3")
    copy = async_redis_client(client)
    assert copy is not None
    pool = copy.connection_pool
    settings = pool.connection_kwargs
    assert settings["socket_timeout"] == settings["socket_connect_timeout"] == SOCKET_TIMEOUT
    retry = settings["retry"]
    assert isinstance(retry, redis.asyncio.retry.Retry)
    assert retry.get_retries() == RETRIES
    assert isinstance(retry._backoff, NoBackoff)
    assert isinstance(pool, redis.asyncio.BlockingConnectionPool)
    assert pool.max_connections == client.connection_pool.max_connections
    assert pool.timeout == SOCKET_TIMEOUT


def test_a_blocking_pool_s_copy_waits_as_long() -> None:
    import redis

    from restauth._storage.redis_async import async_redis_client

    pool = redis.BlockingConnectionPool(host="127.0.0.1", max_connections=2, timeout=5)
    copy = async_redis_client(redis.Redis(connection_pool=pool))
    assert copy is not None
    assert (copy.connection_pool.max_connections, copy.connection_pool.timeout) == (2, 5)


def test_a_retry_policy_of_its_own_gives_no_copy() -> None:
    import redis
    from redis.backoff import NoBackoff

    from restauth._storage.redis_async import async_redis_client

    class Counted(redis.retry.Retry):
        pass

    assert async_redis_client(redis.Redis(retry=Counted(NoBackoff(), 2))) is None


def test_a_burst_beyond_the_pool_waits_its_turn(redis_prefix: str, clock: FakeClock) -> None:
    """200 checks at once through a pool of 4: none is refused, none opens a 5th connection."""
    import redis

    name = f"restauth-test-{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(redis_url(), max_connections=4, client_name=name)
    tokens = redis_manager(client, clock, redis_prefix)
    reader = on_loop(tokens.async_token_reader)
    grant = tokens.issue("alice", "stamp-1")
    opened: list[int] = []

    async def burst() -> list[Any]:
        async def one() -> Any:
            found = await reader.authenticate(grant.token)
            opened.append(sum(c["name"] == name for c in await reader._client.client_list()))
            return found

        return await asyncio.gather(*(one() for _ in range(200)), return_exceptions=True)

    try:
        found = run_async(burst())
        assert all(isinstance(each, TokenGrant) for each in found), {repr(f) for f in found}
        assert max(opened) <= 4 + 1  # the reader's four and the manager's one
    finally:
        run_async(reader.aclose())
        tokens.close()


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
    caplog.set_level(logging.DEBUG)
    dsn = f"postgresql://app:hunter2@127.0.0.1:{free_port()}/test"
    opened, reader, read = reader_of(store, dsn)
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


def reader_of(store: str, dsn: str) -> tuple[Any, Any, Callable[[], Awaitable[object]]]:
    """The PostgreSQL ``store`` ("tokens" or "users") on ``dsn`` (timeout 1 s), its async
    reader (made on the test loop) and one read through it."""
    from restauth.tokens.postgres import PostgresTokenManager
    from restauth.users.postgres import PostgresUserStore

    opened: Any
    if store == "tokens":
        opened = PostgresTokenManager(dsn, secret_key=SECRET_KEY, timeout=1)
        reader = on_loop(opened.async_token_reader)
        return (
            opened,
            reader,
            lambda: reader.authenticate(TokenCodec(SECRET_KEY).token_for("x" * 22)),
        )
    opened = PostgresUserStore(dsn, timeout=1)
    reader = on_loop(opened.async_user_reader)
    return opened, reader, lambda: reader.get("alice")


@pytest.mark.parametrize("store", ["tokens", "users"])
def test_postgres_down_fails_concurrent_checks_together(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Down at start-up (tables to make): checks arriving together share one attempt to
    open, and all get their 503 after one timeout, not one timeout after another. The next
    check tries again."""
    dsn = f"postgresql://app@127.0.0.1:{free_port()}/test"
    opened, reader, read = reader_of(store, dsn)
    prepared: list[float] = []
    prepare = opened.database.prepare

    def counted() -> None:
        prepared.append(time.monotonic())
        prepare()

    monkeypatch.setattr(opened.database, "prepare", counted)

    async def together(count: int) -> list[tuple[float, BaseException | None]]:
        started = time.monotonic()

        async def one() -> tuple[float, BaseException | None]:
            try:
                await read()
            except Exception as error:
                return time.monotonic() - started, error
            return time.monotonic() - started, None

        return await asyncio.gather(*(one() for _ in range(count)))

    try:
        for attempt in (1, 2):
            outcomes = run_async(together(8))
            assert all(isinstance(error, StoreUnavailable) for _, error in outcomes), outcomes
            assert max(seconds for seconds, _ in outcomes) < 1.6, outcomes
            assert len(prepared) == attempt  # one attempt per burst; a failed one is retried
    finally:
        run_async(reader.aclose())
        opened.close()


def test_a_check_cancelled_while_the_pool_opens_leaves_the_others_theirs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A client gone while its check waits for the shared open cancels only its own wait."""
    from restauth.users.postgres import PostgresUserStore

    opened = PostgresUserStore(f"postgresql://app@127.0.0.1:{free_port()}/test", timeout=1)
    reader = on_loop(opened.async_user_reader)

    async def scenario() -> list[Any]:
        checks = [asyncio.ensure_future(reader.get("alice")) for _ in range(3)]
        await asyncio.sleep(0.2)
        checks[0].cancel()
        return await asyncio.gather(*checks, return_exceptions=True)

    try:
        first, *others = run_async(scenario())
        assert isinstance(first, asyncio.CancelledError)
        assert all(isinstance(each, StoreUnavailable) for each in others), others
    finally:
        run_async(reader.aclose())
        opened.close()


def test_the_async_pool_is_smaller_than_the_sync_one() -> None:
    """A Token check holds a connection for a round trip: a few serve a loop."""
    from restauth._storage.postgres import PostgresDatabase
    from restauth._storage.postgres_async import ASYNC_MAX_SIZE, AsyncPostgresDatabase

    dsn = "postgresql://app@127.0.0.1:1/test"
    assert AsyncPostgresDatabase(PostgresDatabase(dsn)).max_size == ASYNC_MAX_SIZE < 10
    assert AsyncPostgresDatabase(PostgresDatabase(dsn, max_size=2)).max_size == 2
    assert AsyncPostgresDatabase(PostgresDatabase(dsn), max_size=8).max_size == 8


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
