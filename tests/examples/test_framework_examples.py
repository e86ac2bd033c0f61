"""The Flask, Pyramid and Bottle examples: log in, use the token, 401 and 403 where due."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from webtest import TestApp

from restauth import MemoryUserStore, PasswordHasher

from ..conftest import basic

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    pytest.importorskip({"flask_app": "flask", "pyramid_app": "pyramid"}.get(name, "bottle"))
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Pyramid's Configurator looks its caller up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["flask_app", "pyramid_app", "bottle_app"])
def client(request: Any) -> TestApp:
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    users.add("alice", "alice-pw", roles=["user", "admin"])
    users.add("bob", "bob-pw", roles=["user"])
    return TestApp(load(request.param).create_app(users))


def test_health_is_public(client: TestApp) -> None:
    assert client.get("/health").json == {"status": "ok"}


def test_me_needs_credentials(client: TestApp) -> None:
    client.get("/me", status=401)
    client.get("/me", headers={"Authorization": basic("alice", "wrong")}, status=401)


def test_login_then_token(client: TestApp) -> None:
    login = client.post_json("/tokens", {"username": "bob", "password": "bob-pw"})
    token = login.json["token"]
    me = client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json == {"userid": "bob", "roles": ["user"], "mechanism": "token"}
    assert me.headers["Auth-Token"] == token


def test_admin_view(client: TestApp) -> None:
    client.get("/admin", headers={"Authorization": basic("bob", "bob-pw")}, status=403)
    ok = client.get("/admin", headers={"Authorization": basic("alice", "alice-pw")})
    assert ok.json == {"message": "hello, administrator alice"}


def test_logout(client: TestApp) -> None:
    token = client.get("/me", headers={"Authorization": basic("bob", "bob-pw")}).headers[
        "Auth-Token"
    ]
    client.delete("/tokens/bob", headers={"Authorization": f"Token {token}"}, status=204)
    client.get("/me", headers={"Authorization": f"Token {token}"}, status=401)
