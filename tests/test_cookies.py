"""Cookie mode: the token only in an HttpOnly cookie, CSRF proof for unsafe methods."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from webtest import TestApp

from restauth import MemoryTokenManager, MemoryUserStore
from restauth.wire.cookies import CookieMode

from .adapters import AuthMiddleware
from .conftest import ALICE_PASSWORD, basic, echo_app

pytestmark = pytest.mark.usefixtures("adapter")  # every test: WSGI and ASGI adapters

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
    response = client.post_json(
        "/tokens", {"username": "alice", "password": ALICE_PASSWORD}, headers=CSRF
    )
    (set_cookie,) = response.headers.getall("Set-Cookie")
    name_value, _, attributes = set_cookie.partition("; ")
    assert attributes == ATTRIBUTES
    name, _, token = name_value.partition("=")
    assert name == COOKIE
    return token


def with_cookie(token: str, **extra: str) -> dict[str, str]:
    return {"Cookie": f"other=1; {COOKIE}={token}", **extra}


def test_login_sets_the_cookie_and_shows_the_token_nowhere_else(client: TestApp) -> None:
    response = client.post_json(
        "/tokens", {"username": "alice", "password": ALICE_PASSWORD}, headers=CSRF
    )
    token = login(client)
    assert set(response.json) == {"userid", "roles", "session", "valid_until"}
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
        "/tokens",
        {"username": "alice", "password": ALICE_PASSWORD},
        headers=with_cookie(planted, **CSRF),
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
    response = client.post_json(
        "/tokens", {"username": "alice", "password": ALICE_PASSWORD}, headers={"X-CSRF": "1"}
    )
    assert response.headers["Set-Cookie"].endswith("; Path=/; HttpOnly; SameSite=Strict")
    token = response.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    headers = {"Cookie": f"restauth={token}"}
    client.put("/x", headers=headers, status=403)
    assert client.put("/x", headers={**headers, "X-CSRF": "1"}).json["mechanism"] == "cookie"


# -- cross-site requests (login CSRF; Origin and Sec-Fetch-Site as defence in depth) ----

ATTACKER_FORM = urlencode({"username": "mallory", "password": ALICE_PASSWORD})
CROSS_SITE = [
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "http://localhost"},  # same host, but plain HTTP: another origin
    {"Origin": "https://localhost:8443"},  # another port: another origin
]


@pytest.fixture
def mallory(users: MemoryUserStore) -> None:
    users.add("mallory", ALICE_PASSWORD)


@pytest.mark.usefixtures("mallory")
def test_cross_site_form_cannot_log_the_victim_in_as_the_attacker(client: TestApp) -> None:
    """The attack as the review ran it: a form on evil.example posts the attacker's
    credentials; the browser would keep the Set-Cookie of that top-level navigation."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    attack = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", **form}
    response = client.post("/tokens", ATTACKER_FORM, headers=attack, status=403)
    assert "Set-Cookie" not in response.headers
    assert "X-Requested-With" in response.json["detail"]
    # Even a page that could add the header (it cannot cross-site without a preflight) is refused.
    for headers in CROSS_SITE:
        refused = client.post(
            "/tokens", ATTACKER_FORM, headers={**headers, **form, **CSRF}, status=403
        )
        assert "Set-Cookie" not in refused.headers
    # A same-site form without the custom header is refused too: the header is the proof.
    client.post("/tokens", ATTACKER_FORM, headers=form, status=403)
    same_origin = {"Origin": "https://localhost", "Sec-Fetch-Site": "same-origin", **form, **CSRF}
    assert client.post("/tokens", ATTACKER_FORM, headers=same_origin).json["userid"] == "mallory"


