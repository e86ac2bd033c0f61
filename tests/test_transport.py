"""require_https and the optional query-parameter token."""

from __future__ import annotations

import pytest
from webtest import TestApp

from restauth import MemoryTokenManager, MemoryUserStore

from . import adapters
from .adapters import AuthMiddleware
from .conftest import ALICE_PASSWORD, basic, echo_app

middleware = adapters.middleware  # conftest's fixture, built by the adapter under test
pytestmark = pytest.mark.usefixtures("adapter")  # every test: WSGI and ASGI adapters

HTTP = {"wsgi.url_scheme": "http"}


def test_credentials_over_plain_http_are_refused(client: TestApp) -> None:
    response = client.get(
        "/",
        headers={"Authorization": basic("alice", ALICE_PASSWORD)},
        extra_environ=HTTP,
        status=403,
    )
    assert "HTTPS" in response.json["detail"]
    client.post_json(
        "/tokens", {"username": "alice", "password": ALICE_PASSWORD}, extra_environ=HTTP, status=403
    )
    client.get("/health", extra_environ=HTTP)  # no credentials: nothing to protect
    client.get("/", extra_environ=HTTP, status=401)


def test_forwarded_proto_counts_from_a_trusted_proxy_only(users: MemoryUserStore) -> None:
    client = TestApp(AuthMiddleware(echo_app, users=users, trusted_proxies=["10.0.0.1"]))
    auth = {"Authorization": basic("alice", ALICE_PASSWORD), "X-Forwarded-Proto": "https"}
    client.get("/", headers=auth, extra_environ={**HTTP, "REMOTE_ADDR": "10.0.0.1"})
    client.get("/", headers=auth, extra_environ={**HTTP, "REMOTE_ADDR": "192.0.2.1"}, status=403)


def test_plain_http_allowed_when_turned_off(users: MemoryUserStore) -> None:
    client = TestApp(AuthMiddleware(echo_app, users=users, require_https=False))
    client.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, extra_environ=HTTP)


@pytest.fixture
def query_client(users: MemoryUserStore, tokens: MemoryTokenManager) -> TestApp:
    def app(environ: dict[str, str], start_response: object) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
        return [environ["QUERY_STRING"].encode()]

    return TestApp(AuthMiddleware(app, users=users, tokens=tokens, query_token="token"))


def token(client: TestApp) -> str:
    response = client.post_json("/tokens", {"username": "alice", "password": ALICE_PASSWORD})
    value: str = response.json["token"]
    return value


def test_query_token_is_off_by_default(client: TestApp) -> None:
    value = token(client)
    client.get(f"/?token={value}", status=401)
    client.get(f"/?access_token={value}", status=401)


def test_query_token_when_enabled(query_client: TestApp) -> None:
    value = token(query_client)
    response = query_client.get(f"/?page=2&token={value}")
    assert response.text == "page=2"  # the token never reaches the app (or its logs)
    assert response.headers["Auth-Token"] == value
    query_client.get("/?token=abc.def", status=401)


@pytest.mark.parametrize("suffix", ["&token=again", ""])
def test_query_token_with_another_credential_is_400(query_client: TestApp, suffix: str) -> None:
    value = token(query_client)
    headers = {} if suffix else {"Authorization": f"Bearer {value}"}
    response = query_client.get(f"/?token={value}{suffix}", headers=headers, status=400)
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


def test_malformed_query_token_is_400(query_client: TestApp) -> None:
    query_client.get("/?token=a%20b", status=400)


def test_query_token_setting_is_checked(users: MemoryUserStore) -> None:
    with pytest.raises(ValueError, match="query_token"):
        AuthMiddleware(echo_app, users=users, query_token="to ken")
    with pytest.raises(ValueError, match="query_token"):
        AuthMiddleware(echo_app, users=users, tokens=None, query_token="token")


def test_query_token_responses_send_no_referrer(query_client: TestApp) -> None:
    """The page's URL holds the token: its links and subresources must not send it on."""
    value = token(query_client)
    response = query_client.get(f"/?token={value}")
    assert response.headers.getall("Referrer-Policy") == ["no-referrer"]
    refused = query_client.get("/?token=abc.def", status=401)  # a refusal has the URL too
    assert refused.headers.getall("Referrer-Policy") == ["no-referrer"]
    info = query_client.get(f"/tokens/alice?token={value}")
    assert info.headers.getall("Referrer-Policy") == ["no-referrer"]
    by_header = query_client.get("/", headers={"Authorization": f"Bearer {value}"})
    assert "Referrer-Policy" not in by_header.headers


def test_query_token_no_referrer_replaces_the_apps_policy(
    users: MemoryUserStore, tokens: MemoryTokenManager
) -> None:
    def app(environ: dict[str, str], start_response: object) -> list[bytes]:
        start_response("200 OK", [("Referrer-Policy", "unsafe-url")])  # type: ignore[operator]
        return [b""]

    client = TestApp(AuthMiddleware(app, users=users, tokens=tokens, query_token="token"))
    value = token(client)
    assert client.get(f"/?token={value}").headers.getall("Referrer-Policy") == ["no-referrer"]
