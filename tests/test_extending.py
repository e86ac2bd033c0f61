"""docs/extending.md works as printed: its code blocks are run, and the result is served.

Every ```sql block builds the application's database, every ```python block is run in
order as one module (in a temporary directory, where the doc's ``app.db`` lives), then the
module's ``application`` is driven through a Basic login, a token and an outage.
"""

from __future__ import annotations

import json
import re
import sqlite3
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from webtest import TestApp

from restauth import TokenManager, UserStore
from restauth._storage import Closeable
from restauth.throttle import SharesThrottleCounters
from restauth.users import HasPasswordHasher
from tests.conftest import basic

DOC = Path(__file__).resolve().parent.parent / "docs" / "extending.md"
BLOCK = re.compile(r"^```(python|sql)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
PASSWORD = "correct horse battery"


def blocks(language: str) -> list[str]:
    return [code for lang, code in BLOCK.findall(DOC.read_text("utf-8")) if lang == language]


def test_the_doc_has_the_example() -> None:
    assert len(blocks("sql")) == 1
    assert len(blocks("python")) >= 3


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """The doc's code as a module, over an ``app.db`` holding alice (bcrypt, cost 4)."""
    monkeypatch.chdir(tmp_path)
    with sqlite3.connect("app.db") as database:
        database.executescript(blocks("sql")[0])
        rows = [
            ("alice", bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode(), "user admin"),
            ("mallory", bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode(), "user"),
        ]
        database.executemany(
            "INSERT INTO accounts (login, pw_hash, groups, changed_at) VALUES (?, ?, ?, 1)",
            rows,
        )
        database.execute("UPDATE accounts SET disabled = 1 WHERE login = 'mallory'")
    database.close()
    module = types.ModuleType("extending_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)  # dataclasses look it up
    exec(compile("\n".join(blocks("python")), str(DOC), "exec"), module.__dict__)  # noqa: S102
    yield module
    module.users.close()


@pytest.fixture
def client(example: types.ModuleType) -> TestApp:
    return TestApp(example.application)


def test_the_example_classes_meet_the_protocols(example: types.ModuleType) -> None:
    users, tokens = example.users, example.tokens
    assert isinstance(users, UserStore)
    assert isinstance(users, HasPasswordHasher)
    assert isinstance(users, Closeable)
    assert not isinstance(users, SharesThrottleCounters)
    assert isinstance(tokens, TokenManager)


def test_basic_login(client: TestApp) -> None:
    response = client.get("/", headers={"Authorization": basic("alice", PASSWORD)})
    assert response.status_int == 200
    assert response.text == "hello alice, you are ['admin', 'user']"
    assert response.headers["Auth-Token"]
    client.get("/", headers={"Authorization": basic("alice", "wrong")}, status=401)
    client.get("/", headers={"Authorization": basic("mallory", PASSWORD)}, status=401)
    client.get("/", status=401)


def test_token_request(client: TestApp) -> None:
    login = client.post(
        "/tokens",
        json.dumps({"username": "alice", "password": PASSWORD}),
        headers={"Content-Type": "application/json"},
    )
    token = login.json["token"]
    assert login.json["userid"] == "alice"
    response = client.get("/", headers={"Authorization": f"Token {token}"})
    assert response.text.startswith("hello alice")
    assert response.headers["Auth-Token"] == token  # one current token, renewed
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    client.get("/", headers={"Authorization": f"Token {tampered}"}, status=401)
    client.delete("/tokens/alice", headers={"Authorization": f"Token {token}"}, status=204)
    client.get("/", headers={"Authorization": f"Token {token}"}, status=401)


def test_a_password_reset_ends_the_sessions(client: TestApp) -> None:
    """The doc's stamp covers ``changed_at``: a reset of the app's own kills the tokens."""
    token = client.get("/", headers={"Authorization": basic("alice", PASSWORD)}).headers[
        "Auth-Token"
    ]
    with sqlite3.connect("app.db") as database:
        database.execute("UPDATE accounts SET changed_at = 2 WHERE login = 'alice'")
    database.close()
    client.get("/", headers={"Authorization": f"Token {token}"}, status=401)


def test_an_outage_is_a_503(client: TestApp, example: types.ModuleType) -> None:
    """The table migrated away under the running store: StoreUnavailable, 503, the app not
    called; back when the table is."""
    auth = {"Authorization": basic("alice", PASSWORD)}
    client.get("/", headers=auth, status=200)
    with sqlite3.connect("app.db") as database:
        database.execute("ALTER TABLE accounts RENAME TO accounts_old")
    database.close()
    with pytest.raises(example.StoreUnavailable):
        example.users.get("alice")
    response = client.get("/", headers=auth, status=503)
    assert int(response.headers["Retry-After"]) > 0
    assert "hello" not in response.text
    with sqlite3.connect("app.db") as database:
        database.execute("ALTER TABLE accounts_old RENAME TO accounts")
    database.close()
    client.get("/", headers=auth, status=200)


def test_a_locked_file_is_a_503(example: types.ModuleType, tmp_path: Path) -> None:
    """The store's own ``timeout``: a writer holding the file past it is an outage."""
    users = example.AppUserStore(str(tmp_path / "app.db"), timeout=0.05)
    app: Any = example.AuthMiddleware(example.hello, users=users, tokens=example.tokens)
    locker = sqlite3.connect(tmp_path / "app.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        TestApp(app).get("/", headers={"Authorization": basic("alice", PASSWORD)}, status=503)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        users.close()
