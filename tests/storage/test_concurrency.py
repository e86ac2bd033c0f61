"""Many threads and many processes logging in, using tokens and logging out at once.

Afterwards: no exception, no ``database is locked``, every status one of the expected
ones; each user's live sessions exactly those logged in and not logged out (none lost, none
resurrected), every such token still working and every token that was logged out refused.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
from pathlib import Path
from typing import Any

import pytest
from webtest import TestApp

from restauth import AuthMiddleware, PasswordHasher, SQLiteTokenManager, SQLiteUserStore
from tests.conftest import echo_app
from tests.services import redis_url
from tests.storage.conftest import SECRET_KEY

USERS = ["alice", "bob", "carol"]
PASSWORDS = {userid: f"key number {n} of the test" for n, userid in enumerate(USERS)}
OPERATIONS = 60


def build(backend: str, path: str, prefix: str) -> TestApp:
    """One node: its own store objects over the shared file / Redis."""
    users = SQLiteUserStore(path)
    return TestApp(
        AuthMiddleware(echo_app, users=users, tokens=manager(backend, path, prefix), throttle=None),
        extra_environ={"wsgi.url_scheme": "https"},
    )


def manager(backend: str, path: str, prefix: str) -> Any:
    """The token manager of ``backend``; ``prefix`` is the Redis prefix or the PostgreSQL DSN.
    The cap is lifted so that every session a test starts stays until it is ended."""
    options: dict[str, Any] = {"secret_key": SECRET_KEY, "max_sessions": 10_000}
    if backend == "sqlite":
        return SQLiteTokenManager(path, **options)
    if backend == "postgres":
        from restauth.tokens.postgres import PostgresTokenManager

        return PostgresTokenManager(prefix, **options)
    from restauth.tokens.redis import RedisTokenManager

    return RedisTokenManager(redis_url(), prefix=prefix, **options)


def churn(backend: str, path: str, prefix: str, seed: int) -> dict[str, list[str]]:
    """Random logins, uses and logouts; returns unexpected outcomes, and the sessions
    started and ended (``userid session token``)."""
    client = build(backend, path, prefix)
    rng = random.Random(seed)
    held: dict[str, list[tuple[str, str]]] = {userid: [] for userid in USERS}
    problems: list[str] = []
    started: list[str] = []
    ended: list[str] = []
    for _ in range(OPERATIONS):
        userid = rng.choice(USERS)
        action = rng.choice(["login", "use", "use", "logout"])
        try:
            if action == "login" or not held[userid]:
                body = {"username": userid, "password": PASSWORDS[userid]}
                response = client.post_json("/tokens", body, expect_errors=True)
                if response.status_int != 200:
                    problems.append(f"login {userid}: {response.status}")
                else:
                    session, token = response.json["session"], response.json["token"]
                    held[userid].append((session, token))
                    started.append(f"{userid} {session} {token}")
            elif action == "use":
                session, token = rng.choice(held[userid])
                response = client.get(
                    "/x", headers={"Authorization": f"Token {token}"}, expect_errors=True
                )
                if response.status_int != 200:  # nobody else ends this session
                    problems.append(f"use {userid}: {response.status}")
                elif response.json["userid"] != userid:
                    problems.append(f"use {userid}: answered as {response.json['userid']}")
            else:
                session, token = held[userid].pop(rng.randrange(len(held[userid])))
                response = client.delete(
                    f"/tokens/{userid}",
                    headers={"Authorization": f"Token {token}"},
                    expect_errors=True,
                )
                if response.status_int == 204:
                    ended.append(f"{userid} {session} {token}")
                else:
                    problems.append(f"logout {userid}: {response.status}")
        except Exception as error:  # the assertion reports every one of them
            problems.append(f"{action} {userid}: {type(error).__name__}: {error}")
    return {"problems": problems, "started": started, "ended": ended}


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    backend: str = request.param
    path = str(tmp_path / "auth.db")
    users = SQLiteUserStore(path, hasher=PasswordHasher(rounds=4))
    for userid in USERS:
        users.add(userid, PASSWORDS[userid])
    users.close()
    prefix = ""
    if backend == "redis":
        prefix = request.getfixturevalue("redis_prefix")
    elif backend == "postgres":
        prefix = request.getfixturevalue("postgres_schema_dsn")
    return backend, path, prefix


def check_outcome(setup: tuple[str, str, str], results: list[dict[str, list[str]]]) -> None:
    problems = [problem for result in results for problem in result["problems"]]
    assert problems == []
    started = {line for result in results for line in result["started"]}
    ended = {line for result in results for line in result["ended"]}
    assert ended, "no logout happened: the test proves nothing"
    assert ended <= started
    tokens = manager(*setup)
    for userid in USERS:
        expected = {line.split()[1] for line in started - ended if line.split()[0] == userid}
        assert {s.id for s in tokens.sessions(userid)} == expected, userid  # none lost or back
    tokens.close()
    client = build(*setup)
    for line in started - ended:
        client.get("/x", headers={"Authorization": f"Token {line.split()[2]}"}, status=200)
    for line in ended:
        client.get("/x", headers={"Authorization": f"Token {line.split()[2]}"}, status=401)


def test_eight_threads(setup: tuple[str, str, str]) -> None:
    results: list[dict[str, list[str]]] = []

    def worker(seed: int) -> None:
        results.append(churn(*setup, seed))

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 8
    check_outcome(setup, results)


def test_four_processes(setup: tuple[str, str, str]) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        results = pool.starmap(churn, [(*setup, 100 + seed) for seed in range(4)], chunksize=1)
    check_outcome(setup, results)


def node_action(backend: str, path: str, prefix: str, action: str, token: str) -> int | str:
    """Run in another OS process: log in (returns the token) or use / revoke a token."""
    client = build(backend, path, prefix)
    auth = {"Authorization": f"Token {token}"}
    if action == "login":
        body = {"username": "alice", "password": PASSWORDS["alice"]}
        issued: str = client.post_json("/tokens", body).json["token"]
        return issued
    if action == "use":
        return client.get("/x", headers=auth, expect_errors=True).status_int
    return client.delete("/tokens/alice", headers=auth, expect_errors=True).status_int


def test_two_processes_share_tokens(setup: tuple[str, str, str]) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as other_process:
        token = other_process.apply(node_action, (*setup, "login", ""))
        here = build(*setup)
        here.get("/x", headers={"Authorization": f"Bearer {token}"}, status=200)
        assert other_process.apply(node_action, (*setup, "use", token)) == 200
        assert other_process.apply(node_action, (*setup, "revoke", token)) == 204
        here.get("/x", headers={"Authorization": f"Bearer {token}"}, status=401)
