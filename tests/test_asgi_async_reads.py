"""The ASGI adapter awaits a Token check's reads through the stores' async readers (see
:mod:`restauth.lookups`) and decides inline: no worker thread. Here with readers over
in-process stores that count their calls, so every path of the adapter's plumbing can be
steered (a reader that fails, one that cannot be made, a user store without one); the
real Redis and PostgreSQL readers are tested in ``tests/storage/test_async_readers.py`` and
under uvicorn in ``tests/test_asgi_async_stores.py``.

Every decision made this way must be the one the worker-thread path makes: the same
status, headers and body for a live token, a dead one, an unknown one, a changed password.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio.to_thread
import pytest

from restauth import CORS, MemoryTokenManager, MemoryUserStore, PasswordHasher, StoreUnavailable
from restauth.asgi import AuthMiddleware
from restauth.tokens.base import DeadToken, TokenGrant
from restauth.users.base import User
from tests.conftest import basic
from tests.test_asgi_runtime import PASSWORD, EchoApp, client, login, run, started

pytest.importorskip("uvicorn")

T = TypeVar("T")


class TokenReader:
    """An async reader over a memory manager, counting its calls; ``failure`` is raised
    instead of answering when set."""

    def __init__(self, tokens: MemoryTokenManager, log: list[str]) -> None:
        self.tokens, self.log = tokens, log
        self.failure: Exception | None = None
        self.loop = asyncio.get_running_loop()  # made in the loop that uses it

    async def authenticate(self, token: str) -> TokenGrant | DeadToken | None:
        await asyncio.sleep(0)  # a real reader waits on the network here
        assert asyncio.get_running_loop() is self.loop
        self.log.append("token")
        if self.failure is not None:
            raise self.failure
        return self.tokens.authenticate(token)

    async def aclose(self) -> None:
        self.log.append("token closed")


class UserReader:
    def __init__(self, users: MemoryUserStore, log: list[str]) -> None:
        self.users, self.log = users, log

    async def get(self, userid: str) -> User | None:
        await asyncio.sleep(0)
        self.log.append("user")
        return self.users.get(userid)

    async def aclose(self) -> None:
        self.log.append("user closed")


class AsyncTokens:
    """A token manager (a memory one inside, so not seen as in-process) with async reads."""

    def __init__(self, *, can_read: bool = True) -> None:
        self.inner = MemoryTokenManager()
        self.log: list[str] = []
        self.readers: list[TokenReader] = []
        self.can_read = can_read

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def async_token_reader(self) -> TokenReader | None:
        if not self.can_read:
            return None
        self.log.append("reader made")
        self.readers.append(TokenReader(self.inner, self.log))
        return self.readers[-1]


class AsyncUsers:
    """A user store (a memory one inside) with async reads, or without (``can_read``)."""

    def __init__(self, *, can_read: bool = True) -> None:
        self.inner = MemoryUserStore(hasher=PasswordHasher(rounds=4))
        self.inner.add("alice", PASSWORD, roles=["user"])
        self.log: list[str] = []
        self.can_read = can_read

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def async_user_reader(self) -> UserReader | None:
        return UserReader(self.inner, self.log) if self.can_read else None


def memory_users() -> MemoryUserStore:
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    users.add("alice", PASSWORD, roles=["user"])
    return users


def middleware(users: Any = None, tokens: Any = None, **settings: Any) -> AuthMiddleware:
    return AuthMiddleware(
        EchoApp(),
        users=memory_users() if users is None else users,
        tokens=AsyncTokens() if tokens is None else tokens,
        public=["/health"],
        **settings,
    )


async def get(app: Any, path: str = "/", **headers: str) -> Any:
    async with client(app) as http:
        return await http.get(path, headers=headers)


def serve(app: Any, work: Callable[[], Awaitable[T]]) -> T:
    """``work()`` on a fresh loop, ``app`` started by its lifespan around it."""

    async def whole() -> T:
        async with started(app):
            return await work()

    return run(whole)


def token_request(app: Any, **headers: str) -> Callable[[], Any]:
    async def main() -> Any:
        token = await login(app)
        return await get(app, Authorization=f"Token {token}", **headers)

    return main


def test_a_token_check_is_awaited_not_sent_to_a_thread(
    thread_calls: list[Callable[..., Any]],
) -> None:
    app = middleware()

    async def main() -> list[Any]:
        token = await login(app)  # an endpoint of ours, with a password: a thread
        answers = [
            await get(app, Authorization=f"Token {token}"),
            await get(app, Authorization=f"Bearer {token}"),
            await get(app, "/health", Authorization=f"Token {token}"),
        ]
        return answers

    answers = serve(app, main)
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert all(a.json() == {"userid": "alice"} for a in answers)
    assert all(a.headers["Auth-Token-Location"] == "/tokens/alice" for a in answers)
    assert thread_calls == [app.pipeline.decide]  # the login alone
    assert app.tokens.log == ["reader made", "token", "token", "token", "token closed"]


def test_async_users_are_awaited_too(thread_calls: list[Callable[..., Any]]) -> None:
    users = AsyncUsers()
    app = middleware(users=users)
    answer = serve(app, token_request(app))
    assert (answer.status_code, answer.json()) == (200, {"userid": "alice"})
    assert users.log == ["user", "user closed"]
    assert len(thread_calls) == 1  # the login


def test_the_cookie_and_the_query_token_are_awaited_too(
    thread_calls: list[Callable[..., Any]],
) -> None:
    app = middleware(query_token="access_token")

    async def main() -> Any:
        token = await login(app)
        async with client(app) as http:
            return await http.get("/", params={"access_token": token})

    answer = serve(app, main)
    assert (answer.status_code, answer.json()) == (200, {"userid": "alice"})
    assert len(thread_calls) == 1

    cookie_app = middleware(cookie=True)

    async def by_cookie() -> Any:
        async with client(cookie_app) as http:
            login_headers = {
                "Authorization": basic("alice", PASSWORD),
                "X-Requested-With": "XMLHttpRequest",
                "Origin": "https://testserver",
            }
            logged_in = await http.post("/tokens", headers=login_headers)
            assert logged_in.status_code == 200, logged_in.text
            return await http.get("/")

    answer = serve(cookie_app, by_cookie)
    assert (answer.status_code, answer.json()) == (200, {"userid": "alice"})
    assert cookie_app.tokens.log[-2:] == ["token", "token closed"]
    assert len(thread_calls) == 2  # the two logins


def exchange(app: AuthMiddleware, token: str, other: str) -> list[tuple[int, str, bytes]]:
    """What a set of Token requests get: status, challenge and body of each."""

    async def main() -> list[tuple[int, str, bytes]]:
        seen = []
        for headers in (
            {"Authorization": f"Token {token}"},
            {"Authorization": f"Bearer {token}"},
            {"Authorization": f"Token {other}"},
            {"Authorization": "Token " + "A" * 40},
            {"Authorization": "Bearer not/a:token!"},
            {},
        ):
            answer = await get(app, **headers)
            challenge = answer.headers.get("WWW-Authenticate", "")
            seen.append((answer.status_code, challenge, answer.content))
        return seen

    return serve(app, main)


def test_every_verdict_is_the_one_the_thread_path_gives() -> None:
    """A live token, the same as a Basic password changed since, an ended session, an
    unknown token and a malformed one: the awaited reads and the threaded decision answer
    alike (status, challenge, body)."""
    results = {}
    for way in ("awaited", "threaded"):
        tokens = AsyncTokens(can_read=way == "awaited")
        users = memory_users()
        app = middleware(users=users, tokens=tokens)
        live = tokens.issue("alice", users.get("alice").stamp).token
        ended = tokens.issue("alice", users.get("alice").stamp)
        tokens.end("alice", ended.session)
        first = exchange(app, live, ended.token)
        users.set_password("alice", "a brand new passphrase 9")  # ends every session
        results[way] = (first, exchange(app, live, ended.token))
        reads = tokens.log.count("token")
        assert reads == (8 if way == "awaited" else 0)  # 4 well-formed tokens, twice
    assert results["awaited"] == results["threaded"]
    first, after_change = results["awaited"]
    assert [status for status, _, _ in first] == [200, 200, 401, 401, 400, 401]
    assert [status for status, _, _ in after_change] == [401, 401, 401, 401, 400, 401]
    assert 'error="invalid_token"' in first[2][1]


@pytest.mark.parametrize("failure", [StoreUnavailable("Redis: ConnectionError"), OSError("x")])
def test_a_reader_that_fails_is_a_503_and_the_app_is_not_called(
    failure: Exception, caplog: pytest.LogCaptureFixture, thread_calls: list[Callable[..., Any]]
) -> None:
    tokens = AsyncTokens()
    app = middleware(tokens=tokens)
    users = app.options.users
    token = tokens.issue("alice", users.get("alice").stamp).token

    async def main() -> Any:
        await get(app, Authorization=f"Token {token}")  # makes the reader
        tokens.readers[-1].failure = failure
        return await get(app, Authorization=f"Token {token}")

    with caplog.at_level(logging.WARNING, logger="restauth"):
        answer = serve(app, main)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"].isdigit()
    assert len(app.app.scopes) == 1  # the first request only
    assert thread_calls == []
    assert "store unavailable" in caplog.text
    if isinstance(failure, OSError):  # not the store's own error: named by type alone
        assert "TokenReader.authenticate failed: OSError" in caplog.text


def test_without_a_reader_the_check_runs_in_a_thread(
    thread_calls: list[Callable[..., Any]],
) -> None:
    for tokens, users in (
        (AsyncTokens(can_read=False), None),  # the manager cannot make one
        (AsyncTokens(), AsyncUsers(can_read=False)),  # the users would still wait
    ):
        app = middleware(users=users, tokens=tokens)
        before = len(thread_calls)
        answer = serve(app, token_request(app))
        assert answer.status_code == 200
        assert len(thread_calls) - before == 2  # the login and the Token check
        assert "token" not in tokens.log


def test_basic_and_our_endpoints_still_go_to_a_thread(
    thread_calls: list[Callable[..., Any]],
) -> None:
    app = middleware()

    async def main() -> list[int]:
        token = await login(app)
        return [
            (await get(app, Authorization=basic("alice", PASSWORD))).status_code,
            (await get(app, Authorization=basic("alice", token))).status_code,  # as password
            (await get(app, "/tokens/alice", Authorization=f"Token {token}")).status_code,
        ]

    assert serve(app, main) == [200, 200, 200]
    assert len(thread_calls) == 4
    assert app.tokens.log == ["reader made", "token closed"]  # and not one read


def test_the_readers_live_from_the_lifespan_startup_to_its_shutdown(
    thread_calls: list[Callable[..., Any]],
) -> None:
    """Made at startup on the server's loop and closed at shutdown; without lifespan
    events (before, after, or a loop that never ran them) Token checks use threads, so
    no client is left open on a loop that is gone."""
    app = middleware()
    tokens = app.tokens
    token = tokens.issue("alice", app.options.users.get("alice").stamp).token

    async def main() -> list[int]:
        statuses = [(await get(app, Authorization=f"Token {token}")).status_code]
        async with started(app):
            statuses.append((await get(app, Authorization=f"Token {token}")).status_code)
        statuses.append((await get(app, Authorization=f"Token {token}")).status_code)
        return statuses

    assert run(main) == [200, 200, 200]
    assert len(thread_calls) == 2  # before the startup and after the shutdown
    assert tokens.log == ["reader made", "token", "token closed"]
    assert run(main) == [200, 200, 200]  # another loop, another lifespan: new readers
    assert tokens.log[3:] == ["reader made", "token", "token closed"]
    assert tokens.readers[0].loop is not tokens.readers[1].loop


def test_the_lifespan_shutdown_closes_the_readers() -> None:
    users = AsyncUsers()
    app = middleware(users=users)
    token = app.tokens.issue("alice", users.get("alice").stamp).token

    async def main() -> list[str]:
        assert (await get(app, Authorization=f"Token {token}")).status_code == 200
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        sent: list[str] = []

        async def receive() -> dict[str, str]:
            return next(messages)

        async def send(message: dict[str, str]) -> None:
            sent.append(message["type"])

        await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
        return sent

    assert run(main) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert app.tokens.log[-1] == "token closed"
    assert users.log[-1] == "user closed"


# -- the review's findings, pinned -----------------------------------------------------------


@pytest.mark.parametrize("header", ["Negotiate YIIB", "Digest username=x", ""])
def test_a_header_of_another_scheme_beside_the_cookie_still_awaits_the_reads(
    header: str, thread_calls: list[Callable[..., Any]]
) -> None:
    """An ``Authorization`` restauth does not read leaves the cookie to be read; the
    check of that cookie must be awaited like any other, never made on the loop."""
    tokens = AsyncTokens()
    app = middleware(tokens=tokens, cookie=True)
    token = tokens.issue("alice", app.options.users.get("alice").stamp).token

    async def main() -> Any:
        headers = {"Cookie": f"__Host-restauth={token}", "Authorization": header}
        return await get(app, **headers)

    answer = serve(app, main)
    assert (answer.status_code, answer.json()) == (200, {"userid": "alice"})
    assert tokens.log == ["reader made", "token", "token closed"]
    assert thread_calls == []


def test_a_decision_said_to_read_nothing_that_would_read_is_refused_not_made(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Should the adapter's reading of a request ever disagree with the pipeline's, the
    decision is a 503 (fail closed, logged as an internal error), not a store call made on
    the event loop."""
    from restauth.gate import NOTHING, Gate

    tokens = AsyncTokens()
    app = middleware(tokens=tokens)
    token = tokens.issue("alice", app.options.users.get("alice").stamp).token
    monkeypatch.setattr(Gate, "reads", lambda self, request: NOTHING)
    answer = serve(app, lambda: get(app, Authorization=f"Token {token}"))
    assert answer.status_code == 503
    assert "restauth internal error" in caplog.text
    assert tokens.log == ["reader made", "token closed"]  # no read, awaited or not


