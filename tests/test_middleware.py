"""The middleware on the wire: the status matrix of DESIGN.md §4 and the token headers."""

from __future__ import annotations

import base64
import json
import logging
import sys
from typing import Any

import pytest
from webtest import TestApp

from restauth import (
    Identity,
    MemoryTokenManager,
    MemoryUserStore,
    StoreUnavailable,
)
from restauth.tokens.base import TokenGrant

from . import adapters
from .adapters import AuthMiddleware, wsgi_only
from .conftest import ALICE_PASSWORD, BOB_PASSWORD, FakeClock, basic, echo_app

middleware = adapters.middleware  # conftest's fixture, built by the adapter under test
pytestmark = pytest.mark.usefixtures("adapter")  # every test: WSGI and ASGI adapters

BASIC_CHALLENGE = 'Basic realm="test", charset="UTF-8"'
BEARER_CHALLENGE = 'Bearer realm="test"'


def token_for(client: TestApp, userid: str = "alice", password: str = ALICE_PASSWORD) -> str:
    response = client.get("/", headers={"Authorization": basic(userid, password)})
    token: str = response.headers["Auth-Token"]
    return token


# -- anonymous requests ---------------------------------------------------------------


def test_no_credentials_get_401_with_both_challenges(client: TestApp) -> None:
    response = client.get("/", status=401)
    assert response.headers.getall("WWW-Authenticate") == [BASIC_CHALLENGE, BEARER_CHALLENGE]
    assert response.content_type == "application/problem+json"
    assert response.json == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "Valid credentials are required.",
    }
    assert "Auth-Token" not in response.headers


def test_unknown_scheme_is_treated_as_no_credentials(client: TestApp) -> None:
    response = client.get("/", headers={"Authorization": "Digest username=x"}, status=401)
    assert response.headers.getall("WWW-Authenticate") == [BASIC_CHALLENGE, BEARER_CHALLENGE]


def test_public_path_is_reachable_anonymously(client: TestApp) -> None:
    response = client.get("/health")
    assert response.json["remote_user"] is None
    assert "Auth-Token" not in response.headers


def test_public_path_still_checks_credentials(client: TestApp) -> None:
    client.get("/health", headers={"Authorization": basic("alice", "wrong")}, status=401)
    ok = client.get("/health", headers={"Authorization": basic("alice", ALICE_PASSWORD)})
    assert ok.json["userid"] == "alice"


def test_non_canonical_path_is_not_public(users: MemoryUserStore) -> None:
    client = TestApp(AuthMiddleware(echo_app, users=users, public=["/static/**"]))
    client.get("/static/app.css")
    client.get("/static/../admin", status=401)
    client.get("/static//x", status=401)


def test_cors_preflight_is_never_challenged(client: TestApp) -> None:
    response = client.options("/", headers={"Access-Control-Request-Method": "GET"})
    assert response.status_int == 200
    assert "WWW-Authenticate" not in response.headers
    client.options("/", status=401)  # a plain OPTIONS is an ordinary request


# -- Basic ----------------------------------------------------------------------------


def test_basic_success_reaches_the_app_with_identity(client: TestApp, clock: FakeClock) -> None:
    response = client.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)})
    assert response.json == {
        "remote_user": "alice",
        "userid": "alice",
        "roles": ["admin", "user"],
        "mechanism": "basic",
    }
    assert response.headers["Auth-Token-Location"] == "/tokens/alice"
    assert response.headers["Auth-Token-Valid-Until"] == "2027-01-15T08:15:00.000Z"  # now + 900 s
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    exposed = response.headers["Access-Control-Expose-Headers"]
    assert exposed == "Auth-Token, Auth-Token-Valid-Until, Auth-Token-Location"


def test_scheme_name_is_case_insensitive(client: TestApp) -> None:
    value = basic("bob", BOB_PASSWORD).replace("Basic", "bAsIc")
    assert client.get("/", headers={"Authorization": value}).json["userid"] == "bob"


def test_password_authentication_reuses_the_current_token(client: TestApp) -> None:
    assert token_for(client) == token_for(client)


def test_wrong_password_and_unknown_user_are_byte_identical(client: TestApp) -> None:
    wrong = client.get("/", headers={"Authorization": basic("alice", "nope")}, status=401)
    unknown = client.get("/", headers={"Authorization": basic("mallory", "nope")}, status=401)
    assert wrong.status == unknown.status
    assert wrong.headerlist == unknown.headerlist
    assert wrong.body == unknown.body
    assert wrong.headers.getall("WWW-Authenticate") == [BASIC_CHALLENGE, BEARER_CHALLENGE]


