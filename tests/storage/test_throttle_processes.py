"""Processes that share a SQLite file share the throttle's counters (issue 14, item 4).

Before the fix each process counted alone: 4 workers let about 4 x 5 wrong passwords
through before the first 429. Now every worker admits attempts against the same rows,
one transaction at a time, so the whole server lets through at most the threshold.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from webob import Request

from restauth import AuthMiddleware, PasswordHasher
from restauth.throttle.policy import ThrottlePolicy
from restauth.throttle.sqlite import SQLiteThrottleStore
from restauth.tokens.sqlite import SQLiteTokenManager
from restauth.users.sqlite import SQLiteUserStore
from tests.conftest import basic, echo_app
from tests.servers import ROOT, environment, free_port, request, running
from tests.storage.conftest import SECRET_KEY

PROCESSES = 4
THREADS = 4  # per process
THRESHOLD = ThrottlePolicy().user_threshold


def enrol(path: Path, rounds: int = 4) -> None:
    users = SQLiteUserStore(path, hasher=PasswordHasher(rounds=rounds))
    users.add("alice", "wonderland-key-7")
    users.close()


def guesser(path: str, barrier: Any, results: Any) -> None:
    """One process: its own middleware on the shared file; guesses on several threads
    until each is refused; reports how many bcrypt checks it made and its statuses."""
    import bcrypt  # patched for this process only: the parent's tests never see it

    checks: list[int] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed_password: bytes) -> bool:
        checks.append(1)
        return real(password, hashed_password)

    bcrypt.checkpw = counting
    users = SQLiteUserStore(path, hasher=PasswordHasher(rounds=4))
    tokens = SQLiteTokenManager(path, secret_key=SECRET_KEY)
    app = AuthMiddleware(echo_app, users=users, tokens=tokens, password_cache=None)
    assert app.throttle is not None
    app.throttle.policy = ThrottlePolicy(base_delay=3600, user_max_delay=3600)

    def guess_until_refused(thread: int) -> list[int]:
        statuses: list[int] = []
        while not statuses or statuses[-1] != 429:
            request = Request.blank(
                "/",
                headers={"Authorization": basic("alice", f"guess-{os.getpid()}-{thread}")},
                environ={"wsgi.url_scheme": "https", "REMOTE_ADDR": "192.0.2.1"},
            )
            statuses.append(int(request.get_response(app).status_int))
        return statuses

    barrier.wait(timeout=60)
    with ThreadPoolExecutor(THREADS) as pool:
        statuses = [s for run in pool.map(guess_until_refused, range(THREADS)) for s in run]
    results.put((len(checks), statuses))


def test_the_sqlite_token_manager_brings_its_throttle_store(tmp_path: Path) -> None:
    tokens = SQLiteTokenManager(tmp_path / "restauth.db", secret_key=SECRET_KEY)
    app = AuthMiddleware(echo_app, users=SQLiteUserStore(tmp_path / "restauth.db"), tokens=tokens)
    assert app.throttle is not None
    store = app.throttle.store
    assert isinstance(store, SQLiteThrottleStore)
    assert store.database is tokens.database  # same file, same connections
    tokens.close()


def test_processes_on_one_sqlite_file_share_the_counters(tmp_path: Path) -> None:
    path = tmp_path / "restauth.db"
    enrol(path)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    processes = [
        context.Process(target=guesser, args=(str(path), barrier, results))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    try:
        reports = [results.get(timeout=120) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    checks = sum(count for count, _ in reports)
    statuses = [status for _, run in reports for status in run]
    assert statuses.count(401) == checks == THRESHOLD  # not PROCESSES x THRESHOLD
    assert statuses.count(429) == PROCESSES * THREADS


def test_gunicorn_workers_share_the_counters(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    path = tmp_path / "restauth.db"
    enrol(path, rounds=10)  # a check takes a while, so other workers take the next requests
    port = free_port()
    env = environment({"RESTAUTH_TEST_DB": str(path), "RESTAUTH_SECRET_KEY": SECRET_KEY})
    command = [sys.executable, "-m", "gunicorn", "-w", str(PROCESSES), "-b", f"127.0.0.1:{port}"]
    command.append("tests.storage.throttle_app:app")
    with running(command, cwd=ROOT, port=port, env=env, log=tmp_path / "gunicorn.log"):

        def guess(number: int) -> tuple[int, str]:
            authorization = basic("alice", f"guess-{number}")
            answer = request(port, "GET", "/", {"Authorization": authorization})
            return answer.status, answer.headers.get("X-Worker", "")

        with ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(guess, range(40), timeout=120))
    statuses = [status for status, _ in answers]
    assert statuses.count(401) == THRESHOLD  # before the fix: up to 4 x 5
    assert statuses.count(429) == 40 - THRESHOLD
    assert len({worker for _, worker in answers}) > 1  # several workers did answer


def test_a_locked_file_is_503_never_an_uncounted_attempt(
    tmp_path: Path, bcrypt_calls: list[bytes]
) -> None:
    import sqlite3

    path = tmp_path / "restauth.db"
    enrol(path)
    tokens = SQLiteTokenManager(path, secret_key=SECRET_KEY, timeout=0.2)
    app = AuthMiddleware(
        echo_app, users=SQLiteUserStore(path, hasher=PasswordHasher(rounds=4)), tokens=tokens
    )
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        request = Request.blank(
            "/",
            headers={"Authorization": basic("alice", "guess")},
            environ={"wsgi.url_scheme": "https", "REMOTE_ADDR": "192.0.2.1"},
        )
        response = request.get_response(app)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        tokens.close()
    assert response.status_int == 503
    assert "Retry-After" in response.headers
    assert bcrypt_calls == []
