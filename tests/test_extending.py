"""docs/extending.md works as printed: its code blocks are run, and the result is served.

Every ```sql block builds the application's database, every ```python block is run in
order as one module (in a temporary directory, where the doc's ``app.db`` lives), then the
module's ``application`` is driven through a Basic login, sessions, rotation and an outage,
and its ``DictTokenManager`` through the session contract every restauth manager keeps.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import sqlite3
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from webtest import TestApp

from restauth import TokenManager, UserStore
from restauth._storage import Closeable
from restauth.throttle import SharesThrottleCounters
from restauth.users import HasPasswordHasher
from tests.conftest import FakeClock, basic
from tests.storage import test_session_contract as contract

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


def login(client: TestApp, client_label: str | None = None) -> dict[str, Any]:
    body = {"username": "alice", "password": PASSWORD}
    if client_label is not None:
        body["client"] = client_label
    answer = client.post("/tokens", json.dumps(body), headers={"Content-Type": "application/json"})
    result: dict[str, Any] = answer.json
    return result


def token(value: str) -> dict[str, str]:
    return {"Authorization": f"Token {value}"}


def test_token_request(client: TestApp) -> None:
    login_answer = login(client)
    token_value = login_answer["token"]
    assert login_answer["userid"] == "alice"
    response = client.get("/", headers=token(token_value))
    assert response.text.startswith("hello alice")
    assert response.headers["Auth-Token"] == token_value  # the presented token, renewed
    tampered = token_value[:-1] + ("A" if token_value[-1] != "A" else "B")
    client.get("/", headers=token(tampered), status=401)
    client.delete("/tokens/alice", headers=token(token_value), status=204)
    client.get("/", headers=token(token_value), status=401)


def test_two_logins_are_two_sessions(client: TestApp) -> None:
    """Each login its own token; ending one leaves the other; all=true ends every one."""
    phone, laptop = login(client, "phone"), login(client, "laptop")
    assert phone["token"] != laptop["token"]
    assert phone["session"] != laptop["session"]
    listing = client.get("/tokens/alice", headers=token(laptop["token"])).json
    assert listing["session"] == laptop["session"]
    sessions = {s["client"]: s for s in listing["sessions"]}
    assert set(sessions) == {"phone", "laptop"}
    assert [sessions["phone"]["current"], sessions["laptop"]["current"]] == [False, True]
    assert phone["token"] not in json.dumps(listing)
    client.delete(f"/tokens/alice/{phone['session']}", headers=token(laptop["token"]), status=204)
    client.get("/", headers=token(phone["token"]), status=401)
    client.get("/", headers=token(laptop["token"]), status=200)
    tablet = login(client, "tablet")
    client.delete("/tokens/alice?all=true", headers=token(tablet["token"]), status=204)
    for gone in (laptop, tablet):
        client.get("/", headers=token(gone["token"]), status=401)


def test_basic_callers_share_the_basic_session(client: TestApp) -> None:
    auth = {"Authorization": basic("alice", PASSWORD)}
    first = client.get("/", headers=auth).headers["Auth-Token"]
    assert client.get("/", headers=auth).headers["Auth-Token"] == first
    (session,) = client.get("/tokens/alice", headers=auth).json["sessions"]
    assert (session["kind"], session["current"]) == ("basic", True)
    client.get("/", headers={"Authorization": basic("alice", first)}, status=200)  # as password


def test_renew_ends_the_old_token_at_once(
    client: TestApp, caplog: pytest.LogCaptureFixture
) -> None:
    """A rotated-away token is a DeadToken: refused, and audited with its user and session."""
    old = login(client)
    new = client.post("/tokens?renew=true", headers=token(old["token"])).json
    assert new["token"] != old["token"]
    assert new["session"] == old["session"]
    client.get("/", headers=token(new["token"]), status=200)
    with caplog.at_level(logging.WARNING, logger="restauth.audit"):
        client.get("/", headers=token(old["token"]), status=401)
    (record,) = [r for r in caplog.records if r.name == "restauth.audit"]
    fields = record.restauth  # type: ignore[attr-defined]
    assert (fields["event"], fields["userid"], fields["session"]) == (
        "token.ended",
        "alice",
        old["session"],
    )
    assert old["token"] not in record.getMessage()


def make_manager(example: types.ModuleType, clock: FakeClock) -> Callable[..., Any]:
    """A ``make_tokens`` of the session contract for the doc's manager: one process, so
    every "node" is the same object (as for ``MemoryTokenManager``)."""
    made: list[Any] = []

    def make(ttl: float = 900, max_lifetime: float = 3600, **options: Any) -> Any:
        if not made:
            made.append(example.DictTokenManager(ttl, max_lifetime, clock=clock, **options))
        return made[0]

    return make


CONTRACT = [getattr(contract, name) for name in dir(contract) if name.startswith("test_")]


@pytest.mark.parametrize("check", CONTRACT, ids=lambda check: check.__name__[5:])
def test_the_example_keeps_the_session_contract(
    example: types.ModuleType, check: Callable[..., None]
) -> None:
    """Two logins, two tokens; end one, end all; the cap; the basic session; renew;
    service tokens; expiry; 8 threads: what tests/storage asks of restauth's own managers."""
    clock = FakeClock()
    arguments: dict[str, Any] = {"make_tokens": make_manager(example, clock)}
    if "clock" in inspect.signature(check).parameters:
        arguments["clock"] = clock
    check(**arguments)


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