def test_unknown_user_costs_exactly_one_bcrypt_check(
    client: TestApp, bcrypt_calls: list[bytes]
) -> None:
    client.get("/", headers={"Authorization": basic("mallory", "nope")}, status=401)
    assert len(bcrypt_calls) == 1
    client.get("/", headers={"Authorization": basic("alice", "nope")}, status=401)
    assert len(bcrypt_calls) == 2


@pytest.mark.parametrize(
    "value",
    [
        "Basic",
        "Basic ",
        "Basic !!!!",
        "Basic " + "YWxpY2U6cHc",  # bad padding
        "Basic Zm9vOmJh!!cg==",  # junk Python's lenient decoder would drop
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b":password").decode(),  # empty userid
        "Basic Og==",  # ":" alone
        "Basic " + base64.b64encode(b"alice:\xff\xfe").decode(),  # not UTF-8
        "Basic " + base64.b64encode(b"alice\x00:pw").decode(),  # NUL
        "Basic " + base64.b64encode(b"alice:pw\r\nX: y").decode(),  # CR LF
        "Basic YWxp Y2U6cHc=",  # space inside
    ],
)
def test_malformed_basic_is_401_with_challenge(client: TestApp, value: str) -> None:
    response = client.get("/", headers={"Authorization": value}, status=401)
    assert response.headers.getall("WWW-Authenticate") == [BASIC_CHALLENGE, BEARER_CHALLENGE]
    assert response.json["status"] == 401


def test_non_latin1_header_bytes_never_crash(middleware: Any) -> None:
    """Servers hand header bytes to WSGI as Latin-1: any byte sequence must be answered."""
    for raw in (b"Basic \xc3\xa9\xff", b"Bearer \x00\x01", b"\xff\xfe Token x"):
        status = call(middleware, {"HTTP_AUTHORIZATION": raw.decode("latin-1")})[0]
        assert status.split()[0] in {"400", "401"}


# -- Token and Bearer -----------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Token", "Bearer", "bearer", "TOKEN"])
def test_token_schemes_authenticate(client: TestApp, scheme: str) -> None:
    token = token_for(client)
    response = client.get("/", headers={"Authorization": f"{scheme} {token}"})
    assert response.json["mechanism"] == "token"
    assert response.headers["Auth-Token"] == token


def test_token_as_password(client: TestApp) -> None:
    token = token_for(client)
    response = client.get("/", headers={"Authorization": basic("alice", token)})
    assert response.json["mechanism"] == "token-basic"
    assert response.headers["Auth-Token"] == token


def test_token_as_password_must_belong_to_the_user(client: TestApp) -> None:
    token = token_for(client, "alice", ALICE_PASSWORD)
    response = client.get("/", headers={"Authorization": basic("bob", token)}, status=401)
    assert response.headers.getall("WWW-Authenticate") == [BASIC_CHALLENGE, BEARER_CHALLENGE]


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer a b", "Token a$b", "Token é"])
def test_malformed_token_is_400_invalid_request(client: TestApp, value: str) -> None:
    response = client.get("/", headers={"Authorization": value}, status=400)
    assert response.headers.getall("WWW-Authenticate") == [
        'Bearer realm="test", error="invalid_request"'
    ]


@pytest.mark.parametrize(
    "value",
    [
        basic("alice", ALICE_PASSWORD) + "," + basic("bob", BOB_PASSWORD),
        basic("alice", ALICE_PASSWORD) + ", " + basic("bob", BOB_PASSWORD),
        "Bearer abc,Bearer def",
    ],
)
def test_two_authorization_headers_joined_by_the_server_are_400(
    client: TestApp, value: str
) -> None:
    response = client.get("/", headers={"Authorization": value}, status=400)
    assert "remote_user" not in response.text


def test_unknown_token_is_401_invalid_token(client: TestApp) -> None:
    response = client.get("/", headers={"Authorization": "Bearer abc.def"}, status=401)
    assert response.headers.getall("WWW-Authenticate") == [
        'Bearer realm="test", error="invalid_token"'
    ]


def test_forged_token_is_refused(client: TestApp) -> None:
    token = token_for(client)
    token_id, mac = token.split(".")
    forged = f"{token_id}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}"
    client.get("/", headers={"Authorization": f"Bearer {forged}"}, status=401)


