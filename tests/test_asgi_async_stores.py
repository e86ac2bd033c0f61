"""Redis and PostgreSQL through their async clients under the ASGI adapter (issue 20, item 2),
against the real servers and with faults injected:

- a Token check with Redis tokens (memory or PostgreSQL users) or PostgreSQL tokens and
  users is awaited on the event loop: no worker thread, the same answers as ever (a live
  token, an ended session, a changed password);
- a store that is down is a 503 with ``Retry-After``, promptly; a store that accepts the
  connection and never answers holds only the requests that wait on it: the loop goes on
  serving the others within milliseconds, and the waiting ones get their 503;
- under uvicorn with two workers, a token from one worker works on the other through the
  async clients, and the readers are closed when the server stops (no warning, no error).
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from restauth import (
    MemoryUserStore,
    PasswordHasher,
    PostgresTokenManager,
    PostgresUserStore,
    RedisTokenManager,
)
from restauth.asgi import AuthMiddleware
from restauth.tokens.base import TokenCodec
from tests.conftest import basic
from tests.servers import (
    environment,
    only_worker,
    request,
    running,
    uvicorn_workers,
    wait_until,
)
from tests.services import free_port, redis_url
from tests.test_asgi_runtime import (
    PASSWORD,
    SECRET_KEY,
    EchoApp,
    client,
    login,
    loop_stall_during,
    run,
    started,
    uvicorn,
)

pytest.importorskip("uvicorn")

CONFIGS = ["redis tokens, memory users", "redis tokens, postgres users", "postgres"]


def stores(config: str, dsn: str | None, prefix: str) -> tuple[Any, Any]:
    """The users and tokens of ``config``, alice among the users."""
    hasher = PasswordHasher(rounds=4)
    if config == "redis tokens, memory users":
        users: Any = MemoryUserStore(hasher=hasher)
    else:
        assert dsn is not None
        users = PostgresUserStore(dsn, hasher=hasher)
    users.add("alice", PASSWORD, roles=["user"])
    if config == "postgres":
        assert dsn is not None
        return users, PostgresTokenManager(dsn, secret_key=SECRET_KEY)
    return users, RedisTokenManager(redis_url(), secret_key=SECRET_KEY, prefix=prefix)


@pytest.fixture(params=CONFIGS)
def app(request: pytest.FixtureRequest) -> Iterator[AuthMiddleware]:
    config: str = request.param
    dsn = (
        None
        if config == "redis tokens, memory users"
        else request.getfixturevalue("postgres_schema_dsn")
    )
    users, tokens = stores(config, dsn, f"restauth-test:{uuid.uuid4().hex}:")
    middleware = AuthMiddleware(EchoApp(), users=users, tokens=tokens, public=["/health"])
    assert middleware._reads is not None  # the awaited path is on for every config here
    yield middleware
    middleware.close()


async def get(app: Any, path: str = "/", **headers: str) -> Any:
    async with client(app) as http:
        return await http.get(path, headers=headers)


def test_token_checks_are_awaited_and_answer_as_ever(
    app: AuthMiddleware, thread_calls: list[Callable[..., Any]]
) -> None:
    async def main() -> list[tuple[int, str]]:
        async with started(app):
            token = await login(app)
            other = await login(app)
            before = len(thread_calls)
            seen = []
            for path, headers in (
                ("/", {"Authorization": f"Token {token}"}),
                ("/", {"Authorization": f"Bearer {other}"}),
                ("/health", {"Authorization": f"Token {token}"}),
                ("/", {"Authorization": "Token " + "A" * 43}),
            ):
                answer = await get(app, path, **headers)
                seen.append((answer.status_code, answer.json().get("userid", "")))
            app.options.tokens.end("alice", app.options.tokens.sessions("alice")[-1].id)
            answer = await get(app, Authorization=f"Bearer {other}")  # its session ended
            seen.append((answer.status_code, answer.headers["WWW-Authenticate"]))
            app.options.users.set_password("alice", "another long passphrase 2")
            answer = await get(app, Authorization=f"Token {token}")  # every session ended
            seen.append((answer.status_code, ""))
            assert len(thread_calls) == before  # not one Token check went to a thread
            return seen

    seen = run(main)
    assert seen[:3] == [(200, "alice")] * 3
    assert seen[3][0] == 401
    assert seen[4][0] == 401
    assert 'error="invalid_token"' in seen[4][1]
    assert seen[5] == (401, "")


@contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers: a store that hangs."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def hanging_or_down(kind: str, port: int) -> AuthMiddleware:
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    users.add("alice", PASSWORD)
    if kind == "redis":
        tokens: Any = RedisTokenManager(
            f"redis://:s3cret@127.0.0.1:{port}/0", secret_key=SECRET_KEY
        )
    else:
        users = PostgresUserStore(
            f"postgresql://restauth:s3cret@127.0.0.1:{port}/restauth", timeout=1.0
        )
        tokens = PostgresTokenManager(
            f"postgresql://restauth:s3cret@127.0.0.1:{port}/restauth",
            secret_key=SECRET_KEY,
            timeout=1.0,
        )
    return AuthMiddleware(EchoApp(), users=users, tokens=tokens, public=["/health"])


_CODEC = TokenCodec(SECRET_KEY)
TOKEN = "Token " + _CODEC.token_for(_CODEC.new_id())  # genuine: only the store can refuse it


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_a_store_that_is_down_is_a_prompt_503(
    kind: str, caplog: pytest.LogCaptureFixture, thread_calls: list[Callable[..., Any]]
) -> None:
    app = hanging_or_down(kind, free_port())

    async def main() -> tuple[Any, float]:
        async with started(app):
            begun = time.perf_counter()
            answer = await get(app, Authorization=TOKEN)
            return answer, time.perf_counter() - begun

    answer, took = run(main)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"].isdigit()
    assert took < 5
    assert thread_calls == []
    assert "s3cret" not in caplog.text
    assert "store unavailable" in caplog.text


@pytest.mark.parametrize("kind", ["redis", "postgres"])
def test_a_store_that_hangs_holds_only_its_own_requests(
    kind: str, thread_calls: list[Callable[..., Any]]
) -> None:
    """Ten Token checks wait on a store that never answers; meanwhile the loop answers
    anonymous requests in milliseconds, and never stalls. The ten end in 503s."""
    with silent_server() as port:
        app = hanging_or_down(kind, port)
        statuses: list[int] = []
        quick: list[float] = []

        async def token_check() -> None:
            statuses.append((await get(app, Authorization=TOKEN)).status_code)

        async def anonymous_meanwhile() -> None:
            await anyio.sleep(0.2)  # the checks are waiting now
            for _ in range(20):
                begun = time.perf_counter()
                assert (await get(app, "/health")).status_code == 200
                quick.append(time.perf_counter() - begun)

        async def work() -> None:
            async with anyio.create_task_group() as group:
                for _ in range(10):
                    group.start_soon(token_check)
                group.start_soon(anonymous_meanwhile)

        async def main() -> Any:
            async with started(app):
                return await loop_stall_during(work)

        begun = time.perf_counter()
        stall = run(main)
        took = time.perf_counter() - begun
    assert statuses == [503] * 10
    assert took < 15
    assert len(quick) == 20
    assert max(quick) < 0.25, quick
    assert stall.own < 0.05, stall
    assert thread_calls == []


SERVER_APP = """
import os