def test_login_by_basic_header_in_cookie_mode_needs_the_header_too(client: TestApp) -> None:
    auth = {"Authorization": basic("alice", ALICE_PASSWORD)}
    client.post("/tokens", headers={**auth, "Origin": "https://evil.example"}, status=403)
    client.post("/tokens", headers=auth, status=403)
    assert client.post("/tokens", headers={**auth, **CSRF}).json["userid"] == "alice"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_cross_site_unsafe_request_is_refused_even_with_the_header(
    client: TestApp, method: str
) -> None:
    token = login(client)
    calls: list[str] = []
    for headers in CROSS_SITE:
        refused = getattr(client, method)(
            "/notes", headers=with_cookie(token, **CSRF, **headers), status=403
        )
        calls.append(refused.json["status"])
    assert calls == [403] * len(CROSS_SITE)
    same = {"Origin": "https://localhost", "Sec-Fetch-Site": "same-origin"}
    allowed = getattr(client, method)("/notes", headers=with_cookie(token, **CSRF, **same))
    assert allowed.json["userid"] == "alice"
    # same-site (a sibling subdomain) is no cross-site fetch, but its Origin is not ours
    sibling = {"Origin": "https://app.localhost", "Sec-Fetch-Site": "same-site"}
    getattr(client, method)("/notes", headers=with_cookie(token, **CSRF, **sibling), status=403)


def test_cross_site_logout_is_refused(client: TestApp) -> None:
    token = login(client)
    evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    client.delete("/tokens/alice", headers=with_cookie(token, **CSRF, **evil), status=403)
    client.get("/", headers=with_cookie(token))  # still logged in


def test_safe_methods_and_authorization_header_are_not_subject_to_origin(client: TestApp) -> None:
    token = login(client)
    evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert client.get("/", headers=with_cookie(token, **evil)).json["userid"] == "alice"
    bearer = {"Authorization": f"Bearer {token}", **evil}
    assert client.post("/notes", headers=bearer).json["mechanism"] == "token"


def test_own_origin_behind_a_trusted_proxy(users: MemoryUserStore) -> None:
    app = AuthMiddleware(echo_app, users=users, cookie=True, trusted_proxies=["10.0.0.1"])
    client = TestApp(app, extra_environ={"REMOTE_ADDR": "10.0.0.1", "wsgi.url_scheme": "http"})
    proxied = {
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "api.example.com",
        "Origin": "https://api.example.com",
        **CSRF,
    }
    body = {"username": "alice", "password": ALICE_PASSWORD}
    assert client.post_json("/tokens", body, headers=proxied).json["userid"] == "alice"
    forged = {**proxied, "Origin": "https://localhost"}  # the Host the proxy connected to
    client.post_json("/tokens", body, headers=forged, status=403)


# -- sessions in cookie mode (issue 17) -----------------------------------------------


def cookie_of(response: object) -> str | None:
    headers = getattr(response, "headers")  # noqa: B009 - webtest's response
    for value in headers.getall("Set-Cookie"):
        name, _, rest = value.partition("=")
        if name == COOKIE:
            return rest.partition(";")[0]
    return None


def test_renew_in_cookie_mode_sets_the_new_token_as_the_cookie(client: TestApp) -> None:
    old = login(client)
    client.post("/tokens?renew=true", headers=with_cookie(old), status=403)  # CSRF first
    response = client.post("/tokens?renew=true", headers=with_cookie(old, **CSRF))
    new = cookie_of(response)
    assert new is not None
    assert new != old
    assert "token" not in response.json
    assert new not in response.text
    assert "Auth-Token" not in response.headers
    client.get("/", headers=with_cookie(new), status=200)
    assert client.get("/", headers=with_cookie(old), expect_errors=True).status_int == 401


def test_ending_another_device_keeps_this_cookie(client: TestApp) -> None:
    mine, other = login(client), login(client)
    sessions = client.get("/tokens/alice", headers=with_cookie(mine)).json["sessions"]
    (theirs,) = [s["id"] for s in sessions if not s["current"]]
    response = client.delete(f"/tokens/alice/{theirs}", headers=with_cookie(mine, **CSRF))
    assert response.status_int == 204
    assert cookie_of(response) is None  # this device stays logged in
    client.get("/", headers=with_cookie(mine), status=200)
    assert client.get("/", headers=with_cookie(other), expect_errors=True).status_int == 401


def test_log_out_everywhere_in_cookie_mode_clears_the_cookie(client: TestApp) -> None:
    mine, other = login(client), login(client)
    client.delete("/tokens/alice?all=true", headers=with_cookie(mine), status=403)  # CSRF
    response = client.delete("/tokens/alice?all=true", headers=with_cookie(mine, **CSRF))
    assert response.status_int == 204
    assert cookie_of(response) == ""
    for token in (mine, other):
        assert client.get("/", headers=with_cookie(token), expect_errors=True).status_int == 401
