"""POST /tokens, GET|DELETE /tokens/<userid>, GET /roles/<userid>."""

from __future__ import annotations

import json

import pytest
from webtest import TestApp

from restauth import MemoryTokenManager, MemoryUserStore, StoreUnavailable

from . import adapters
from .adapters import AuthMiddleware
from .conftest import ALICE_PASSWORD, BOB_PASSWORD, FakeClock, basic, echo_app

middleware = adapters.middleware  # conftest's fixture, built by the adapter under test
pytestmark = pytest.mark.usefixtures("adapter")  # every test: WSGI and ASGI adapters


def login(client: TestApp, userid: str = "alice", password: str = ALICE_PASSWORD) -> str:
    response = client.post_json("/tokens", {"username": userid, "password": password})
    token: str = response.json["token"]
    return token


# -- POST /tokens ---------------------------------------------------------------------


def test_login_with_json(client: TestApp, clock: FakeClock) -> None:
    response = client.post_json("/tokens", {"username": "alice", "password": ALICE_PASSWORD})
    body = response.json
    assert set(body) == {"token", "userid", "roles", "session", "valid_until"}
    assert body["userid"] == "alice"
    assert body["roles"] == ["admin", "user"]
    assert body["valid_until"] == "2027-01-15T08:15:00.000Z"
    assert response.headers["Auth-Token"] == body["token"]
    assert response.headers["Auth-Token-Location"] == "/tokens/alice"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    used = client.get("/", headers={"Authorization": f"Bearer {body['token']}"})
    assert used.json["mechanism"] == "token"


def test_login_with_form(client: TestApp) -> None:
    response = client.post("/tokens", {"username": "bob", "password": BOB_PASSWORD})
    assert response.json["userid"] == "bob"


def test_login_with_basic_credentials(client: TestApp) -> None:
    response = client.post("/tokens", headers={"Authorization": basic("bob", BOB_PASSWORD)})
    assert response.json["userid"] == "bob"


def test_each_login_starts_a_session_of_its_own(client: TestApp) -> None:
    first, second = login(client), login(client)
    assert first != second
    for token in (first, second):
        client.get("/", headers={"Authorization": f"Token {token}"}, status=200)


def test_login_normalises_unicode(users: MemoryUserStore, client: TestApp) -> None:
    users.add("jos\u00e9", "caf\u00e9 au lait")  # composed at enrolment
    token = login(client, "jose\u0301", "cafe\u0301 au lait")  # decomposed at login
    assert token


def test_wrong_login_is_401_without_challenge(client: TestApp) -> None:
    wrong = client.post_json("/tokens", {"username": "alice", "password": "x"}, status=401)
    unknown = client.post_json("/tokens", {"username": "nobody", "password": "x"}, status=401)
    assert "WWW-Authenticate" not in wrong.headers
    assert wrong.body == unknown.body
    assert wrong.headerlist == unknown.headerlist
    assert "Auth-Token" not in wrong.headers


def test_login_without_credentials_is_401_without_challenge(client: TestApp) -> None:
    response = client.post("/tokens", status=401)
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"username": "alice"}', "application/json"),
        (b'{"username": 1, "password": "x"}', "application/json"),
        (b'{"username": "", "password": "x"}', "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"username=alice&password=x", "text/plain"),
        (b"[" * 100000, "application/json"),
    ],
)
def test_unparseable_login_body_is_400(client: TestApp, body: bytes, content_type: str) -> None:
    size = len(body)
    if size > 16 * 1024:
        client.post("/tokens", body, content_type=content_type, status=413)
        return
    response = client.post("/tokens", body, content_type=content_type, status=400)
    assert response.content_type == "application/problem+json"
    assert "WWW-Authenticate" not in response.headers


def test_deeply_nested_json_is_a_400_not_a_crash(client: TestApp) -> None:
    body = b"[" * 5000 + b"]" * 5000
    client.post("/tokens", body, content_type="application/json", status=400)


def test_only_post_on_tokens(client: TestApp) -> None:
    response = client.get("/tokens", status=405)
    assert response.headers["Allow"] == "POST"


def test_login_when_store_is_down_is_503(tokens: MemoryTokenManager) -> None:
    class Down:
        def get(self, userid: str) -> None:
            raise StoreUnavailable("down")

    client = TestApp(AuthMiddleware(echo_app, users=Down(), tokens=tokens))
    response = client.post_json("/tokens", {"username": "a", "password": "b"}, status=503)
    assert response.headers["Retry-After"] == "5"


# -- GET|DELETE /tokens/<userid> ------------------------------------------------------


def test_token_info_for_own_token(client: TestApp) -> None:
    token = login(client)
    response = client.get("/tokens/alice", headers={"Authorization": f"Token {token}"})
    session = response.json["session"]
    assert response.json == {
        "userid": "alice",
        "session": session,
        "valid_until": "2027-01-15T08:15:00.000Z",
        "created": "2027-01-15T08:00:00.000Z",
        "sessions": [
            {
                "id": session,
                "kind": "login",
                "client": "",
                "created": "2027-01-15T08:00:00.000Z",
                "last_used": "2027-01-15T08:00:00.000Z",
                "valid_until": "2027-01-15T08:15:00.000Z",
                "current": True,
            }
        ],
    }
    assert response.headers["Auth-Token"] == token
    assert response.headers["Cache-Control"] == "no-store"


