"""Cookie mode: the token only in an HttpOnly cookie, CSRF proof for unsafe methods."""

from __future__ import annotations

import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore
from restauth.cookies import CookieMode

from .conftest import ALICE_PASSWORD, basic, echo_app

COOKIE = "__Host-restauth"
ATTRIBUTES = "Path=/; Secure; HttpOnly; SameSite=Strict"
CSRF = {"X-Requested-With": "test"}


@pytest.fixture
def client(users: MemoryUserStore, tokens: MemoryTokenManager) -> TestApp:
    app = AuthMiddleware(
        echo_app, users=users, tokens=tokens, realm="test", public=["/health"], cookie=True
    )
    return TestApp(app)


def login(client: TestApp) -> str:
    response = client.post_json("/tokens", {"username": "alice", "password": ALICE_PASSWORD})
    (set_cookie,) = response.headers.getall("Set-Cookie")
    name_value, _, attributes = set_cookie.partition("; ")
    assert attributes == ATTRIBUTES
    name, _, token = name_value.partition("=")
    assert name == COOKIE
    return token


def with_cookie(token: str, **extra: str) -> dict[str, str]:
    return {"Cookie": f"other=1; {COOKIE}={token}", **extra}


def test_login_sets_the_cookie_and_shows_the_token_nowhere_else(client: TestApp) -> None:
    response = client.post_json("/tokens", {"username": "alice", "password": ALICE_PASSWORD})
    token = login(client)
    assert set(response.json) == {"userid", "roles", "valid_until"}
    assert token not in response.text
    assert "Auth-Token" not in response.headers
    assert response.headers["Auth-Token-Valid-Until"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "Cookie" in response.headers.getall("Vary")


def test_cookie_authenticates_safe_requests(client: TestApp) -> None:
    token = login(client)
    response = client.get("/cached", headers=with_cookie(token))
    assert response.json["mechanism"] == "cookie"
    assert "Auth-Token" not in response.headers
    assert token not in str(response.headerlist)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Cookie" in response.headers.getall("Vary")


def test_unsafe_method_needs_the_csrf_header(client: TestApp) -> None:
    token = login(client)
    refused = client.post("/notes", headers=with_cookie(token), status=403)
    assert "X-Requested-With" in refused.json["detail"]
    for method in ("post", "put", "patch", "delete"):
        getattr(client, method)("/notes", headers=with_cookie(token), status=403)
        allowed = getattr(client, method)("/notes", headers=with_cookie(token, **CSRF))
        assert allowed.json["userid"] == "alice"


def test_authorization_header_needs_no_csrf_proof(client: TestApp) -> None:
    response = client.post("/notes", headers={"Authorization": basic("alice", ALICE_PASSWORD)})
    assert response.json["mechanism"] == "basic"
    assert "Auth-Token" not in response.headers  # cookie mode: never the token in a header


def test_logout_clears_the_cookie_with_all_its_attributes(client: TestApp) -> None:
    token = login(client)
    client.delete("/tokens/alice", headers=with_cookie(token), status=403)  # no CSRF proof
    client.get("/", headers=with_cookie(token))  # still logged in
    response = client.delete("/tokens/alice", headers=with_cookie(token, **CSRF), status=204)
    assert response.headers.getall("Set-Cookie") == [
        f"{COOKIE}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; {ATTRIBUTES}"
    ]
    client.get("/", headers=with_cookie(token), status=401)


def test_stale_cookie_is_anonymous_not_an_error(client: TestApp) -> None:
    token = login(client)
    client.delete("/tokens/alice", headers=with_cookie(token, **CSRF))
    assert client.get("/health", headers=with_cookie(token)).json["userid"] is None
    client.get("/", headers=with_cookie(token), status=401)


def test_client_chosen_cookie_is_never_adopted(client: TestApp) -> None:
    planted = "attacker-chosen-value"
    client.get("/", headers=with_cookie(planted), status=401)
    response = client.post_json(
        "/tokens", {"username": "alice", "password": ALICE_PASSWORD}, headers=with_cookie(planted)
    )
    assert planted not in response.headers["Set-Cookie"]
    client.get("/", headers=with_cookie(planted), status=401)


def test_cookie_mode_settings_are_checked(users: MemoryUserStore) -> None:
    with pytest.raises(ValueError, match="token manager"):
        AuthMiddleware(echo_app, users=users, tokens=None, cookie=True)
    with pytest.raises(ValueError, match="secure=True"):
        CookieMode(secure=False)
    with pytest.raises(ValueError, match="cookie name"):
        CookieMode(name="bad name")
    with pytest.raises(ValueError, match="same_site"):
        CookieMode(same_site="None")


def test_insecure_development_cookie(users: MemoryUserStore) -> None:
    mode = CookieMode(name="restauth", secure=False, csrf_header="X-CSRF")
    client = TestApp(AuthMiddleware(echo_app, users=users, cookie=mode))
    response = client.post_json("/tokens", {"username": "alice", "password": ALICE_PASSWORD})
    assert response.headers["Set-Cookie"].endswith("; Path=/; HttpOnly; SameSite=Strict")
    token = response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    headers = {"Cookie": f"restauth={token}"}
    client.put("/x", headers=headers, status=403)
    assert client.put("/x", headers={**headers, "X-CSRF": "1"}).json["mechanism"] == "cookie"