class RaisingBearer:
    """An identity provider whose routing has a bug."""

    def handles(self, token: str) -> bool:
        raise KeyError("iss")

    def authenticate(self, token: str) -> None:
        return None


class BrokenReaderTokens(AsyncTokens):
    def async_token_reader(self) -> TokenReader | None:
        raise ImportError("no module named 'some_async_driver'")


def test_faults_before_the_decision_are_503s_from_the_pipeline_not_escapes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tokens = AsyncTokens()
    app = middleware(tokens=tokens, bearer=RaisingBearer())
    token = tokens.issue("alice", app.options.users.get("alice").stamp).token
    answer = serve(app, lambda: get(app, Authorization=f"Bearer {token}"))
    assert answer.status_code == 503  # the pipeline met the same fault, in a thread
    assert answer.headers["Retry-After"].isdigit()

    broken = BrokenReaderTokens()
    app = middleware(tokens=broken)
    token = broken.issue("alice", app.options.users.get("alice").stamp).token
    answer = serve(app, lambda: get(app, Authorization=f"Token {token}"))
    assert answer.status_code == 200  # no readers: the check ran in a thread
    assert "async readers unavailable, threads serve: ImportError" in caplog.text


def test_a_cors_preflight_reads_no_store(thread_calls: list[Callable[..., Any]]) -> None:
    tokens = AsyncTokens()
    app = middleware(tokens=tokens, cors=CORS(origins=["https://app.example"]))
    token = tokens.issue("alice", app.options.users.get("alice").stamp).token
    headers = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "GET",
        "Authorization": f"Token {token}",
    }

    async def main() -> Any:
        async with client(app) as http:
            return await http.options("/", headers=headers)

    answer = serve(app, main)
    assert answer.status_code == 204
    assert tokens.log == ["reader made", "token closed"]
    assert thread_calls == []


