"""Many threads and many processes logging in, using tokens and logging out at once.

Afterwards: no exception, no ``database is locked``, every status one of the expected
ones, each user with at most one live token, and every token that was logged out refused.
"""

from __future__ import annotations

import multiprocessing
import random
import sqlite3
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
OPERATIONS = 60


def build(backend: str, path: str, prefix: str) -> TestApp:
    """One node: its own store objects over the shared file / Redis."""
    users = SQLiteUserStore(path)
    tokens: Any
    if backend == "sqlite":
        tokens = SQLiteTokenManager(path, secret_key=SECRET_KEY)
    else:
        from restauth.tokens.redis import RedisTokenManager

        tokens = RedisTokenManager(redis_url(), prefix=prefix, secret_key=SECRET_KEY)
    middleware = AuthMiddleware(echo_app, users=users, tokens=tokens, throttle=None)
    return TestApp(middleware, extra_environ={"wsgi.url_scheme": "https"})


def churn(backend: str, path: str, prefix: str, seed: int) -> dict[str, list[str]]:
    """Random logins, uses and logouts; returns unexpected outcomes and revoked tokens."""
    client = build(backend, path, prefix)
    rng = random.Random(seed)
    held: dict[str, str] = {}
    problems: list[str] = []
    revoked: list[str] = []
    for _ in range(OPERATIONS):
        userid = rng.choice(USERS)
        action = rng.choice(["login", "use", "use", "logout"])
        try:
            if action == "login" or userid not in held:
                body = {"username": userid, "password": f"{userid}-pw"}
                response = client.post_json("/tokens", body, expect_errors=True)
                if response.status_int != 200:
                    problems.append(f"login {userid}: {response.status}")
                else:
                    held[userid] = response.json["token"]
            elif action == "use":
                auth = {"Authorization": f"Token {held[userid]}"}
                response = client.get("/x", headers=auth, expect_errors=True)
                if response.status_int not in (200, 401):  # 401: another worker logged out
                    problems.append(f"use {userid}: {response.status}")
                elif response.status_int == 200 and response.json["userid"] != userid:
                    problems.append(f"use {userid}: answered as {response.json['userid']}")
            else:
                token = held.pop(userid)
                response = client.delete(
                    f"/tokens/{userid}",
                    headers={"Authorization": f"Token {token}"},
                    expect_errors=True,
                )
                if response.status_int == 204:
                    revoked.append(token)
                elif response.status_int != 401:
                    problems.append(f"logout {userid}: {response.status}")
        except Exception as error:  # the assertion reports every one of them
            problems.append(f"{action} {userid}: {type(error).__name__}: {error}")
    return {"problems": problems, "revoked": revoked}


@pytest.fixture(params=["sqlite", "redis"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    backend: str = request.param
    path = str(tmp_path / "auth.db")
    users = SQLiteUserStore(path, hasher=PasswordHasher(rounds=4))
    for userid in USERS:
        users.add(userid, f"{userid}-pw")
    users.close()
    prefix = request.getfixturevalue("redis_prefix") if backend == "redis" else ""
    return backend, path, prefix


def live_tokens_per_user(backend: str, path: str, prefix: str) -> dict[str, int]:
    counts = dict.fromkeys(USERS, 0)
    if backend == "sqlite":
        with sqlite3.connect(path) as connection:
            for (userid,) in connection.execute("SELECT userid FROM restauth_tokens"):
                counts[userid] += 1
    else:
        import redis

        client = redis.Redis.from_url(redis_url())
        for key in client.scan_iter(match=prefix + "token:*"):
            counts[client.hget(key, "userid").decode()] += 1
    return counts


def check_outcome(setup: tuple[str, str, str], results: list[dict[str, list[str]]]) -> None:
    problems = [problem for result in results for problem in result["problems"]]
    assert problems == []
    counts = live_tokens_per_user(*setup)
    assert all(count <= 1 for count in counts.values()), counts
    revoked = [token for result in results for token in result["revoked"]]
    assert revoked, "no logout happened: the test proves nothing"
    client = build(*setup)
    for token in revoked:
        client.get("/x", headers={"Authorization": f"Token {token}"}, status=401)


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
        body = {"username": "alice", "password": "alice-pw"}
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
