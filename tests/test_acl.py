"""ACL rules: compiled once, a union of grants, ``{userid}`` for one's own data."""

from __future__ import annotations

import logging

import pytest
from webtest import TestApp

from restauth import Identity, MemoryTokenManager, MemoryUserStore
from restauth.access.acl import ACL, ACLRule
from tests.adapters import AuthMiddleware, wsgi_only
from tests.conftest import ALICE_PASSWORD, BOB_PASSWORD, basic, echo_app

pytestmark = pytest.mark.usefixtures("adapter")  # every test: WSGI and ASGI adapters

ALICE = Identity("alice", frozenset({"user", "admin"}), "basic")
BOB = Identity("bob", frozenset({"user"}), "basic")
JÖRG = Identity("jörg", frozenset(), "basic")

RULES: list[dict[str, object]] = [
    {"path": "/docs/**", "methods": ["GET"], "roles": ["$unauthenticated"]},
    {"path": "/users/{userid}/**", "methods": "*", "roles": ["$authenticated"]},
    {"path": "/notes/*", "methods": ["GET", "POST"], "roles": ["user"]},
    {"path": "/admin/**", "roles": ["admin"]},
]


@pytest.fixture
def acl() -> ACL:
    return ACL(RULES)


@pytest.mark.parametrize(
    ("method", "path", "identity", "allowed"),
    [
        ("GET", "/docs", None, True),
        ("HEAD", "/docs/intro", None, True),  # GET grants HEAD
        ("POST", "/docs/intro", None, False),
        ("GET", "/docs/intro", BOB, True),  # $unauthenticated grants everybody
        ("GET", "/users/bob/notes", BOB, True),
        ("DELETE", "/users/bob", BOB, True),
        ("GET", "/users/alice/notes", BOB, False),  # someone else's data
        ("GET", "/users/bob/notes", None, False),
        ("GET", "/notes/1", BOB, True),
        ("PUT", "/notes/1", BOB, False),
        ("GET", "/notes/1/2", BOB, False),  # '*' is one segment
        ("GET", "/admin/users", BOB, False),
        ("PATCH", "/admin/users", ALICE, True),
        ("GET", "/admin/../users/bob", ALICE, False),  # non-canonical: no rule matches
        ("GET", "/docs//x", None, False),
        ("GET", "/nothing", ALICE, False),
    ],
)
def test_decisions(
    acl: ACL, method: str, path: str, identity: Identity | None, allowed: bool
) -> None:
    assert acl.allows(method, path, identity) is allowed


def test_userid_matches_the_wsgi_form_of_a_non_ascii_userid(acl: ACL) -> None:
    wsgi_path = "/users/jörg/x".encode().decode("latin-1")  # as PEP 3333 servers put it
    assert acl.allows("GET", wsgi_path, JÖRG)
    assert not acl.allows("GET", wsgi_path, BOB)


def test_userid_segment_does_not_match_a_prefix() -> None:
    acl = ACL([ACLRule.make("/users/{userid}", ["$authenticated"])])
    assert acl.allows("GET", "/users/bob", BOB)
    assert not acl.allows("GET", "/users/bobby", BOB)
    assert not acl.allows("GET", "/users/bob/x", BOB)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"path": "docs", "roles": ["x"]}, "must start with '/'"),
        ({"path": "/a/**/b", "roles": ["x"]}, "only allowed at the end"),
        ({"path": "/a/{userid}/{userid}", "roles": ["x"]}, "at most one"),
        ({"path": "/a/x{userid}", "roles": ["x"]}, "whole segment"),
        ({"path": "/a", "roles": []}, "must not be empty"),
        ({"path": "/a", "roles": "admin"}, "roles must be a list"),
        ({"path": "/a", "roles": ["$admin"]}, "unknown special role"),
        ({"path": "/a", "roles": ["a b"]}, "invalid role"),
        ({"path": "/a", "roles": ["x"], "methods": ["GE T"]}, "invalid method"),
        ({"path": "/a", "roles": ["x"], "methods": "GET"}, "methods must be"),
        ({"path": "/a", "roles": ["x"], "methods": []}, "must not be empty"),
        ({"path": "/a", "roles": ["x"], "verbs": ["GET"]}, "unknown key"),
        ({"roles": ["x"]}, "missing key 'path'"),
    ],
)
def test_malformed_rules_are_named_at_start_up(rule: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=r"^acl\[1\]: .*") as error:
        ACL([RULES[0], rule])
    assert message in str(error.value)


def test_userid_is_refused_in_public_paths(users: MemoryUserStore) -> None:
    with pytest.raises(ValueError, match="at most one"):
        AuthMiddleware(echo_app, users=users, public=["/users/{userid}"])


@pytest.fixture
def acl_client(users: MemoryUserStore, tokens: MemoryTokenManager) -> TestApp:
    return TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens, realm="t", acl=RULES))


def test_anonymous_without_a_grant_is_401_with_challenge(acl_client: TestApp) -> None:
    response = acl_client.get("/admin/x", status=401)
    assert response.headers.getall("WWW-Authenticate")


