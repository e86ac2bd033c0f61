"""A worker that restarts while another process holds the SQLite write lock (issue 16
item 1).

Before the fix, building the stores at import ran the schema migration under the write
lock: a restarted worker failed in ``migrate()``, gunicorn logged "Worker failed to boot"
and its master exited, and releasing the lock did not bring the server back. Building a
store now reads nothing; the tables are checked on first use (a read, which WAL lets run
beside the writer) and created under the same 503 rule when missing.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from restauth import PasswordHasher
from restauth.users.sqlite import SQLiteUserStore
from tests.servers import Server, request, serving, wait_until
from tests.storage.conftest import SECRET_KEY

pytest.importorskip("gunicorn")

APP = """
import os
from restauth import AuthMiddleware, PasswordHasher, SQLiteTokenManager, SQLiteUserStore

def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["REMOTE_USER"].encode()]

PATH = os.environ["RESTAUTH_TEST_DB"]
application = AuthMiddleware(
    hello,
    users=SQLiteUserStore(PATH, hasher=PasswordHasher(rounds=4), timeout=0.3),
    tokens=SQLiteTokenManager(PATH, timeout=0.3),
    require_https=False,
    password_cache=None,
)
"""
LOGIN = json.dumps({"username": "alice", "password": "wonderland-key-7"}).encode()
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def database(tmp_path: Path) -> Path:
    (tmp_path / "restart_app.py").write_text(APP)
    return tmp_path / "restauth.db"


@contextlib.contextmanager
def serve(database: Path) -> Iterator[Server]:
    environment = {"RESTAUTH_TEST_DB": str(database), "RESTAUTH_SECRET_KEY": SECRET_KEY}
    with serving("gunicorn", "restart_app:application", database.parent, environment) as server:
        wait_until(lambda: len(server.workers()) == 2, server, "two workers")
        yield server


def hold_write_lock(database: Path) -> sqlite3.Connection:
    """Another process's long write transaction (here a connection of the test's own)."""
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


def basic_status(port: int) -> int:
    auth = "Basic " + base64.b64encode(b"alice:wonderland-key-7").decode()
    return request(port, "GET", "/", headers={"Authorization": auth}).status


def test_a_worker_restarted_under_a_write_lock_boots_and_recovers(database: Path) -> None:
    users = SQLiteUserStore(database, hasher=PasswordHasher(rounds=4))
    users.add("alice", "wonderland-key-7")
    users.close()
    with serve(database) as server:
        token = json.loads(request(server.port, "POST", "/tokens", JSON, LOGIN).body)["token"]
        holder = hold_write_lock(database)
        try:
            victim = server.workers()[0]
            os.kill(victim, signal.SIGKILL)  # an OOM kill, a crash, --max-requests
            wait_until(
                lambda: victim not in server.workers() and len(server.workers()) == 2,
                server,
                "a new worker",
            )
            for _ in range(6):  # whichever worker answers: up, never a 500
                status = request(server.port, "POST", "/tokens", JSON, LOGIN).status
                assert status == 503  # a login writes: the lock is held
                check = request(
                    server.port, "GET", "/", headers={"Authorization": f"Token {token}"}
                )
                assert check.status == 200  # a token check only reads
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert server.process.poll() is None  # the master did not exit
        assert "Worker failed to boot" not in server.log_text()
        sessions = set()
        for _ in range(6):  # both workers write again: a new session per login
            login = request(server.port, "POST", "/tokens", JSON, LOGIN)
            assert login.status == 200
            sessions.add(json.loads(login.body)["session"])
        assert len(sessions) == 6
        check = request(server.port, "GET", "/", headers={"Authorization": f"Token {token}"})
        assert check.status == 200  # the first session lived through it all


def test_tables_missing_under_a_lock_are_created_by_a_later_request(database: Path) -> None:
    holder = hold_write_lock(database)  # a new, empty file, locked before any worker starts
    try:
        with serve(database) as server:
            assert {basic_status(server.port) for _ in range(4)} == {503}
            holder.execute("ROLLBACK")
            assert {basic_status(server.port) for _ in range(4)} == {401}  # tables made: no alice
            assert server.process.poll() is None
    finally:
        holder.close()
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT component FROM restauth_schema")}
    assert {"users", "tokens", "throttle"} <= tables
