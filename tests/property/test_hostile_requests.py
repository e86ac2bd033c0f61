"""Properties of every answer to a hostile request, for every token store.

Whatever a client sends: never a 5xx (the stores are up), never an identity without a
valid credential, never an anonymous request past a protected path, never a CR, LF or
NUL in a response header, and never a password, a token or a Basic credential where it
does not belong: in a body (except the login's own token), a header (except
``Auth-Token`` and ``Set-Cookie``) or any log record of the ``restauth`` loggers.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote_plus

from hypothesis import given
from hypothesis import strategies as st

from restauth.middleware import EnvironRequest
from restauth.wire.cookies import CookieMode
from restauth.wire.credentials import BasicCredentials, TokenCredentials, parse_authorization

from .conftest import Records, Target
from .strategies import (
    ALLOWED_ORIGIN,
    MARKER,
    QUERY_TOKEN,
    USERS,
    HostileRequest,
    World,
    requests,
)

Response = tuple[str, list[tuple[str, str]], bytes]


def call(target: Target, request: HostileRequest) -> tuple[Response, Any, bool]:
    """The response, the identity the app saw (if it was called) and whether it was."""
    target.calls.identity.clear()
    target.calls.query.clear()
    seen: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        seen.append((status, headers))

    chunks: Iterable[bytes] = target.middleware(request.environ(), start_response)
    body = b"".join(chunks)
    status, headers = seen[-1]
    called = bool(target.calls.identity)
    return (status, headers, body), (target.calls.identity[0] if called else None), called


def owners(target: Target, request: HostileRequest) -> set[str]:
    """Users for whom the request carries a valid credential, by any channel restauth reads.

    Deliberately generous (a body that merely contains a password counts): the property
    is that nobody *else* is ever let in.
    """
    world, found = target.world, set()
    by_token = {token: userid for userid, token in world.tokens.items()}
    parsed = parse_authorization(request.headers.get("Authorization"))
    if (
        isinstance(parsed, BasicCredentials)
        and parsed.userid in USERS
        and parsed.password in (USERS[parsed.userid], world.tokens.get(parsed.userid))
    ):
        found.add(parsed.userid)
    if isinstance(parsed, TokenCredentials) and parsed.token in by_token:
        found.add(by_token[parsed.token])
    if target.query_mode:
        for name, value in parse_qsl(request.query, keep_blank_values=True):
            if name == QUERY_TOKEN and value in by_token:
                found.add(by_token[value])
    if target.cookie_mode:
        cookie = CookieMode().read(EnvironRequest(request.environ()))
        if cookie in by_token:
            found.add(by_token[cookie])
    for userid, password in USERS.items():
        forms = (json.dumps(password)[1:-1], quote_plus(password))
        if any(form.encode() in request.body for form in forms):
            found.add(userid)
    return found


def anonymous_may_pass(request: HostileRequest) -> bool:
    """A public path in canonical form, or a CORS preflight."""
    path = request.path
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return True
    canonical = not ("//" in path or ";" in path or "\\" in path) and not any(
        segment in (".", "..") for segment in path.split("/")
    )
    return canonical and (path == "/health" or path == "/static" or path.startswith("/static/"))


def carried_secrets(request: HostileRequest) -> list[str]:
    """The request's own Basic credential, and any password it carries that is a guess.

    A password counts when it holds :data:`MARKER` (every guess does, no userid does);
    a near miss of a valid header may decode to a userid holding part of a password,
    which is logged as the userid it is: only a whole password is a secret.
    """
    found = []
    value = request.headers.get("Authorization") or ""
    scheme, _, rest = value.strip(" ").partition(" ")
    rest = rest.strip(" ")
    if scheme.lower() == "basic" and len(rest) >= 12:
        found.append(rest)
        with contextlib.suppress(ValueError):
            found.append(base64.b64decode(rest, validate=True).decode().partition(":")[2])
    try:
        data = json.loads(request.body)
        found.append(data["password"])
    except (ValueError, TypeError, KeyError, RecursionError):
        pass
    for name, password in parse_qsl(request.body.decode("latin-1")):
        if name == "password":
            found.append(password)
    return [s for s in found if isinstance(s, str) and (MARKER in s or s == rest)]


def check_headers(headers: list[tuple[str, str]]) -> None:
    for name, value in headers:
        assert isinstance(name, str)
        assert isinstance(value, str)
        for forbidden in ("\r", "\n", "\x00"):
            assert forbidden not in name, (name, value)
            assert forbidden not in value, (name, value)
        value.encode("latin-1")  # PEP 3333: a header a server can write


def check_secrets(
    target: Target, request: HostileRequest, response: Response, logs: list[str]
) -> None:
    status, headers, body = response
    world: World = target.world
    text = body.decode("latin-1")
    tokens = list(world.tokens.values())
    login_ok = request.path == "/tokens" and status.startswith("200")
    token_in_body_allowed = login_ok and not target.cookie_mode
    never = [*world.secrets()[: 2 * len(USERS)], *carried_secrets(request)]
    for secret in never:
        assert secret not in text, (secret, status)
        for name, value in headers:
            assert secret not in value, (secret, name)
        for record in logs:
            assert secret not in record, (secret, record)
    for token in tokens:
        mac = token.partition(".")[2]
        for record in logs:
            assert token not in record, record
            assert mac not in record, record
        if not token_in_body_allowed:
            assert mac not in text, status
        for name, value in headers:
            if mac in value:
                assert name in ("Auth-Token", "Set-Cookie"), name
                if target.cookie_mode:
                    assert name == "Set-Cookie"  # ASVS 5.0 3.3.4


def preflight(request: HostileRequest) -> bool:
    return request.method == "OPTIONS" and any(
        name.lower() == "access-control-request-method" for name in request.headers
    )


def check_cors(request: HostileRequest, headers: list[tuple[str, str]]) -> None:
    """Only the listed origin, exactly as sent, is ever allowed; once; every answer varies
    on Origin."""
    allow = [v for n, v in headers if n.lower() == "access-control-allow-origin"]
    origin = request.headers.get("Origin")
    assert allow in ([], [ALLOWED_ORIGIN]), allow
    if allow:
        assert origin == ALLOWED_ORIGIN, (origin, allow)
    vary = ",".join(v for n, v in headers if n.lower() == "vary").lower()
    assert "origin" in vary, headers
    assert sum(1 for n, _ in headers if n.lower() == "vary") == 1, headers


def check_response(target: Target, request: HostileRequest, logs: Records) -> None:
    before = len(logs.texts)
    response, identity, called = call(target, request)
    status, headers, body = response
    code = int(status[:3])
    assert 200 <= code < 500, (status, body)
    check_headers(headers)
    names = {name.lower(): value for name, value in headers}
    if target.middleware.cors is not None:
        check_cors(request, headers)
    if code in (429, 503):
        assert "retry-after" in names
    macs = [token.partition(".")[2] for token in target.world.tokens.values()]
    sets_token = any(n == "Set-Cookie" and any(m in v for m in macs) for n, v in headers)
    if "auth-token" in names or sets_token or (request.path == "/tokens" and code == 200):
        assert names.get("cache-control") == "no-store"  # token-bearing (RFC 6749 §5.1)
        assert names.get("pragma") == "no-cache"
    if called and target.query_mode:  # the app (and its access log) never sees the token
        seen = parse_qsl(target.calls.query[0], keep_blank_values=True)
        assert QUERY_TOKEN not in [name for name, _ in seen], target.calls.query
    valid_for = owners(target, request)
    if called and identity is not None:
        assert identity.userid in valid_for, (identity, request)
        if target.cookie_mode:  # a shared cache must key on the cookie
            vary = ",".join(v for n, v in headers if n.lower() == "vary").lower()
            assert "cookie" in vary, headers
    elif called:
        assert anonymous_may_pass(request), request
    elif preflight(request) and code == 204:  # a preflight is answered, never challenged
        assert body == b"", body
        assert "auth-token" not in names
    elif 200 <= code < 300:
        assert valid_for, (status, request)
    check_secrets(target, request, response, logs.texts[before:])


@given(data=st.data())
def test_hostile_requests(targets: list[Target], log_records: Records, data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(targets), label="target")
    target.refresh()
    request = data.draw(requests(target.world), label="request")
    check_response(target, request, log_records)


@given(data=st.data())
def test_hostile_logins(targets: list[Target], log_records: Records, data: st.DataObject) -> None:
    """Several requests in a row, each seeing what the last left behind (throttle counters,
    a revoked token, a renewed one), as a brute-force run would."""
    target = data.draw(st.sampled_from(targets), label="target")
    target.refresh()
    for request in data.draw(st.lists(requests(target.world), min_size=2, max_size=5)):
        check_response(target, request, log_records)