def test_another_users_token_is_403(client: TestApp) -> None:
    token = login(client)
    for method in ("get", "delete"):
        response = getattr(client, method)(
            "/tokens/bob", headers={"Authorization": f"Token {token}"}, status=403
        )
        assert "WWW-Authenticate" not in response.headers
        assert bob_token_absent(response.text)
    client.get("/roles/bob", headers={"Authorization": f"Token {token}"}, status=403)


def bob_token_absent(text: str) -> bool:
    return "token" not in json.loads(text)


def test_endpoints_without_credentials_are_401(client: TestApp) -> None:
    for path in ("/tokens/alice", "/roles/alice"):
        response = client.get(path, status=401)
        assert response.headers.getall("WWW-Authenticate")
        quiet = client.get(path, headers={"No-Auth-Challenge": ""}, status=401)
        assert "WWW-Authenticate" not in quiet.headers
        quiet = client.get(path + "?noauthchallenge", status=401)
        assert "WWW-Authenticate" not in quiet.headers
    client.get("/tokens/alice", headers={"Authorization": basic("alice", "bad")}, status=401)
    client.delete("/tokens/alice", headers={"Authorization": "Bearer x.y"}, status=401)


def test_logout_with_the_token(client: TestApp) -> None:
    token = login(client)
    response = client.delete("/tokens/alice", headers={"Authorization": f"Token {token}"})
    assert response.status_int == 204
    assert not any(name.lower().startswith("auth-token") for name, _ in response.headerlist)
    assert response.headers["Cache-Control"] == "no-store"
    client.get("/", headers={"Authorization": f"Token {token}"}, status=401)
    client.get("/", headers={"Authorization": basic("alice", token)}, status=401)


def test_logout_with_password_ends_the_basic_session_only(
    client: TestApp, tokens: MemoryTokenManager
) -> None:
    token = login(client)
    password = {"Authorization": basic("alice", ALICE_PASSWORD)}
    basic_token = client.get("/", headers=password).headers["Auth-Token"]
    response = client.delete("/tokens/alice", headers=password)
    assert response.status_int == 204
    assert "Auth-Token" not in response.headers
    assert [s.kind for s in tokens.sessions("alice")] == ["login"]  # none minted to end it
    client.get("/", headers={"Authorization": f"Bearer {basic_token}"}, status=401)
    client.get("/", headers={"Authorization": f"Bearer {token}"}, status=200)
    again = client.delete("/tokens/alice", headers=password)  # no basic session: still 204
    assert again.status_int == 204
    assert [s.kind for s in tokens.sessions("alice")] == ["login"]


def test_logout_with_token_as_password(client: TestApp) -> None:
    token = login(client)
    client.delete("/tokens/alice", headers={"Authorization": basic("alice", token)}, status=204)
    client.get("/", headers={"Authorization": f"Token {token}"}, status=401)


def test_other_methods_on_a_token_are_405(client: TestApp) -> None:
    response = client.put("/tokens/alice", status=405)
    assert response.headers["Allow"] == "GET, DELETE"


def test_location_header_round_trips_for_awkward_userids(
    users: MemoryUserStore, client: TestApp
) -> None:
    users.add("jo sé/x", "pw-of-jose")
    token = login(client, "jo sé/x", "pw-of-jose")
    response = client.get("/", headers={"Authorization": f"Token {token}"})
    location = response.headers["Auth-Token-Location"]
    assert location == "/tokens/jo%20s%C3%A9%2Fx"
    info = client.get(location, headers={"Authorization": f"Token {token}"})
    assert info.json["userid"] == "jo sé/x"


# -- GET /roles/<userid> --------------------------------------------------------------


def test_roles_of_self(client: TestApp) -> None:
    response = client.get("/roles/bob", headers={"Authorization": basic("bob", BOB_PASSWORD)})
    assert response.json == {"authenticated": True, "roles": ["user"]}
    assert "Auth-Token" in response.headers


def test_roles_only_get(client: TestApp) -> None:
    response = client.post("/roles/bob", status=405)
    assert response.headers["Allow"] == "GET"


def test_roles_without_tokens(users: MemoryUserStore) -> None:
    client = TestApp(AuthMiddleware(echo_app, users=users, tokens=None))
    response = client.get("/roles/bob", headers={"Authorization": basic("bob", BOB_PASSWORD)})
    assert response.json["roles"] == ["user"]
    assert "Auth-Token" not in response.headers


def test_endpoint_paths_are_configurable(users: MemoryUserStore) -> None:
    app = AuthMiddleware(echo_app, users=users, tokens_path="/auth/tokens", roles_path="/whoami")
    client = TestApp(app)
    token = login_at(client, "/auth/tokens")
    response = client.get("/whoami/bob", headers={"Authorization": f"Token {token}"})
    assert response.headers["Auth-Token-Location"] == "/auth/tokens/bob"
    client.get("/auth/tokens/bob", headers={"Authorization": f"Token {token}"})


def login_at(client: TestApp, path: str) -> str:
    response = client.post_json(path, {"username": "bob", "password": BOB_PASSWORD})
    token: str = response.json["token"]
    return token