def test_sliding_ttl_and_absolute_lifetime(client: TestApp, clock: FakeClock) -> None:
    token = token_for(client)
    auth = {"Authorization": f"Token {token}"}
    for _ in range(4):  # used every 800 s: each use renews the 900 s idle timeout
        clock.advance(800)
        client.get("/", headers=auth)
    clock.advance(800)  # 4000 s after issue: past max_lifetime (3600 s) although never idle
    client.get("/", headers=auth, status=401)


def test_idle_token_expires(client: TestApp, clock: FakeClock) -> None:
    token = token_for(client)
    clock.advance(901)
    client.get("/", headers={"Authorization": f"Token {token}"}, status=401)
    assert token_for(client) != token  # the next password login gets a fresh one


def test_valid_until_never_passes_the_absolute_cap(client: TestApp, clock: FakeClock) -> None:
    token = token_for(client)
    for _ in range(4):
        clock.advance(800)
        response = client.get("/", headers={"Authorization": f"Token {token}"})
    assert response.headers["Auth-Token-Valid-Until"] == "2027-01-15T09:00:00.000Z"  # issue+3600


def test_password_change_kills_tokens(client: TestApp, users: MemoryUserStore) -> None:
    token = token_for(client)
    users.set_password("alice", "a new password")
    client.get("/", headers={"Authorization": f"Token {token}"}, status=401)
    client.get("/", headers={"Authorization": basic("alice", token)}, status=401)
    assert token_for(client, "alice", "a new password") != token


def test_removed_user_token_is_refused(client: TestApp, users: MemoryUserStore) -> None:
    token = token_for(client)
    users.remove("alice")
    client.get("/", headers={"Authorization": f"Token {token}"}, status=401)


def test_roles_are_read_fresh(client: TestApp, users: MemoryUserStore) -> None:
    token = token_for(client)
    users.set_roles("alice", ["auditor"])
    response = client.get("/", headers={"Authorization": f"Token {token}"})
    assert response.json["roles"] == ["auditor"]


# -- headers on authenticated responses -----------------------------------------------


def test_app_caching_is_replaced_and_expose_headers_merged(client: TestApp) -> None:
    response = client.get("/cached", headers={"Authorization": basic("alice", ALICE_PASSWORD)})
    assert response.headers.getall("Cache-Control") == ["no-store"]
    assert response.headers["X-Request-Id"] == "42"
    assert response.headers.getall("Access-Control-Expose-Headers") == [
        "X-Request-Id, auth-token, Auth-Token-Valid-Until, Auth-Token-Location"
    ]


def test_token_headers_on_any_status(client: TestApp) -> None:
    response = client.get(
        "/missing", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=404
    )
    assert "Auth-Token" in response.headers


def test_app_cannot_duplicate_our_headers(users: MemoryUserStore) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Auth-Token", "fake"), ("auth-token-location", "/evil")])
        return [b""]

    client = TestApp(AuthMiddleware(app, users=users))
    response = client.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)})
    assert len(response.headers.getall("Auth-Token")) == 1
    assert response.headers["Auth-Token"] != "fake"
    assert response.headers.getall("Auth-Token-Location") == ["/tokens/alice"]


def test_userid_in_location_is_percent_encoded(users: MemoryUserStore) -> None:
    users.add("jo sé/x?", "pw-of-jose")
    client = TestApp(AuthMiddleware(echo_app, users=users))
    response = client.get("/", headers={"Authorization": basic("jo sé/x?", "pw-of-jose")})
    assert response.headers["Auth-Token-Location"] == "/tokens/jo%20s%C3%A9%2Fx%3F"


# -- challenge control ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/", {"No-Auth-Challenge": ""}),
        ("/", {"No-Auth-Challenge": "true"}),
        ("/?noauthchallenge", {}),
        ("/?a=1&noauthchallenge=yes", {}),
    ],
)
def test_no_auth_challenge_removes_only_the_challenge(
    client: TestApp, path: str, headers: dict[str, str]
) -> None:
    plain = client.get("/", status=401)
    quiet = client.get(path, headers=headers, status=401)
    assert "WWW-Authenticate" not in quiet.headers
    assert quiet.body == plain.body
    bad = client.get(path, headers={**headers, "Authorization": "Bearer a b"}, status=400)
    assert "WWW-Authenticate" not in bad.headers
    invalid = client.get(path, headers={**headers, "Authorization": "Bearer a.b"}, status=401)
    assert "WWW-Authenticate" not in invalid.headers


