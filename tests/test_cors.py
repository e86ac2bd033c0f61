"""CORS (issue 18): every answer restauth makes or passes on, for an allowed origin and for
one that is not, and the preflights."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest
from webtest import TestApp

from restauth import (
    CORS,
    ConfigError,
    MemoryTokenManager,
    MemoryUserStore,
    StoreUnavailable,
    Throttle,
    ThrottlePolicy,
)

from .adapters import AuthMiddleware, configured, wsgi_only
from .conftest import ALICE_PASSWORD, basic, echo_app

pytestmark = pytest.mark.usefixtures("adapter")  # every test: WSGI and ASGI adapters

ALLOWED = "https://app.example.com"
OTHER = "https://evil.example.net"
EXPOSED = {"auth-token", "auth-token-valid-until", "auth-token-location"}


def values(response: Any, name: str) -> list[str]:
    return [v for n, v in response.headerlist if n.lower() == name.lower()]


def listed(response: Any, name: str) -> set[str]:
    return {part.strip().lower() for v in values(response, name) for part in v.split(",")}


def check(response: Any, origin: str) -> None:
    """The CORS headers an answer to ``origin`` must carry: ``Vary: Origin`` always (one
    ``Vary``), and the allow headers for the allowed origin only, never twice."""
    assert len(values(response, "Vary")) == 1, response.headerlist
    assert "origin" in listed(response, "Vary")
    allow = values(response, "Access-Control-Allow-Origin")
    if origin == ALLOWED:
        assert allow == [ALLOWED]
        names = {n.lower() for n, _ in response.headerlist}
        exposed = listed(response, "Access-Control-Expose-Headers")
        assert (names & EXPOSED) <= exposed  # whatever Auth-Token header is sent is exposed
        if "retry-after" in names:
            assert "retry-after" in exposed
        assert len(values(response, "Access-Control-Expose-Headers")) <= 1
    else:
        assert allow == []
        assert values(response, "Access-Control-Allow-Credentials") == []


def acl_app(users: MemoryUserStore, tokens: MemoryTokenManager, **options: Any) -> TestApp:
    acl = [{"path": "/admin/**", "roles": ["admin"]}, {"path": "/x", "roles": ["$authenticated"]}]
    middleware = AuthMiddleware(
        echo_app,
        users=users,
        tokens=tokens,
        public=["/health"],
        acl=acl,
        cors=CORS(origins=[ALLOWED]),
        **options,
    )
    return TestApp(middleware)


@pytest.fixture
def client(users: MemoryUserStore, tokens: MemoryTokenManager) -> TestApp:
    return acl_app(users, tokens)


@pytest.fixture
def bob_token(client: TestApp, users: MemoryUserStore) -> str:
    from .conftest import BOB_PASSWORD

    response = client.post_json("/tokens", {"username": "bob", "password": BOB_PASSWORD})
    token: str = response.json["token"]
    return token


ORIGINS = pytest.mark.parametrize("origin", [ALLOWED, OTHER])


@ORIGINS
def test_the_apps_answers(client: TestApp, bob_token: str, origin: str) -> None:
    headers = {"Origin": origin}
    ok = client.get("/x", headers={**headers, "Authorization": f"Bearer {bob_token}"})
    check(ok, origin)
    public = client.get("/health", headers=headers)
    check(public, origin)


@ORIGINS
def test_restauths_refusals(client: TestApp, bob_token: str, origin: str) -> None:
    headers = {"Origin": origin}
    cases = [
        (client.get("/x", headers=headers, status=401), 401),  # no credentials
        (client.get("/x", headers={**headers, "Authorization": "Bearer x.y"}, status=401), 401),
        (client.get("/x", headers={**headers, "Authorization": "Token a b"}, status=400), 400),
        (
            client.get(
                "/x", headers={**headers, "Authorization": "Basic " + "A" * 9000}, status=431
            ),
            431,
        ),
        (
            client.get(
                "/admin/x", headers={**headers, "Authorization": f"Token {bob_token}"}, status=403
            ),
            403,
        ),
        (
            TestApp(client.app, extra_environ={"wsgi.url_scheme": "http"}).get(
                "/x",
                headers={**headers, "Authorization": f"Token {bob_token}"},
                status=403,
            ),
            403,
        ),  # the plain-HTTP refusal
        (
            client.get(
                "/tokens/alice",
                headers={**headers, "Authorization": f"Token {bob_token}"},
                status=403,
            ),
            403,
        ),
        (client.put("/tokens", headers=headers, status=405), 405),
    ]
    for response, status in cases:
        assert response.status_int == status
        check(response, origin)


@ORIGINS
def test_429_exposes_retry_after(
    users: MemoryUserStore, tokens: MemoryTokenManager, origin: str
) -> None:
    throttle = Throttle(ThrottlePolicy(user_threshold=1, address_threshold=100))
    client = acl_app(users, tokens, throttle=throttle)
    wrong = {"Origin": origin, "Authorization": basic("alice", "wrong")}
    client.get("/x", headers=wrong, status=401)
    response = client.get("/x", headers=wrong, status=429)
    assert response.headers["Retry-After"]
    check(response, origin)


class DownUsers(MemoryUserStore):
    def get(self, userid: str) -> Any:
        raise StoreUnavailable("down")


@ORIGINS
def test_503_exposes_retry_after(origin: str) -> None:
    client = TestApp(
        AuthMiddleware(echo_app, users=DownUsers(), throttle=None, cors=CORS(origins=[ALLOWED]))
    )
    response = client.get(
        "/x", headers={"Origin": origin, "Authorization": basic("alice", "pw")}, status=503
    )
    check(response, origin)


@ORIGINS
def test_every_endpoint(client: TestApp, origin: str) -> None:
    headers = {"Origin": origin}
    login = client.post_json(
        "/tokens", {"username": "alice", "password": ALICE_PASSWORD}, headers=headers
    )
    check(login, origin)
    token = {**headers, "Authorization": f"Token {login.json['token']}"}
    for response in (
        client.get("/tokens/alice", headers=token),
        client.get("/roles/alice", headers=token),
        client.post("/tokens?renew=true", headers=token),
    ):
        check(response, origin)
        assert "Auth-Token" in response.headers
    renewed = {**headers, "Authorization": f"Token {response.json['token']}"}
    check(client.delete("/tokens/alice", headers=renewed, status=204), origin)
    check(
        client.post_json(
            "/tokens", {"username": "alice", "password": "x"}, headers=headers, status=401
        ),
        origin,
    )


def test_the_endpoints_expose_their_token_headers_without_cors(
    users: MemoryUserStore, tokens: MemoryTokenManager
) -> None:
    """The README promised it on every authenticated response; the endpoints lacked it."""
    client = TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens))
    login = client.post_json("/tokens", {"username": "alice", "password": ALICE_PASSWORD})
    token = {"Authorization": f"Token {login.json['token']}"}
    for response in (
        login,
        client.get("/tokens/alice", headers=token),
        client.get("/roles/alice", headers=token),
    ):
        assert listed(response, "Access-Control-Expose-Headers") >= EXPOSED


# -- preflights -------------------------------------------------------------------------


def preflight(client: TestApp, path: str, origin: str, method: str = "POST", **extra: str) -> Any:
    headers = {"Origin": origin, "Access-Control-Request-Method": method, **extra}
    return client.options(path, headers=headers, status=204)


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/tokens", "POST"),
        ("/tokens/alice", "GET, DELETE"),
        ("/tokens/alice/0123456789abcdef01234567", "GET, DELETE"),
        ("/roles/alice", "GET"),
        ("/x", "GET, HEAD, POST, PUT, PATCH, DELETE"),
        ("/admin/x", "GET, HEAD, POST, PUT, PATCH, DELETE"),
    ],
)
def test_preflights_are_answered_with_the_paths_methods(
    client: TestApp, path: str, methods: str
) -> None:
    response = preflight(
        client, path, ALLOWED, "DELETE", **{"Access-Control-Request-Headers": "authorization"}
    )
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert response.headers["Access-Control-Allow-Methods"] == methods
    allowed_headers = listed(response, "Access-Control-Allow-Headers")
    assert {
        "authorization",
        "content-type",
        "no-auth-challenge",
        "x-requested-with",
    } <= allowed_headers
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert {"origin", "access-control-request-method"} <= listed(response, "Vary")
    assert "WWW-Authenticate" not in response.headers
    assert response.body == b""
    refused = preflight(client, path, OTHER)
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Access-Control-Allow-Methods" not in refused.headers
    assert "origin" in listed(refused, "Vary")


def test_without_cors_an_apps_preflight_reaches_the_app_unchallenged(
    users: MemoryUserStore, tokens: MemoryTokenManager
) -> None:
    client = TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens))
    headers = {"Origin": OTHER, "Access-Control-Request-Method": "PUT"}
    response = client.options("/x", headers=headers, status=200)
    assert response.json["userid"] is None  # echo_app answered: the app decides
    endpoint = client.options("/tokens", headers=headers, status=204)
    assert endpoint.headers["Allow"] == "POST"
    assert "Access-Control-Allow-Origin" not in endpoint.headers


# -- merging with the app's own headers -------------------------------------------------


def app_with_cors_headers(
    environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    """What flask-cors would add: its own allow headers, an expose list, a Vary."""
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain"),
            ("Access-Control-Allow-Origin", "*"),
            ("Access-Control-Allow-Credentials", "true"),
            ("Access-Control-Expose-Headers", "X-Total-Count"),
            ("Vary", "Accept-Encoding"),
        ],
    )
    return [b"ok"]


@ORIGINS
def test_the_apps_own_cors_headers_are_merged_never_doubled(
    users: MemoryUserStore, tokens: MemoryTokenManager, origin: str
) -> None:
    client = TestApp(
        AuthMiddleware(
            app_with_cors_headers, users=users, tokens=tokens, cors=CORS(origins=[ALLOWED])
        )
    )
    response = client.get(
        "/x", headers={"Origin": origin, "Authorization": basic("alice", ALICE_PASSWORD)}
    )
    check(response, origin)
    assert listed(response, "Vary") == {"accept-encoding", "origin"}
    assert values(response, "Access-Control-Allow-Credentials") == []  # restauth's say only
    exposed = listed(response, "Access-Control-Expose-Headers")
    assert "x-total-count" in exposed  # the app's list is kept
    if origin == ALLOWED:
        assert exposed >= EXPOSED


# -- options ------------------------------------------------------------------------------


def test_an_origin_pattern_matches_whole_origins_only(users: MemoryUserStore) -> None:
    cors = CORS(origin_pattern=r"https://[a-z0-9-]+\.example\.com")
    assert cors.allowed("https://app.example.com") == "https://app.example.com"
    for origin in (
        "https://app.example.com.evil.net",
        "https://evil.net/https://app.example.com",
        "http://app.example.com",
        "null",
        None,
    ):
        assert cors.allowed(origin) is None


def test_any_origin_is_star_and_never_with_credentials() -> None:
    assert CORS(origins=["*"]).allowed("https://anything.example") == "*"
    with pytest.raises(ConfigError, match="allow_credentials"):
        CORS(origins=["*"], allow_credentials=True)
    with pytest.raises(ConfigError, match="stands alone"):
        CORS(origins=["*", ALLOWED])


def test_credentials_are_allowed_when_asked(users: MemoryUserStore) -> None:
    client = TestApp(
        AuthMiddleware(echo_app, users=users, cors=CORS(origins=[ALLOWED], allow_credentials=True))
    )
    answer = client.get("/x", headers={"Origin": ALLOWED}, status=401)
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    assert preflight(client, "/x", ALLOWED).headers["Access-Control-Allow-Credentials"] == "true"
    other = client.get("/x", headers={"Origin": OTHER}, status=401)
    assert "Access-Control-Allow-Credentials" not in other.headers


@pytest.mark.parametrize(
    "bad",
    [
        {"origins": ["https://app.example.com/"]},
        {"origins": ["app.example.com"]},
        {"origins": "https://app.example.com"},
        {"origins": [ALLOWED], "max_age": -1},
        {"origins": [ALLOWED], "allow_headers": ["bad header"]},
        {"origins": [ALLOWED], "origin_pattern": "("},
        {"origins": [ALLOWED], "allow_credentials": "yes"},
    ],
)
def test_bad_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        CORS(**bad)


def test_extra_allowed_and_exposed_headers(users: MemoryUserStore) -> None:
    cors = CORS(origins=[ALLOWED], allow_headers=["X-Trace"], expose_headers=["X-Total-Count"])
    client = TestApp(AuthMiddleware(echo_app, users=users, cors=cors))
    answer = preflight(client, "/x", ALLOWED)
    assert "x-trace" in listed(answer, "Access-Control-Allow-Headers")
    refusal = client.get("/x", headers={"Origin": ALLOWED}, status=401)
    assert "x-total-count" in listed(refusal, "Access-Control-Expose-Headers")


def test_cors_from_the_config_file(users: MemoryUserStore) -> None:
    from restauth import load_config

    config = load_config(
        {"cors": {"origins": [ALLOWED], "max_age": 60, "expose_headers": ["X-Total-Count"]}}
    )
    client = TestApp(configured(config, echo_app, users=users))
    answer = preflight(client, "/tokens", ALLOWED)
    assert answer.headers["Access-Control-Max-Age"] == "60"
    assert config.describe()["restauth"]["cors"]["origins"] == [ALLOWED]
    with pytest.raises(ConfigError, match=r"\[cors\]"):
        load_config({"cors": {"origins": ["*"], "allow_credentials": True}})


# -- the axios / knox login ----------------------------------------------------------------


def test_basic_credentials_with_an_empty_json_body_log_in(client: TestApp) -> None:
    headers = {"Origin": ALLOWED, "Authorization": basic("alice", ALICE_PASSWORD)}
    response = client.post_json("/tokens", {}, headers=headers)
    assert response.json["userid"] == "alice"
    check(response, ALLOWED)
    labelled = client.post_json("/tokens", {"client": "axios"}, headers=headers)
    sessions = client.get(
        "/tokens/alice", headers={"Authorization": f"Token {labelled.json['token']}"}
    ).json["sessions"]
    assert "axios" in [s["client"] for s in sessions]
    client.post_json("/tokens", {"username": "alice"}, headers=headers, status=400)  # half
    client.post_json("/tokens", {}, status=401)  # and no header: nobody


@pytest.mark.parametrize(
    "body",
    [{"password": "x"}, {"foo": 1}, {"user": "alice", "pass": ALICE_PASSWORD}, {"client": 5}],
)
def test_a_body_with_other_fields_is_still_400(client: TestApp, body: dict[str, Any]) -> None:
    headers = {"Authorization": basic("alice", ALICE_PASSWORD)}
    response = client.post_json("/tokens", body, headers=headers, status=400)
    assert "token" not in response.text


# -- the rest of the answer types, and hostile origins (review of issue 18) -------------


@ORIGINS
def test_login_body_refusals_carry_cors(client: TestApp, origin: str) -> None:
    headers = {"Origin": origin}
    too_large = client.post(
        "/tokens", "x" * 20000, headers={**headers, "Content-Type": "application/json"},
        status=413,
    )  # fmt: skip
    check(too_large, origin)
    charset = client.post(
        "/tokens", b"username=a&password=b",
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded; charset=nope"},
        status=415,
    )  # fmt: skip
    check(charset, origin)


@wsgi_only(
    "PEP 3333: without Content-Length or wsgi.input_terminated a chunked body cannot be read "
    "(411); an ASGI server hands it over (test_asgi_adapter.py: a chunked login is read)"
)
@ORIGINS
def test_a_chunked_login_body_refusal_carries_cors(client: TestApp, origin: str) -> None:
    environ = {**client.extra_environ, "REQUEST_METHOD": "POST", "PATH_INFO": "/tokens"}
    environ |= {"HTTP_ORIGIN": origin, "HTTP_TRANSFER_ENCODING": "chunked"}  # no length
    chunked = client.get("/tokens", extra_environ=environ, status=411)
    check(chunked, origin)


@ORIGINS
def test_cookie_modes_csrf_refusal_carries_cors(
    users: MemoryUserStore, tokens: MemoryTokenManager, origin: str
) -> None:
    client = TestApp(
        AuthMiddleware(
            echo_app, users=users, tokens=tokens, cookie=True, cors=CORS(origins=[ALLOWED])
        )
    )
    body = {"username": "alice", "password": ALICE_PASSWORD}
    refused = client.post_json("/tokens", body, headers={"Origin": origin}, status=403)
    check(refused, origin)


@ORIGINS
def test_head_and_plain_options_carry_cors(client: TestApp, bob_token: str, origin: str) -> None:
    token = {"Origin": origin, "Authorization": f"Token {bob_token}"}
    check(client.head("/x", headers=token), origin)
    check(client.options("/x", headers={"Origin": origin}, status=401), origin)  # not a preflight


def streaming_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """An app that writes with write() and then yields, as old WSGI apps do."""
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"one ")
    yield b"two"


@ORIGINS
def test_a_streaming_app_gets_cors(
    users: MemoryUserStore, tokens: MemoryTokenManager, origin: str
) -> None:
    client = TestApp(
        AuthMiddleware(streaming_app, users=users, tokens=tokens, cors=CORS(origins=[ALLOWED]))
    )
    response = client.get(
        "/x", headers={"Origin": origin, "Authorization": basic("alice", ALICE_PASSWORD)}
    )
    assert response.body == b"one two"
    check(response, origin)


@pytest.mark.parametrize(
    "origin",
    [
        "https://x\x00.example.com",
        "https://\xe9vil.example.com",
        "https://" + "a" * 7000 + ".example.com",
        "https://x.example.com\\",
        "https://X.example.com",
    ],
)
def test_a_pattern_never_lets_a_hostile_origin_into_a_header(
    users: MemoryUserStore, origin: str
) -> None:
    cors = CORS(origin_pattern=r"https://.*\.example\.com(:443)?\\?")
    assert cors.allowed(origin) is None
    client = TestApp(AuthMiddleware(echo_app, users=users, cors=cors))
    environ = {"HTTP_ORIGIN": origin}
    response = client.get("/x", extra_environ=environ, status=401)
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    "origin",
    [
        "https://App.Example.com",
        "https://app.example.com:443",
        "http://a.b:80",
        "https://é.example",
    ],
)
def test_an_origin_no_browser_sends_is_refused_in_the_settings(origin: str) -> None:
    with pytest.raises(ConfigError, match="as a browser sends it"):
        CORS(origins=[origin])


def test_a_cors_is_fixed_once_built_and_names_someone() -> None:
    cors = CORS(origins=["*"])
    with pytest.raises(AttributeError):
        cors.allow_credentials = True  # type: ignore[misc]
    with pytest.raises(ConfigError, match="needs origins"):
        CORS()
    with pytest.raises(ConfigError, match="origin_pattern"):
        CORS(origin_pattern=b"https://.*")  # type: ignore[arg-type]
