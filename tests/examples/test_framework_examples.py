"""The Flask, Pyramid and Bottle examples: log in, use the token, 401 and 403 where due."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from webtest import TestApp

from restauth import MemoryTokenManager, MemoryUserStore, PasswordHasher

from ..conftest import basic

FRAMEWORK = {"flask_app": "flask", "pyramid_app": "pyramid", "bottle_app": "bottle"}


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ModuleType]]:
    """The three examples imported as the servers import them (``examples.flask_app``),
    which builds their module-level ``app`` on a SQLite file in a temporary directory."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RESTAUTH_SECRET_KEY", "example-key-" + "k" * 32)
        patch.setenv("RESTAUTH_EXAMPLE_DB", str(tmp_path_factory.mktemp("ex") / "example.db"))
        loaded = {}
        for name, framework in FRAMEWORK.items():
            pytest.importorskip(framework)
            sys.modules.pop(f"examples.{name}", None)
            loaded[name] = importlib.import_module(f"examples.{name}")
        yield loaded


@pytest.fixture(params=list(FRAMEWORK))
def client(request: Any, modules: dict[str, ModuleType]) -> TestApp:
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    users.add("alice", "wonderland-key-7", roles=["user", "admin"])
    users.add("bob", "pebble-key-42", roles=["user"])
    return TestApp(modules[request.param].create_app(users, MemoryTokenManager(ttl=900)))


def test_each_example_has_a_module_level_app(modules: dict[str, ModuleType]) -> None:
    for module in modules.values():
        assert callable(module.app)
        assert f"examples.{module.__name__.rpartition('.')[2]}:app" in (module.__doc__ or "")


def test_health_is_public(client: TestApp) -> None:
    assert client.get("/health").json == {"status": "ok"}


def test_me_needs_credentials(client: TestApp) -> None:
    client.get("/me", status=401)
    client.get("/me", headers={"Authorization": basic("alice", "wrong")}, status=401)


def test_login_then_token(client: TestApp) -> None:
    login = client.post_json("/tokens", {"username": "bob", "password": "pebble-key-42"})
    token = login.json["token"]
    me = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json == {"userid": "bob", "roles": ["user"], "mechanism": "token"}
    assert me.headers["Auth-Token"] == token


def test_admin_view(client: TestApp) -> None:
    client.get("/admin", headers={"Authorization": basic("bob", "pebble-key-42")}, status=403)
    ok = client.get("/admin", headers={"Authorization": basic("alice", "wonderland-key-7")})
    assert ok.json == {"message": "hello, administrator alice"}


def test_logout(client: TestApp) -> None:
    token = client.get("/me", headers={"Authorization": basic("bob", "pebble-key-42")}).headers[
        "Auth-Token"
    ]
    client.delete("/tokens/bob", headers={"Authorization": f"Token {token}"}, status=204)
    client.get("/me", headers={"Authorization": f"Token {token}"}, status=401)