def test_similar_query_names_do_not_suppress(client: TestApp) -> None:
    response = client.get("/?xnoauthchallenge=1&noauthchallengex", status=401)
    assert "WWW-Authenticate" in response.headers


def test_oversized_header_is_431_before_any_hashing(
    client: TestApp, bcrypt_calls: list[bytes]
) -> None:
    value = "Basic " + base64.b64encode(b"alice:" + b"x" * 65536).decode()
    response = client.get("/", headers={"Authorization": value}, status=431)
    assert "WWW-Authenticate" not in response.headers
    assert bcrypt_calls == []


# -- tokens off -----------------------------------------------------------------------


def test_tokens_off_means_basic_only(users: MemoryUserStore) -> None:
    client = TestApp(AuthMiddleware(echo_app, users=users, tokens=None, realm="test"))
    response = client.get("/", status=401)
    assert response.headers.getall("WWW-Authenticate") == [BASIC_CHALLENGE]
    ok = client.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)})
    assert ok.json["mechanism"] == "basic"
    assert "Auth-Token" not in ok.headers
    anonymous_bearer = client.get("/", headers={"Authorization": "Bearer abc"}, status=401)
    assert anonymous_bearer.headers.getall("WWW-Authenticate") == [BASIC_CHALLENGE]
    passed = client.post("/tokens", headers={"Authorization": basic("alice", ALICE_PASSWORD)})
    assert passed.json["remote_user"] == "alice"  # no /tokens endpoint: the app answers


def cache_app(cache_control: list[str]) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        headers = [("Content-Type", "text/plain"), *(("Cache-Control", v) for v in cache_control)]
        start_response("200 OK", headers)
        return [b"private data"]

    return app


@pytest.mark.parametrize(
    ("app_sets", "sent"),
    [
        ([], "private"),
        (["public, max-age=600"], "max-age=600, private"),
        (["PUBLIC"], "private"),
        (["max-age=60", "s-maxage=600"], "max-age=60, s-maxage=600, private"),
        (['private="Set-Cookie", max-age=5'], 'private="Set-Cookie", max-age=5, private'),
        (["no-store"], "no-store"),
        (["private, max-age=30"], "private, max-age=30"),
    ],
)
def test_authenticated_response_without_token_headers_is_never_public(
    users: MemoryUserStore, app_sets: list[str], sent: str
) -> None:
    client = TestApp(AuthMiddleware(cache_app(app_sets), users=users, tokens=None))
    response = client.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)})
    assert response.headers.getall("Cache-Control") == [sent]
    anonymous = TestApp(
        AuthMiddleware(cache_app(app_sets), users=users, tokens=None, public=["/"])
    ).get("/")
    assert anonymous.headers.getall("Cache-Control") == app_sets  # not ours to change


# -- failing stores -------------------------------------------------------------------


class DownUserStore:
    def get(self, userid: str) -> None:
        raise StoreUnavailable("connection refused")


class BrokenTokens(MemoryTokenManager):
    def issue(self, userid: str, stamp: str) -> TokenGrant:
        raise ConnectionError("redis went away")


def test_user_store_down_is_503_and_fails_closed() -> None:
    called = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        called.append(1)
        start_response("200 OK", [])
        return [b""]

    client = TestApp(AuthMiddleware(app, users=DownUserStore()))
    response = client.get("/", headers={"Authorization": basic("alice", "x")}, status=503)
    assert response.headers["Retry-After"] == "5"
    assert response.content_type == "application/problem+json"
    assert "WWW-Authenticate" not in response.headers
    assert "connection refused" not in response.text
    assert called == []


def test_token_manager_down_is_503(users: MemoryUserStore) -> None:
    client = TestApp(AuthMiddleware(echo_app, users=users, tokens=BrokenTokens()))
    client.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=503)


# -- PEP 3333 manners -----------------------------------------------------------------


def call(app: Any, extra: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "wsgi.url_scheme": "https",
        **extra,
    }
    seen: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.append((status, headers))
        return lambda data: None

    body = b"".join(app(environ, start_response))
    return seen[-1][0], seen[-1][1], body