def test_two_lifespans_at_once_keep_a_reader_each() -> None:
    """Two event loops serving one middleware (two test clients at once): each loop's
    lifespan makes and closes its own readers; one shutting down leaves the other's."""
    import threading

    app = middleware()
    tokens = app.tokens
    token = tokens.issue("alice", app.options.users.get("alice").stamp).token
    first_started, second_done = threading.Event(), threading.Event()
    statuses: dict[str, list[int]] = {"first": [], "second": []}

    async def first() -> None:
        async with started(app):
            statuses["first"].append((await get(app, Authorization=f"Token {token}")).status_code)
            first_started.set()
            await anyio.to_thread.run_sync(second_done.wait)  # the other loop runs meanwhile
            statuses["first"].append((await get(app, Authorization=f"Token {token}")).status_code)

    async def second() -> None:
        async with started(app):
            statuses["second"].append((await get(app, Authorization=f"Token {token}")).status_code)

    thread = threading.Thread(target=run, args=(first,))
    thread.start()
    assert first_started.wait(30)
    run(second)
    second_done.set()
    thread.join(30)
    assert statuses == {"first": [200, 200], "second": [200]}
    reads = [entry for entry in tokens.log if entry != "reader made"]
    assert tokens.log.count("reader made") == 2
    assert reads == ["token", "token", "token closed", "token", "token closed"]
