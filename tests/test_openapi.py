"""The OpenAPI document (:mod:`restauth.openapi`) against the middleware that serves it.

The document must be valid OpenAPI 3.1, and true: every status it lists for an operation
is produced by a real request here and answered as documented (content type, body schema,
headers); every path restauth answers is documented, and any other method there is 405
with ``Allow`` naming exactly the documented ones; ``restauth openapi`` prints it; and a
bounded, seeded schemathesis run finds no server error and no answer the document does
not describe.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema_rs  # schemathesis's validator
import pytest
import schemathesis  # the test extra: 4.x (openapi.from_dict, GenerationMode)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR
from webtest import TestApp, TestRequest, TestResponse

from restauth import (
    CORS,
    Accounts,
    AuthMiddleware,
    CookieMode,
    MemoryUserStore,
    PasswordHasher,
)
from restauth.cli import main
from restauth.openapi import PROBLEM, openapi
from restauth.options import Options

Json = dict[str, Any]
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

ALICE = ("alice", "correct horse battery")  # an admin
BOB = ("bob", "battery staple horse")
DAVE = ("dave", "horse correct staple")  # owns nothing here: refused everywhere (403)
CAROL = ("carol@example.org", "staple battery correct")  # registered, not yet verified
SLASHED = ("team/ops", "staple battery correct")  # a userid holding '/'
# Users whose userids are what an action path or a session path also spells.
SHADOWS = (
    "team/password",
    "password-reset",
    "password-reset/confirm",
    "verification",
    "verification/confirm",
)
NEW_PASSWORD = "a brand new passphrase"


def basic(userid: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{userid}:{password}".encode()).decode("ascii")


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


# -- the world: a middleware with accounts, and its users -------------------------------


class World:
    """A fresh middleware (memory stores, fast bcrypt, open registration, a notifier that
    keeps the tokens it is given) and its users."""

    def __init__(self, **overrides: Any) -> None:
        self.users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
        self.users.add(*ALICE, roles=["user", "admin"])
        for userid, password in (BOB, DAVE, SLASHED):
            self.users.add(userid, password, roles=["user"])
        self.users.add(*CAROL, email=CAROL[0], verified=False)
        for userid in SHADOWS:
            self.users.add(userid, SLASHED[1], roles=["user"])
        self.sent: list[tuple[str, str, str]] = []
        self._sent = threading.Condition()
        settings: dict[str, Any] = {
            "users": self.users,
            "require_https": False,
            "admin_role": "admin",
            "accounts": Accounts("open", notifier=self.notify),
        }
        settings.update(overrides)
        self.build(settings)

    def build(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.app = AuthMiddleware(echo, **settings)
        self.client = TestApp(self.app)
        self.doc = openapi(self.app.options)

    def rebuild(self, **overrides: Any) -> None:
        """The same users behind a middleware built with other settings."""
        self.build({**self.settings, **overrides})

    def notify(self, userid: str, purpose: str, token: str) -> None:
        with self._sent:
            self.sent.append((userid, purpose, token))
            self._sent.notify_all()

    def one_time_token(self, userid: str, purpose: str) -> str:
        """The token the notifier was given (it runs on the outbox's thread)."""
        deadline = time.monotonic() + 10
        with self._sent:
            while True:
                for sent_to, sent_for, token in self.sent:
                    if (sent_to, sent_for) == (userid, purpose):
                        return token
                left = deadline - time.monotonic()
                assert left > 0, f"no {purpose} token was sent to {userid}"
                self._sent.wait(left)

    def login(self, who: tuple[str, str]) -> Json:
        reply = self.send(Req("POST", "/tokens", auth=who))
        assert reply.status_int == 200, reply.text
        body: Json = reply.json
        return body

    def send(self, req: Req) -> TestResponse:
        request = TestRequest.blank(req.path, method=req.method, environ=dict(req.environ))
        for name, value in req.header_items():
            request.headers[name] = value
        body = req.payload()
        if body is not None:
            request.body = body
            request.content_type = req.content_type
        if req.chunked:  # a chunked body whose end the server does not mark
            request.environ.pop("CONTENT_LENGTH", None)
            request.environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        response: TestResponse = self.client.do_request(request, status=None, expect_errors=True)
        return response

    def break_stores(self) -> None:
        """Every store method raises from now on: the user store, the tokens, the counters."""
        options = self.app.options
        stores = [self.users, options.tokens, options.throttle.store if options.throttle else None]
        for store in filter(None, stores):
            for name in dir(store):
                if not name.startswith("_") and callable(getattr(store, name)):
                    setattr(store, name, _down)


def _down(*args: object, **kwargs: object) -> Any:
    raise RuntimeError("the store is down")


@dataclass(frozen=True)
class Req:
    """One request: ``auth`` is Basic credentials or a whole ``Authorization`` value."""

    method: str
    path: str
    auth: tuple[str, str] | str | None = None
    json: Any = None
    body: bytes | None = None
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    environ: tuple[tuple[str, str], ...] = ()
    chunked: bool = False
    password_of: str | None = None  # whose password a login body holds

    def header_items(self) -> Iterator[tuple[str, str]]:
        if isinstance(self.auth, tuple):
            yield "Authorization", basic(*self.auth)
        elif self.auth is not None:
            yield "Authorization", self.auth
        yield from self.headers

    def payload(self) -> bytes | None:
        if self.json is not None:
            return json.dumps(self.json).encode()
        return self.body

    @property
    def who(self) -> str | None:
        """Whose password this request checks (what the throttle counts)."""
        return self.auth[0] if isinstance(self.auth, tuple) else self.password_of

    def as_(self, who: tuple[str, str] | str | None) -> Req:
        return replace(self, auth=who)


Builder = Callable[[World], Req]


@dataclass(frozen=True)
class Op:
    """How to reach an operation's statuses: ``ok`` succeeds (with ``status``); the others
    are derived from it unless ``specific`` says how."""

    ok: Builder
    status: int
    specific: dict[int, Builder] = field(default_factory=dict)


def _session_of(world: World, who: tuple[str, str]) -> str:
    return str(world.login(who)["session"])


def _reset_token(world: World) -> str:
    assert world.send(_ask_reset(world)).status_int == 202
    return world.one_time_token("bob", "password-reset")


def _ask_reset(world: World) -> Req:
    return Req("POST", "/users/password-reset", json={"username": "bob"})


def _verification_token(world: World) -> str:
    assert world.send(_ask_verification(world)).status_int == 202
    return world.one_time_token(CAROL[0], "verify")


def _ask_verification(world: World) -> Req:
    return Req("POST", "/users/verification", json={"username": CAROL[0]})


def _token_caller(world: World) -> Req:
    token = world.login(BOB)["token"]
    change = {"current_password": BOB[1], "new_password": NEW_PASSWORD}
    return Req("PUT", "/users/bob/password", auth=f"Bearer {token}", json=change)


def _without(world: World, userid: str, req: Req) -> Req:
    assert world.users.remove(userid)
    return req


def _shadow_ops(path: str, userid: str) -> dict[tuple[str, str], Op]:
    """GET, PATCH and DELETE of the user whose userid a path spells (``path`` holds no
    parameter, or ``{userid}`` standing for ``team``)."""
    concrete = path.replace("{userid}", "team")
    missing = {404: lambda w: _without(w, userid, Req("GET", concrete, auth=ALICE))}
    return {
        (path, "get"): Op(lambda w: Req("GET", concrete, auth=ALICE), 200, missing),
        (path, "patch"): Op(
            lambda w: Req("PATCH", concrete, auth=ALICE, json={"roles": ["user", "editor"]}),
            200,
            {
                404: lambda w: _without(
                    w, userid, Req("PATCH", concrete, auth=ALICE, json={"disabled": True})
                )
            },
        ),
        (path, "delete"): Op(
            lambda w: Req("DELETE", concrete, auth=ALICE),
            204,
            {404: lambda w: _without(w, userid, Req("DELETE", concrete, auth=ALICE))},
        ),
    }


LOGIN = {"username": "alice", "password": ALICE[1], "client": "contract test"}


def _login(**changes: Any) -> Req:
    return Req("POST", "/tokens", json={**LOGIN, **changes}, password_of="alice")


def _https_required(world: World) -> Req:
    world.rebuild(require_https=True)
    return replace(_login(), environ=(("wsgi.url_scheme", "http"),))


def _over_http(path: str, body: dict[str, str]) -> Builder:
    """An account request over plain HTTP with ``require_https``: 403 before the body."""

    def build(world: World) -> Req:
        world.rebuild(require_https=True)
        return Req("POST", path, json=body, environ=(("wsgi.url_scheme", "http"),))

    return build


OPS: dict[tuple[str, str], Op] = {
    ("/tokens", "post"): Op(
        lambda w: _login(),
        200,
        {
            400: lambda w: replace(_login(), path="/tokens?renew=maybe"),
            401: lambda w: _login(password="not the password"),
            403: _https_required,
            415: lambda w: Req(
                "POST",
                "/tokens",
                body=b"username=alice&password=x",
                content_type="application/x-www-form-urlencoded; charset=x-no-such-charset",
            ),
            431: lambda w: Req("POST", "/tokens", auth="Basic " + "A" * 9000),
        },
    ),
    ("/tokens/{userid}", "get"): Op(
        lambda w: Req("GET", "/tokens/alice", auth=ALICE),
        200,
        {404: lambda w: Req("GET", "/tokens/nobody", auth=ALICE)},
    ),
    ("/tokens/{userid}", "delete"): Op(
        lambda w: Req("DELETE", "/tokens/alice", auth=ALICE),
        204,
        {404: lambda w: Req("DELETE", "/tokens/nobody", auth=ALICE)},
    ),
    ("/tokens/{userid}/{session}", "get"): Op(
        lambda w: Req("GET", "/tokens/team/ops", auth=SLASHED),
        200,
        {404: lambda w: Req("GET", "/tokens/no/body", auth=ALICE)},
    ),
    ("/tokens/{userid}/{session}", "delete"): Op(
        lambda w: Req("DELETE", f"/tokens/bob/{_session_of(w, BOB)}", auth=BOB),
        204,
        {404: lambda w: Req("DELETE", "/tokens/bob/no-such-session", auth=BOB)},
    ),
    ("/roles/{userid}", "get"): Op(lambda w: Req("GET", "/roles/bob", auth=BOB), 200),
    ("/users", "post"): Op(
        lambda w: Req("POST", "/users", json={"username": "erin", "password": NEW_PASSWORD}),
        201,
        {
            403: lambda w: Req(
                "POST",
                "/users",
                json={"username": "erin", "password": NEW_PASSWORD, "roles": ["admin"]},
            ),
            409: lambda w: Req(
                "POST", "/users", json={"username": "bob", "password": NEW_PASSWORD}
            ),
        },
    ),
    ("/users", "get"): Op(lambda w: Req("GET", "/users?limit=2", auth=ALICE), 200),
    ("/users/{userid}", "get"): Op(
        lambda w: Req("GET", "/users/bob", auth=ALICE),
        200,
        {404: lambda w: Req("GET", "/users/nobody", auth=ALICE)},
    ),
    ("/users/{userid}", "patch"): Op(
        lambda w: Req("PATCH", "/users/bob", auth=ALICE, json={"roles": ["user", "editor"]}),
        200,
        {404: lambda w: Req("PATCH", "/users/nobody", auth=ALICE, json={"disabled": True})},
    ),
    ("/users/{userid}", "delete"): Op(
        lambda w: Req("DELETE", "/users/bob", auth=ALICE),
        204,
        {404: lambda w: Req("DELETE", "/users/nobody", auth=ALICE)},
    ),
    ("/users/{userid}/password", "put"): Op(
        lambda w: Req(
            "PUT",
            "/users/bob/password",
            auth=BOB,
            json={"current_password": BOB[1], "new_password": NEW_PASSWORD},
        ),
        204,
        {200: _token_caller},
    ),
    ("/users/password-reset", "post"): Op(
        _ask_reset, 202, {403: _over_http("/users/password-reset", {"username": "bob"})}
    ),
    ("/users/password-reset/confirm", "post"): Op(
        lambda w: Req(
            "POST",
            "/users/password-reset/confirm",
            json={"token": _reset_token(w), "new_password": NEW_PASSWORD},
        ),
        204,
        {403: _over_http("/users/password-reset/confirm", {"token": "t", "new_password": "n"})},
    ),
    ("/users/verification", "post"): Op(
        _ask_verification, 202, {403: _over_http("/users/verification", {"username": "bob"})}
    ),
    ("/users/verification/confirm", "post"): Op(
        lambda w: Req(
            "POST", "/users/verification/confirm", json={"token": _verification_token(w)}
        ),
        204,
        {403: _over_http("/users/verification/confirm", {"token": "t"})},
    ),
    **_shadow_ops("/users/{userid}/password", "team/password"),
    **{
        key: op
        for action in SHADOWS[1:]
        for key, op in _shadow_ops(f"/users/{action}", action).items()
    },
}


def derive(world: World, key: tuple[str, str], status: int) -> Req:
    """The request that should be answered ``status`` (after any setup it needs)."""
    path, method = key
    if method == "options":
        return _preflight(path, status)
    op = OPS[key]
    if status == op.status:
        return op.ok(world)
    if status in op.specific:
        return op.specific[status](world)
    ok = op.ok(world)
    return _GENERIC[status](world, ok)


def _preflight(path: str, status: int) -> Req:
    concrete = path.replace("{userid}", "bob").replace("{session}", "s")
    headers = (("Access-Control-Request-Method", "GET"),) if status == 204 else ()
    return Req("OPTIONS", concrete, headers=headers)


def _malformed(world: World, ok: Req) -> Req:
    if ok.auth is None and ok.who is None:  # no credentials read: a body missing a field
        return replace(ok, json={})
    return ok.as_("Token !!not-a-token!!")


def _wrong_password(world: World, ok: Req) -> Req:
    return ok.as_((ok.who or "bob", "not the password"))


def _throttled(world: World, ok: Req) -> Req:
    """Past the password throttle (five failures), or the per-address allowance."""
    if ok.who is None:
        for _ in range(10):
            world.send(ok)
        return ok
    for _ in range(5):
        world.send(Req("GET", "/roles/x", auth=(ok.who, "not the password")))
    return ok


def _store_down(world: World, ok: Req) -> Req:
    world.break_stores()
    return ok


_GENERIC: dict[int, Callable[[World, Req], Req]] = {
    400: _malformed,
    401: _wrong_password,
    403: lambda w, ok: ok.as_(DAVE),
    411: lambda w, ok: replace(ok, chunked=True),
    413: lambda w, ok: replace(ok, json=None, body=b'{"x": "' + b"x" * 17_000 + b'"}'),
    415: lambda w, ok: replace(ok, content_type="text/plain"),
    429: _throttled,
    431: lambda w, ok: ok.as_("Basic " + "A" * 9000),
    503: _store_down,
}


# -- reading the document ---------------------------------------------------------------


def resolve(doc: Json, node: Json) -> Json:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def operations(doc: Json) -> Iterator[tuple[str, str, Json]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def triples(doc: Json) -> list[tuple[str, str, int]]:
    return [
        (path, method, int(status))
        for path, method, operation in operations(doc)
        for status in operation["responses"]
    ]


def template_of(doc: Json, path: str) -> str | None:
    """The documented template a client path matches (concrete paths first, as OpenAPI
    matches them); ``None`` for a path the document does not describe."""
    path = path.split("?", 1)[0]
    if path in doc["paths"]:
        return path
    for template in doc["paths"]:
        pattern = re.sub(r"\\\{[a-z]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            return str(template)
    return None


def schema_validator(doc: Json, schema: Json) -> jsonschema_rs.Validator:
    root = {**schema, "components": doc["components"]}
    return jsonschema_rs.validator_for(root, validate_formats=True)


_RESTAUTH_HEADERS = (
    "Auth-Token",
    "Auth-Token-Valid-Until",
    "Auth-Token-Location",
    "Set-Cookie",
    "Location",
    "Retry-After",
    "Allow",
    "WWW-Authenticate",
)


def check_response(doc: Json, path: str, method: str, response: TestResponse) -> None:
    """The answer is one the document describes: status, content, body, headers."""
    operation = doc["paths"][path][method]
    status = str(response.status_int)
    assert status in operation["responses"], f"{method.upper()} {path}: {status} not documented"
    documented = resolve(doc, operation["responses"][status])
    content = documented.get("content", {})
    if not content:
        assert response.body == b"", f"{method.upper()} {path} {status}: a body"
    else:
        media_type = (response.content_type or "").lower()
        assert media_type in content, f"{method.upper()} {path} {status}: {media_type}"
        body = json.loads(response.body)
        errors = list(schema_validator(doc, content[media_type]["schema"]).iter_errors(body))
        assert not errors, f"{method.upper()} {path} {status}: {errors[0]} in {body}"
    _check_headers(
        doc, f"{method.upper()} {path} {status}", documented.get("headers", {}), response
    )


def _check_headers(doc: Json, where: str, headers: Json, response: TestResponse) -> None:
    for name, header in headers.items():
        header = resolve(doc, header)
        value = response.headers.get(name)
        if value is None:
            assert not header.get("required"), f"{where}: no {name}"
            continue
        schema = header["schema"]
        coerced: Any = int(value) if schema.get("type") == "integer" else value
        assert schema_validator(doc, schema).is_valid(coerced), f"{where}: {name}: {value!r}"
    for name in _RESTAUTH_HEADERS:
        if name in response.headers:
            assert name in headers, f"{where}: {name} is sent but not documented"


# -- (a) the document is OpenAPI 3.1 ----------------------------------------------------


def _configurations() -> dict[str, dict[str, Any]]:
    notifier = {"notifier": lambda userid, purpose, token: None}
    return {
        "defaults": {},
        "accounts": {"admin_role": "admin", "accounts": Accounts("open", **notifier)},
        "verify": {"accounts": Accounts("verify", path="/api/users", **notifier)},
        "admin-only": {"admin_role": "staff", "accounts": Accounts("admin"), "throttle": None},
        "tokens off": {"tokens": None, "accounts": Accounts("off"), "challenge": False},
        "cookie": {"cookie": True, "tokens_path": "/api/login", "roles_path": "/api/roles"},
        "query token, cors": {
            "query_token": "access_token",
            "cors": CORS(origins=["https://app.example"]),
        },
    }


def _options(**settings: Any) -> Options:
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    return Options.build(users=users, **settings)


@pytest.mark.parametrize("name", list(_configurations()))
def test_the_document_is_valid_openapi_3_1(name: str) -> None:
    doc = openapi(_options(**_configurations()[name]))
    errors = [str(error) for error in OPENAPI_31_VALIDATOR.iter_errors(doc)]
    assert not errors
    assert json.loads(json.dumps(doc)) == doc  # plain JSON: no tuples, no sets
    for schema in _schemas(doc):
        assert jsonschema_rs.meta.is_valid(schema), schema
    _check_references(doc, doc)
    ids = [operation["operationId"] for _, _, operation in operations(doc)]
    assert len(ids) == len(set(ids))
    declared = {tag["name"] for tag in doc["tags"]}
    for path, method, operation in operations(doc):
        assert set(operation["tags"]) <= declared
        declared_here = _path_parameters(
            doc,
            {
                **operation,
                "parameters": [
                    *doc["paths"][path].get("parameters", []),
                    *operation.get("parameters", []),
                ],
            },
        )
        assert set(re.findall(r"\{(\w+)\}", path)) == declared_here, path
        for status, response in operation["responses"].items():
            assert 200 <= int(status) <= 599
            assert resolve(doc, response)["description"]
            problem = resolve(doc, response).get("content", {}).get(PROBLEM)
            assert (problem is not None) == (int(status) >= 400), (method, path, status)


def _schemas(doc: Json) -> Iterator[Json]:
    yield from doc["components"]["schemas"].values()
    for header in doc["components"]["headers"].values():
        yield header["schema"]
    for parameter in doc["components"]["parameters"].values():
        yield parameter["schema"]


def _check_references(doc: Json, node: Any) -> None:
    if isinstance(node, dict):
        if "$ref" in node:
            assert resolve(doc, node) is not None
        for value in node.values():
            _check_references(doc, value)
    elif isinstance(node, list):
        for value in node:
            _check_references(doc, value)


def _path_parameters(doc: Json, operation: Json) -> set[str]:
    parameters = (resolve(doc, p) for p in operation.get("parameters", []))
    return {p["name"] for p in parameters if p["in"] == "path"}


def test_only_what_is_enabled_is_described() -> None:
    configurations = _configurations()
    plain = openapi(_options())
    assert set(plain["paths"]) == {"/tokens", "/tokens/{userid}", "/tokens/{userid}/{session}",
                                   "/roles/{userid}"}  # fmt: skip
    assert set(plain["components"]["securitySchemes"]) == {"basic", "bearer", "token"}
    off = openapi(_options(**configurations["tokens off"]))
    assert not any(path.startswith("/tokens") for path in off["paths"])
    assert set(off["components"]["securitySchemes"]) == {"basic"}
    assert "/users/password-reset" not in off["paths"]  # no notifier: no reset
    assert "/users/verification/confirm" not in off["paths"]  # nor verification
    assert "Auth-Token" not in json.dumps(off)
    assert not any(
        "WWW-Authenticate" in r["headers"] for r in off["components"]["responses"].values()
    )
    verify = openapi(_options(**configurations["verify"]))
    assert "/api/users/password-reset" in verify["paths"]
    assert "/users" not in verify["paths"]
    register = verify["paths"]["/api/users"]["post"]
    assert "verif" in register["description"]
    assert {} in register["security"]
    admin_only = openapi(_options(**configurations["admin-only"]))["paths"]["/users"]["post"]
    assert "security" not in admin_only
    assert "429" not in admin_only["responses"]
    cookie = openapi(_options(**configurations["cookie"]))
    assert "/api/login" in cookie["paths"]
    assert "/api/roles/{userid}" in cookie["paths"]
    assert cookie["components"]["securitySchemes"]["cookie"]["name"] == "__Host-restauth"
    assert "token" not in cookie["components"]["schemas"]["Grant"]["properties"]
    query = openapi(_options(**configurations["query token, cors"]))
    assert query["components"]["securitySchemes"]["queryToken"]["name"] == "access_token"


# -- (b) every documented status, produced and answered as documented -------------------

_MAIN = World().doc


def test_every_operation_has_a_way_to_reach_it() -> None:
    documented = {(path, method) for path, method, _ in operations(_MAIN) if method != "options"}
    assert documented == set(OPS)


@pytest.mark.parametrize(("path", "method", "status"), triples(_MAIN))
def test_every_documented_status_is_produced_as_documented(
    path: str, method: str, status: int
) -> None:
    world = World()
    req = derive(world, (path, method), status)
    response = world.send(req)
    assert response.status_int == status, f"{req}: {response.status} {response.text}"
    assert template_of(world.doc, req.path) == path
    check_response(world.doc, path, method, response)
    if status >= 400:
        assert response.json["status"] == status


def _example(path: str) -> str:
    return path.replace("{userid}", "bob").replace("{session}", "s1")


@pytest.mark.parametrize("path", list(_MAIN["paths"]))
def test_other_methods_are_405_with_the_documented_allow(path: str) -> None:
    world = World()
    documented = {m.upper() for m in world.doc["paths"][path] if m in METHODS and m != "options"}
    assert set(world.app.pipeline.endpoints.methods(unquote(_example(path)))) == documented
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"):
        response = world.send(Req(method, _example(path), auth=DAVE))
        if method in documented or method == "OPTIONS":  # a plain OPTIONS: the 405 there
            check_response(world.doc, path, method.lower(), response)
            assert response.status_int != 405 or method == "OPTIONS"
            continue
        assert response.status_int == 405, (method, path)
        assert set(response.headers["Allow"].split(", ")) == documented
        if method != "HEAD":
            assert response.json["status"] == 405


CLIENT_PATHS = [
    "/tokens",
    "/tokens/alice",
    "/tokens/alice/s1",
    "/tokens/team%2Fops",
    "/tokensx",
    "/tokens-and-more/alice",
    "/roles",
    "/roles/alice",
    "/roles/team%2Fops",
    "/rolesx/alice",
    "/users",
    "/usersx",
    "/users/bob",
    "/users/bob/password",
    "/users/password-reset",
    "/users/password-reset/confirm",
    "/users/verification",
    "/users/verification/confirm",
    "/users/team%2Fpassword",
    "/health",
    "/",
]


@pytest.mark.parametrize("client_path", CLIENT_PATHS)
def test_restauth_answers_exactly_the_documented_paths(client_path: str) -> None:
    """A path the client sends (a '/' inside a userid as %2F) is restauth's to answer
    exactly when it matches a documented template; the rest reach the application."""
    world = World()
    owned = world.app.pipeline.endpoints.owns(unquote(client_path))
    assert owned == (template_of(world.doc, client_path) is not None)
    response = world.send(Req("GET", client_path, auth=BOB))
    assert (response.text == "ok") == (not owned)


def test_disabled_actions_are_user_resources_like_any_other() -> None:
    """Without a notifier the reset and verification requests are not described, and not
    served: their names are userids like any other, so a POST there is 405 with the
    ``Allow`` of the user template the document describes."""
    world = World(accounts=Accounts("open"))
    assert "/users/password-reset" not in world.doc["paths"]
    for path in ("/users/password-reset", "/users/verification", "/users/verification/confirm"):
        response = world.send(Req("POST", path, json={"username": "bob"}))
        assert response.status_int == 405
        assert response.headers["Allow"] == "GET, PATCH, DELETE"
        assert response.content_type == PROBLEM


# -- other configurations: the main answers, as documented ------------------------------


def test_cookie_mode_login_and_logout_are_as_documented() -> None:
    world = World(cookie=CookieMode(secure=False, name="session"))
    csrf = (("X-Requested-With", "test"),)
    login = world.send(Req("POST", "/tokens", json=LOGIN, headers=csrf))
    assert login.status_int == 200
    assert "token" not in login.json
    check_response(world.doc, "/tokens", "post", login)
    refused = world.send(Req("POST", "/tokens", json=LOGIN))
    assert refused.status_int == 403
    check_response(world.doc, "/tokens", "post", refused)
    logout = world.send(Req("DELETE", "/tokens/alice", headers=csrf))
    assert logout.status_int == 204
    assert "Max-Age=0" in logout.headers["Set-Cookie"]
    check_response(world.doc, "/tokens/{userid}", "delete", logout)


def test_tokens_off_answers_are_as_documented() -> None:
    world = World(tokens=None, accounts=Accounts("admin"))
    for req, path, method in [
        (Req("GET", "/roles/bob", auth=BOB), "/roles/{userid}", "get"),
        (Req("GET", "/users/bob", auth=BOB), "/users/{userid}", "get"),
        (Req("POST", "/users", json={"username": "x", "password": NEW_PASSWORD}), "/users", "post"),
        (Req("PUT", "/users/bob/password", auth=BOB,
             json={"current_password": BOB[1], "new_password": NEW_PASSWORD}),
         "/users/{userid}/password", "put"),
    ]:  # fmt: skip
        response = world.send(req)
        assert response.status_int < 500
        check_response(world.doc, path, method, response)
    assert world.send(Req("POST", "/tokens", auth=DAVE)).text == "ok"  # the app's path now


def test_verify_mode_cors_and_query_token_answers_are_as_documented() -> None:
    world = World(
        accounts=Accounts("verify", notifier=lambda userid, purpose, token: None),
        cors=CORS(origins=["https://app.example"]),
        query_token="access_token",
    )
    origin = (("Origin", "https://app.example"),)
    registered = world.send(
        Req("POST", "/users", json={"username": "erin@example.org", "password": NEW_PASSWORD})
    )
    assert registered.status_int == 201
    assert registered.json["verified"] is False
    check_response(world.doc, "/users", "post", registered)
    no_email = world.send(
        Req("POST", "/users", json={"username": "erin", "password": NEW_PASSWORD})
    )
    assert no_email.status_int == 400
    check_response(world.doc, "/users", "post", no_email)
    preflight = Req(
        "OPTIONS", "/tokens", headers=(*origin, ("Access-Control-Request-Method", "POST"))
    )
    answer = world.send(preflight)
    assert answer.status_int == 204
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example"
    check_response(world.doc, "/tokens", "options", answer)
    token = world.login(BOB)["token"]
    roles = world.send(Req("GET", f"/roles/bob?access_token={token}", headers=origin))
    assert roles.status_int == 200
    check_response(world.doc, "/roles/{userid}", "get", roles)
    assert "queryToken" in world.doc["components"]["securitySchemes"]


# -- (c) restauth openapi ---------------------------------------------------------------


def _printed(argv: list[str]) -> Json:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(argv) == 0
    text = out.getvalue()
    assert text.startswith("{\n  ")  # indent 2
    printed: Json = json.loads(text)
    return printed


def test_the_command_prints_the_default_document(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESTAUTH_CONFIG", raising=False)
    assert _printed(["openapi"]) == openapi(_options())


def test_the_command_prints_the_configured_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "restauth.toml"
    config.write_text(
        "[restauth]\nrealm = 'example'\ntokens_path = '/api/tokens'\nroles_path = '/api/roles'\n"
        "admin_role = 'admin'\nquery_token = 'access_token'\n"
        "[users]\nkind = 'sqlite'\npath = 'never-opened.db'\n"
        "[tokens]\nkind = 'memory'\n",
        encoding="utf-8",
    )
    expected = openapi(
        _options(realm="example", tokens_path="/api/tokens", roles_path="/api/roles",
                 admin_role="admin", query_token="access_token")
    )  # fmt: skip
    assert _printed(["openapi", "--config", str(config)]) == expected
    monkeypatch.setenv("RESTAUTH_CONFIG", str(config))
    assert _printed(["openapi"]) == expected
    assert not (tmp_path / "never-opened.db").exists()  # no store is opened to describe it
    off = tmp_path / "off.toml"
    off.write_text("[users]\nkind = 'memory'\n[tokens]\nkind = 'none'\n", encoding="utf-8")
    assert _printed(["openapi", "--config", str(off)]) == openapi(_options(tokens=None))


# -- (d) schemathesis against the running middleware -------------------------------------


def test_schemathesis_finds_nothing_the_document_does_not_describe() -> None:
    """A bounded, seeded run over every operation, positive and negative data, as three
    callers and none: no 5xx, and every answer as documented."""
    schema = schemathesis.openapi.from_dict(World().doc)
    failures: list[str] = []
    runs = 0
    for result in schema.get_all_operations():
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            runs += _fuzz(result.ok(), mode, failures)
    assert not failures, "\n\n".join(failures[:5])
    assert runs > 1000


def _fuzz(operation: Any, mode: GenerationMode, failures: list[str]) -> int:
    """Up to 25 seeded examples of one operation (also at the callers' own userids), each
    against a fresh middleware; what schemathesis finds is added to ``failures``."""
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    callers = [{}, *({"Authorization": basic(*who)} for who in (ALICE, BOB, DAVE))]
    world = World()  # each operation and mode on its own: the order cannot matter
    cases = [operation.as_strategy(generation_mode=mode)]
    if "{userid}" in operation.path:  # also the callers' own, where more than 403 is
        cases += [
            operation.as_strategy(generation_mode=mode, path_parameters={"userid": own})
            for own in ("bob", "dave")
        ]
    runs = 0
    found = len(failures)

    @settings(
        max_examples=25,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(cases), caller=st.sampled_from(callers))
    def run(case: Any, caller: dict[str, str]) -> None:
        nonlocal runs
        runs += 1
        response = case.call(app=world.app, headers=caller)
        try:
            case.validate_response(response, checks=checks, headers=caller)
        except Exception as error:
            failures.append(f"{operation.label} [{mode.value}]: {error}")
            raise

    try:
        run()
    except Exception:
        if len(failures) == found:  # not a finding: schemathesis or hypothesis failed
            raise
    return runs


def test_account_endpoints_over_plain_http_are_the_documented_403() -> None:
    """With ``require_https`` every account endpoint refuses plain HTTP, as documented."""
    world = World(require_https=True)
    for action, body in (
        ("password-reset", {"username": "bob"}),
        ("password-reset/confirm", {"token": "t", "new_password": "n"}),
        ("verification", {"username": "bob"}),
        ("verification/confirm", {"token": "t"}),
    ):
        path = f"/users/{action}"
        assert "403" in world.doc["paths"][path]["post"]["responses"]
        response = world.send(Req("POST", path, json=body, environ=(("wsgi.url_scheme", "http"),)))
        assert response.status_int == 403
        check_response(world.doc, path, "post", response)