from restauth import PasswordHasher, PostgresUserStore, RedisTokenManager
from restauth.asgi import AuthMiddleware
from restauth.tokens.base import TokenCodec


async def whoami(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = f"{os.getpid()} {scope['user'].display_name}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


app = AuthMiddleware(
    whoami,
    users=PostgresUserStore(os.environ["RESTAUTH_TEST_DSN"], hasher=PasswordHasher(rounds=4)),
    tokens=RedisTokenManager(os.environ["RESTAUTH_TEST_REDIS"], prefix=os.environ["PREFIX"]),
    require_https=False,
)
"""


def test_uvicorn_workers_share_tokens_through_the_async_clients(
    postgres_schema_dsn: str, tmp_path: Path
) -> None:
    users = PostgresUserStore(postgres_schema_dsn, hasher=PasswordHasher(rounds=4))
    users.add("alice", PASSWORD)
    users.close()
    (tmp_path / "async_app.py").write_text(SERVER_APP)
    extra = {
        "RESTAUTH_TEST_DSN": postgres_schema_dsn,
        "RESTAUTH_TEST_REDIS": redis_url(),
        "PREFIX": f"restauth-test:{uuid.uuid4().hex}:",
        "RESTAUTH_SECRET_KEY": SECRET_KEY,
        "PYTHONWARNINGS": "always",
    }
    port = free_port()
    argv = [*uvicorn("async_app:app", port), "--workers", "2"]
    with running(argv, cwd=tmp_path, port=port, env=environment(extra, tmp_path)) as server:
        started = "Application startup complete."
        wait_until(lambda: server.log_text().count(started) == 2, server, "two workers' startup")
        first, second = uvicorn_workers(server)
        with only_worker(first, [first, second]):
            answer = request(port, "POST", "/tokens", {"Authorization": basic("alice", PASSWORD)})
            assert answer.status == 200, answer.body
            bearer = {"Authorization": f"Bearer {answer.json()['token']}"}
            assert request(port, "GET", "/", bearer).body.decode() == f"{first} alice"
        with only_worker(second, [first, second]):  # the token on the other worker
            for _ in range(20):
                answer = request(port, "GET", "/", bearer)
                assert answer.body.decode() == f"{second} alice", answer.body
            assert request(port, "GET", "/", {"Authorization": TOKEN}).status == 401
    log = server.log_text()
    assert "Finished server process" in log, log
    # uvicorn's parent process leaves its own listening socket to the interpreter's exit
    listening = (
        f"unclosed <socket.socket fd=3, family=2, type=1, proto=6, laddr=('127.0.0.1', {port})>"
    )
    ours = "\n".join(line for line in log.splitlines() if listening not in line)
    for trouble in ("Traceback", "ERROR", "unclosed", "Unclosed", "was deleted"):
        assert trouble not in ours, log