def test_anonymous_with_a_grant_reaches_the_app_as_nobody(acl_client: TestApp) -> None:
    response = acl_client.get("/docs/intro", status=200)
    assert response.json["userid"] is None
    assert "Auth-Token" not in response.headers


def test_known_caller_without_a_grant_is_403_with_token_headers(acl_client: TestApp) -> None:
    response = acl_client.get(
        "/admin/x", headers={"Authorization": basic("bob", BOB_PASSWORD)}, status=403
    )
    assert "WWW-Authenticate" not in response.headers
    assert response.headers["Auth-Token"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.content_type == "application/problem+json"


def test_granted_caller_reaches_the_app(acl_client: TestApp) -> None:
    auth = {"Authorization": basic("alice", ALICE_PASSWORD)}
    assert acl_client.get("/admin/x", headers=auth).json["userid"] == "alice"
    assert acl_client.get("/users/alice/notes", headers=auth).json["userid"] == "alice"
    acl_client.get("/users/bob/notes", headers=auth, status=403)


def test_percent_encoded_userid_in_the_path(users: MemoryUserStore) -> None:
    users.add("jörg", "schön-password-1")
    client = TestApp(AuthMiddleware(echo_app, users=users, acl=RULES))
    auth = {"Authorization": basic("jörg", "schön-password-1")}
    assert client.get("/users/j%C3%B6rg/notes", headers=auth).json["userid"] == "jörg"
    client.get("/users/bob/notes", headers=auth, status=403)


def test_own_endpoints_are_not_under_the_acl(acl_client: TestApp) -> None:
    response = acl_client.post_json(
        "/tokens", {"username": "bob", "password": BOB_PASSWORD}, status=200
    )
    token = response.json["token"]
    acl_client.get("/roles/bob", headers={"Authorization": f"Token {token}"}, status=200)


def test_tokens_off_still_enforces_the_acl(users: MemoryUserStore) -> None:
    client = TestApp(AuthMiddleware(echo_app, users=users, tokens=None, acl=RULES))
    client.get("/admin/x", headers={"Authorization": basic("bob", BOB_PASSWORD)}, status=403)
    client.get("/notes/1", headers={"Authorization": basic("bob", BOB_PASSWORD)}, status=200)


def test_public_paths_still_open_beside_an_acl(users: MemoryUserStore) -> None:
    client = TestApp(AuthMiddleware(echo_app, users=users, public=["/health"], acl=RULES))
    client.get("/health", status=200)
    client.get("/admin", status=401)


def test_denials_are_audited(acl_client: TestApp, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="restauth"):
        acl_client.get(
            "/admin/x", headers={"Authorization": basic("bob", BOB_PASSWORD)}, status=403
        )
    denied = [r for r in caplog.records if "access.denied" in r.getMessage()]
    assert len(denied) == 1
    assert BOB_PASSWORD not in denied[0].getMessage()


@wsgi_only(
    "PEP 3333: PATH_INFO is empty at the mount point; an ASGI path never is (the mount point "
    "is path == root_path: test_asgi_adapter.py::test_an_app_mounted_below_a_root_path)"
)
def test_empty_path_info_is_the_root(users: MemoryUserStore) -> None:
    """An app mounted at its root may get PATH_INFO = "": rules for "/" still apply."""
    app = AuthMiddleware(
        echo_app,
        users=users,
        acl=[{"path": "/", "methods": ["GET"], "roles": ["$unauthenticated"]}],
    )
    client = TestApp(app)
    assert client.get("/", extra_environ={"PATH_INFO": ""}).json["userid"] is None
    public = TestApp(AuthMiddleware(echo_app, users=users, public=["/"]))
    public.get("/", extra_environ={"PATH_INFO": ""}, status=200)
    public.get("/x", status=401)


def test_non_ascii_rule_paths(users: MemoryUserStore) -> None:
    client = TestApp(
        AuthMiddleware(
            echo_app, users=users, acl=[{"path": "/menü/**", "roles": ["$unauthenticated"]}]
        )
    )
    client.get("/men%C3%BC/heute", status=200)
    client.get("/menu/heute", status=401)


class ExplodingRule(ACLRule):
    """A custom rule with a bug: it raises instead of answering."""

    def grants(self, method: str, path: str, identity: Identity | None) -> bool:
        raise KeyError("bug in a custom rule")


@pytest.mark.parametrize("credentials", [None, ("alice", ALICE_PASSWORD)])
def test_a_rule_that_raises_fails_closed_with_503(
    users: MemoryUserStore, caplog: pytest.LogCaptureFixture, credentials: tuple[str, str] | None
) -> None:
    seen: list[str] = []

    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        seen.append("called")
        return echo_app(environ, start_response)  # type: ignore[arg-type]

    rule = ExplodingRule.make("/secret/**", ["user"])
    client = TestApp(AuthMiddleware(app, users=users, acl=[rule]))
    headers = {"Authorization": basic(*credentials)} if credentials else {}
    with caplog.at_level(logging.ERROR, logger="restauth"):
        response = client.get("/secret/x", headers=headers, status=503)
    assert response.headers["Retry-After"]
    assert seen == []  # the app is never called
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("ExplodingRule(path='/secret/**'" in message for message in errors)
    assert not any(ALICE_PASSWORD in r.getMessage() for r in caplog.records)