@wsgi_only("PEP 3333: start_response's exc_info and the app's iterable (and its close())")
def test_exc_info_passes_through_and_iterable_is_returned_unwrapped(
    users: MemoryUserStore,
) -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Any:
            return iter([b"ok"])

        def close(self) -> None:
            closed.append(True)

    body = Body()

    def app(environ: dict[str, Any], start_response: Any) -> Body:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        return body

    received: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        received.append(exc_info)
        return lambda data: None

    middleware = AuthMiddleware(app, users=users)
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "wsgi.url_scheme": "https",
        "HTTP_AUTHORIZATION": basic("alice", ALICE_PASSWORD),
    }
    result = middleware(environ, start_response)
    assert result is body  # the server closes it, as PEP 3333 expects
    assert received[0] is not None
    assert received[0][0] is RuntimeError
    result.close()  # type: ignore[attr-defined]
    assert closed == [True]


def test_constructor_refuses_bad_settings(users: MemoryUserStore) -> None:
    with pytest.raises(ValueError, match="realm"):
        AuthMiddleware(echo_app, users=users, realm='a"b')
    with pytest.raises(ValueError, match="tokens_path"):
        AuthMiddleware(echo_app, users=users, tokens_path="tokens")
    with pytest.raises(ValueError, match="path pattern"):
        AuthMiddleware(echo_app, users=users, public=["health"])


def test_identity_is_not_json_serialised_secret(client: TestApp) -> None:
    """Bodies of refusals never echo what the client sent."""
    secret = "very-secret-password"
    response = client.get("/", headers={"Authorization": basic("alice", secret)}, status=401)
    assert secret not in response.text
    assert json.loads(response.body)["detail"] == "Valid credentials are required."


class StaticBearer:
    """An identity provider's bearer, reduced to what the middleware asks of one."""

    def handles(self, token: str) -> bool:
        return token == "idp-token"

    def authenticate(self, token: str) -> Identity | None:
        return Identity("carol", frozenset({"user"}), "jwt")


def test_identity_provider_callers_get_no_public_cache(
    users: MemoryUserStore, tokens: MemoryTokenManager
) -> None:
    app = AuthMiddleware(
        cache_app(["public, max-age=600"]), users=users, tokens=tokens, bearer=StaticBearer()
    )
    response = TestApp(app).get("/", headers={"Authorization": "Bearer idp-token"})
    assert "Auth-Token" not in response.headers  # external: no restauth token
    assert response.headers.getall("Cache-Control") == ["max-age=600, private"]


def test_a_bug_inside_restauth_is_a_503_logged_as_an_internal_error(
    users: MemoryUserStore, tokens: MemoryTokenManager, caplog: pytest.LogCaptureFixture
) -> None:
    """Fail closed, but never mistaken for an outage: an ERROR with its traceback."""
    app = AuthMiddleware(echo_app, users=users, tokens=tokens)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug in restauth")

    app.pipeline.gate._read_credentials = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.DEBUG):
        response = TestApp(app).get(
            "/", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=503
        )
    assert response.headers["Retry-After"] == "5"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "restauth"]
    assert [r.getMessage() for r in errors] == [
        "restauth internal error; the request is refused with 503"
    ]
    assert errors[0].exc_info is not None
    assert errors[0].exc_info[0] is RuntimeError
    assert "store unavailable" not in caplog.text
    assert ALICE_PASSWORD not in caplog.text


def test_a_store_outage_is_not_logged_as_an_internal_error(
    tokens: MemoryTokenManager, caplog: pytest.LogCaptureFixture
) -> None:
    app = AuthMiddleware(echo_app, users=DownUserStore(), tokens=tokens)  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG):
        TestApp(app).get("/", headers={"Authorization": basic("alice", "x")}, status=503)
    assert "store unavailable: connection refused" in caplog.text
    assert "internal error" not in caplog.text
    assert not any(r.exc_info for r in caplog.records)


def test_a_bug_inside_the_authenticator_is_an_internal_error_not_an_outage(
    users: MemoryUserStore, tokens: MemoryTokenManager, caplog: pytest.LogCaptureFixture
) -> None:
    """Store calls are wrapped one by one, so restauth's own code is never taken for a store."""
    app = AuthMiddleware(echo_app, users=users, tokens=tokens)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise TypeError("a bug in the authenticator")

    app.pipeline.gate.authenticator._remembered = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.DEBUG):
        TestApp(app).get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=503)
    assert "restauth internal error" in caplog.text
    assert "store unavailable" not in caplog.text


def test_settings_cannot_be_changed_after_the_middleware_is_built(
    users: MemoryUserStore,
) -> None:
    app = AuthMiddleware(echo_app, users=users, require_https=True)
    with pytest.raises(AttributeError, match="fixed"):
        app.require_https = False  # type: ignore[misc]
    assert app.require_https is True
