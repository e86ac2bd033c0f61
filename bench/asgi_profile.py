"""Where restauth.asgi's time goes, beside the WSGI adapter: ``python bench/asgi_profile.py``.

Three tables, printed as markdown (interleaved rounds, as in harness.py; medians):

1. **The parts of one inline request** (``Token``, memory stores), each timed alone and
   beside the WSGI adapter's part doing the same job. The coroutines are driven by hand
   (``coro.send(None)``: nothing in the inline path suspends), so no event loop is timed.
2. **Sketches** of cheaper ways to do the ASGI parts, written here against restauth's
   internals (not restauth's code; what-ifs that size the suggestions), and a whole
   middleware with all of them (:class:`Sketch`): what the inline rows could cost.
3. **The worker-thread path**, on the event loop of asgi_scenarios.py: the bare
   ``anyio.to_thread.run_sync`` round trip, and the Basic (cached) and SQLite rows decided
   in a thread and, as a what-if, inline.

``--rounds N`` (default 21). The cProfile view of one row is ``python bench/run.py
--profile 'restauth.asgi Token'`` (or ``--profile Token`` for the WSGI adapter).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import os
import sys
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import anyio  # noqa: E402
import anyio.to_thread  # noqa: E402
import asgi_scenarios as asgi  # noqa: E402
import harness  # noqa: E402
import restauth_scenarios as wsgi  # noqa: E402

from restauth import AuthMiddleware as WSGIMiddleware  # noqa: E402
from restauth import MemoryTokenManager  # noqa: E402
from restauth.asgi import AuthMiddleware, ScopeRequest, messages, spec  # noqa: E402  # noqa: E402
from restauth.asgi import scope as asgi_scope  # noqa: E402
from restauth.middleware import EnvironRequest  # noqa: E402
from restauth.middleware import _merging as wsgi_merging  # noqa: E402
from restauth.pipeline import Admit  # noqa: E402
from restauth.wire.request import HeaderSet  # noqa: E402
from restauth.wire.responses import Reply  # noqa: E402
from restauth.wire.token_headers import EXPOSE_TOKEN_HEADERS, NO_STORE  # noqa: E402

Message = dict[str, Any]


def drive(coroutine: Any) -> None:
    """Run a coroutine that never suspends, without an event loop."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise RuntimeError("the coroutine suspended: not an inline path")


def _start_message() -> Message:
    """What the bare ASGI app sends first (built per request, as it does)."""
    return {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain"), (b"content-length", b"20")],
    }


# -- sketches: cheaper ways to do the ASGI adapter's parts ------------------------------


class LazyScopeRequest(ScopeRequest):
    """Headers looked up in the raw list when asked for, no dict of them all: ASGI servers
    give header names in lower case (Starlette's ``Headers`` relies on it too). The
    pipeline asks for one or two names per request (``authorization``, then the
    forwarded-proto set once), the adapter for ``authorization`` again."""

    __slots__ = ("_authorization",)
    _MISSING = object()

    def __init__(self, scope: spec.Scope) -> None:
        super().__init__(scope)
        self._authorization: Any = self._MISSING

    def header(self, name: str) -> str | None:
        if name == "authorization":
            found = self._authorization
            if found is self._MISSING:
                found = self._authorization = self._scan(b"authorization")
            return found  # type: ignore[no-any-return]
        if name == "host":
            return super().header(name)
        return self._scan(name.encode("latin-1"))

    def _scan(self, wanted: bytes) -> str | None:
        values = [v for k, v in self.scope.get("headers") or () if k == wanted]
        if not values:
            return None
        return b",".join(values).decode("latin-1")

    def has_header(self, name: str) -> bool:
        wanted = name.encode("latin-1")
        return any(k == wanted for k, _ in self.scope.get("headers") or ())

    def has_any_header(self, names: HeaderSet) -> bool:
        wanted = _raw_names(names)
        return any(k in wanted for k, _ in self.scope.get("headers") or ())


_RAW_NAMES: dict[HeaderSet, frozenset[bytes]] = {}


def _raw_names(names: HeaderSet) -> frozenset[bytes]:
    found = _RAW_NAMES.get(names)
    if found is None:
        found = _RAW_NAMES[names] = frozenset(n.encode("latin-1") for n in names.names)
    return found


_REPLACED = frozenset(
    {b"auth-token", b"auth-token-valid-until", b"auth-token-location", b"cache-control", b"pragma"}
)
_EXPOSE = b"access-control-expose-headers"
_OUR_NAMES = (b"auth-token", b"auth-token-valid-until", b"auth-token-location")
_TAIL = [
    (EXPOSE_TOKEN_HEADERS[0].lower().encode(), EXPOSE_TOKEN_HEADERS[1].encode()),
    *((name.lower().encode(), value.encode()) for name, value in NO_STORE),
]


def raw_token_headers(app_headers: Any, ours: list[tuple[str, str]]) -> list[Any] | None:
    """:func:`~restauth.wire.token_headers.merge_token_headers` in bytes, for the common
    case (no expose list of the app's own: ``None``, the text path takes it)."""
    merged = []
    for name, value in app_headers:
        lower = name.lower()
        if lower in _REPLACED:
            continue
        if lower == _EXPOSE:
            return None
        merged.append((name, value))
    merged += zip(_OUR_NAMES, [value.encode("latin-1") for _, value in ours], strict=True)
    merged += _TAIL
    return merged


def bytes_merging(send: spec.Send, decision: Admit) -> spec.Send:
    """``_merging`` that stays in bytes for the token headers alone (the common case)."""
    plain = decision.token_headers is not None and not (
        decision.private or decision.no_referrer or decision.cors
    )

    async def sending(message: spec.Message) -> None:
        if message["type"] == "http.response.start":
            app_headers = message.get("headers") or ()
            merged = None
            if plain:
                merged = raw_token_headers(app_headers, decision.token_headers)  # type: ignore[arg-type]
            if merged is None:
                merged = messages.raw_headers(decision.headers(messages._text(app_headers)))
            message = dict(message)
            message["headers"] = merged
        await send(message)

    return sending


class _Roles:
    """``scope["auth"]`` with ``scopes`` sorted when read, not per request."""

    __slots__ = ("_roles",)

    def __init__(self, roles: frozenset[str]) -> None:
        self._roles = roles

    @property
    def scopes(self) -> list[str]:
        return sorted(self._roles)


def lean_for_app(scope: spec.Scope, decision: Admit) -> spec.Scope:
    """``_for_app`` with the roles sorted lazily (the copy of the scope stays: the spec)."""
    scope = dict(scope)
    identity = decision.identity
    if identity is None:
        scope.pop("restauth.identity", None)
        scope["user"], scope["auth"] = asgi_scope._ANONYMOUS, asgi_scope._NO_ROLES
    else:
        scope["restauth.identity"] = identity
        user = asgi_scope.AuthenticatedUser(identity)
        scope["user"], scope["auth"] = user, _Roles(identity.roles)
    if decision.query is not None:
        scope["query_string"] = decision.query.encode("latin-1")
    return scope


_RAW_REPLIES: dict[int, tuple[Reply, Message, Message]] = {}


async def cached_reply(send: spec.Send, reply: Reply) -> None:
    """``_send_reply`` with the two messages of a constant reply (the challenges) built once:
    the server does not keep them (uvicorn only reads them)."""
    found = _RAW_REPLIES.get(id(reply))
    if found is None or found[0] is not reply:
        start = {
            "type": "http.response.start",
            "status": int(reply.status[:3]),
            "headers": messages.raw_headers(reply.headers),
        }
        found = _RAW_REPLIES[id(reply)] = (
            reply,
            start,
            {"type": "http.response.body", "body": reply.body},
        )
    await send(found[1])
    await send(found[2])


class Sketch(AuthMiddleware):
    """restauth.asgi's HTTP path with every sketch above, and the inline decision called
    directly (one coroutine less): what the inline rows could cost."""

    async def _http(self, scope: spec.Scope, receive: spec.Receive, send: Any) -> None:
        request = LazyScopeRequest(scope)
        ours = self._owns(request.path)
        if ours:  # restauth's own endpoints: as restauth does it (not what is measured)
            await super()._http(scope, receive, send)
            return
        decision = self._inline(request) if self._in_process else None
        if decision is None:
            decision = await self._decide(request, ours)
        if isinstance(decision, Reply):
            await cached_reply(send, decision)
            return
        scope = lean_for_app(scope, decision)
        if decision.token_headers is None and not (
            decision.private or decision.no_referrer or decision.cors
        ):
            await self.app(scope, receive, send)
        else:
            await self.app(scope, receive, bytes_merging(send, decision))


class Executor(AuthMiddleware):
    """Decisions that may block in a plain ``loop.run_in_executor`` (what-if: a cheaper hop
    than anyio's ``to_thread``, which also takes a CancelScope and a capacity token)."""

    pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="sketch")

    async def _decide(self, request: ScopeRequest, ours: bool) -> Any:
        loop = asyncio.get_running_loop()  # (the inherited _http tried inline first)
        return await loop.run_in_executor(self.pool, self.pipeline.decide, request)


class Inline(AuthMiddleware):
    """Every decision on the event loop (what-if: the thread hop's share of a threaded row;
    a store that waits would stall the loop)."""

    async def _decide(self, request: ScopeRequest, ours: bool) -> Any:
        return self.pipeline.decide(request)


# -- the measurements --------------------------------------------------------------------


def _alone(name: str, call: Callable[[], object]) -> harness.Scenario:
    return harness.Scenario(name, call, name)  # its own baseline: only its median is read


def parts(users: Any, headers: list[tuple[bytes, bytes]], label: str) -> list[harness.Scenario]:
    """Table 1 and 2's rows for one request shape."""
    tokens = MemoryTokenManager(secret_key=wsgi.SECRET_KEY)
    middleware = AuthMiddleware(asgi.bare_asgi_app, users=users, tokens=tokens, realm="bench")
    sketch = Sketch(asgi.bare_asgi_app, users=users, tokens=tokens, realm="bench")
    classic = WSGIMiddleware(harness.bare_app, users=users, tokens=tokens, realm="bench")
    token = tokens.issue(wsgi.USERID, users.get(wsgi.USERID).stamp).token
    scope = asgi.base_scope(*headers, (b"authorization", f"Token {token}".encode()))
    anonymous = asgi.base_scope(*headers)
    environ = harness.base_environ(HTTP_AUTHORIZATION=f"Token {token}")
    pipeline = middleware.pipeline
    decision = pipeline.decide(ScopeRequest(scope))
    assert isinstance(decision, Admit)
    assert decision.token_headers is not None
    reply = pipeline.decide(ScopeRequest(anonymous))
    assert isinstance(reply, Reply)
    request = ScopeRequest(scope)
    request.header("host")
    receive, drop = asgi._receive, asgi._drop
    plain_headers = [("Content-Type", "text/plain"), ("Content-Length", "20")]

    def whole(app: Any, the_scope: spec.Scope) -> Callable[[], None]:
        return lambda: drive(app(the_scope.copy(), receive, drop))

    def merge(make: Callable[[Any, Admit], Any]) -> Callable[[], None]:
        return lambda: drive(make(drop, decision)(_start_message()))

    rows = {
        "ASGI bare app": whole(asgi.bare_asgi_app, scope),
        "ASGI Token, whole request": whole(middleware, scope),
        "ASGI Token, whole request (sketch)": whole(sketch, scope),
        "ASGI 401, whole request": whole(middleware, anonymous),
        "ASGI floor, whole request": whole(asgi.Floor(asgi.bare_asgi_app), scope),
        "ASGI 401, whole request (sketch)": whole(sketch, anonymous),
        "WSGI bare app": harness.requester(harness.bare_app, environ),
        "WSGI Token, whole request": harness.requester(classic, environ),
        "WSGI 401, whole request": harness.requester(classic, harness.base_environ()),
        "ASGI view: ScopeRequest + header dict": lambda: ScopeRequest(scope).header("host"),
        "ASGI view (sketch): lazy headers": lambda: LazyScopeRequest(scope).header("authorization"),
        "WSGI view: EnvironRequest": lambda: EnvironRequest(environ).header("authorization"),
        "ASGI decide (ScopeRequest)": lambda: pipeline.decide(ScopeRequest(scope)),
        "ASGI decide (sketch: lazy headers)": lambda: pipeline.decide(LazyScopeRequest(scope)),
        "WSGI decide (EnvironRequest), same pipeline": lambda: pipeline.decide(
            EnvironRequest(environ)
        ),
        "ASGI adapter's own check: owns": lambda: middleware._owns(request.path),
        "ASGI _for_app": lambda: asgi_scope.for_app(scope, decision),
        "ASGI _for_app (sketch: roles sorted when read)": lambda: lean_for_app(scope, decision),
        "ASGI _merging + its start message": merge(messages.merging),
        "ASGI _merging (sketch: bytes)": merge(bytes_merging),
        "ASGI start message alone (the bare app's)": lambda: drive(drop(_start_message())),
        "WSGI _merging + start_response": lambda: wsgi_merging(harness._ignore, decision)(
            "200 OK", list(plain_headers)
        ),
        "ASGI 401: _send_reply": lambda: drive(middleware._replies.send(drop, reply)),
        "ASGI 401: _send_reply (sketch: messages built once)": lambda: drive(
            cached_reply(drop, reply)
        ),
    }
    return [_alone(f"{label}: {name}", call) for name, call in rows.items()]


def _hop_app(limiter: list[anyio.CapacityLimiter]) -> spec.ASGIApp:
    async def app(scope: spec.Scope, receive: Any, send: Any) -> None:
        if not limiter:
            limiter.append(anyio.CapacityLimiter(40))
        await anyio.to_thread.run_sync(_nothing, limiter=limiter[0])
        await asgi.bare_asgi_app(scope, receive, send)

    return app


def _nothing() -> None:
    return None


async def _executor_app(scope: spec.Scope, receive: Any, send: Any) -> None:
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(Executor.pool, _nothing)
    await asgi.bare_asgi_app(scope, receive, send)


def threaded(loop: asgi.EventLoop, users: Any) -> list[harness.Scenario]:
    """Table 3's rows: the worker-thread path and, as a what-if, the same decisions inline."""
    tokens = MemoryTokenManager(secret_key=wsgi.SECRET_KEY)
    manager, _ = wsgi._sqlite_tokens()
    stamp = users.get(wsgi.USERID).stamp
    sqlite_token = manager.issue(wsgi.USERID, stamp).token
    password = wsgi.basic(wsgi.USERID, wsgi.PASSWORD)
    base = asgi.BARE_ASGI
    rows = [asgi.row(loop, base, asgi.bare_asgi_app, base, 200)]
    rows.append(
        asgi.row(loop, "anyio.to_thread.run_sync(no-op), then the bare app", _hop_app([]), base,
                 200)
    )  # fmt: skip
    rows.append(
        asgi.row(loop, "loop.run_in_executor(no-op), then the bare app", _executor_app, base, 200)
    )
    kinds = (
        ("worker thread", AuthMiddleware),
        ("loop.run_in_executor (what-if)", Executor),
        ("inline (what-if)", Inline),
    )
    for label, kind in kinds:
        memory = kind(asgi.bare_asgi_app, users=users, tokens=tokens, realm="bench")
        stored = kind(asgi.bare_asgi_app, users=users, tokens=manager, realm="bench")
        rows.append(asgi.row(loop, f"Basic (cached), {label}", memory, base, 200, password))
        rows.append(
            asgi.row(loop, f"Token (SQLite), {label}", stored, base, 200, f"Token {sqlite_token}")
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    users = wsgi.users_with_alice(rounds=12)
    shapes = {
        "2 headers": [],
        "9 headers": asgi.EXTRA_HEADERS,
    }
    scenarios = [row for label, headers in shapes.items() for row in parts(users, headers, label)]
    samples = harness.run_rounds(scenarios, rounds=args.rounds, slow_rounds=0, batch_seconds=0.01)
    medians = {row.name: row.median_wall for row in harness.summarise(scenarios, samples)}
    with asgi.EventLoop() as loop:
        slow = threaded(loop, users)
        slow_samples = harness.run_rounds(
            slow, rounds=args.rounds, slow_rounds=0, batch_seconds=0.02
        )
    threaded_rows = harness.summarise(slow, slow_samples)
    print(tables(medians, threaded_rows, args.rounds))
    return 0


PAIRS = [  # (the ASGI part, the WSGI part doing the same job or "")
    ("ASGI view: ScopeRequest + header dict", "WSGI view: EnvironRequest"),
    ("ASGI decide (ScopeRequest)", "WSGI decide (EnvironRequest), same pipeline"),
    ("ASGI adapter's own check: owns", ""),
    ("ASGI _for_app", ""),
    ("ASGI _merging + its start message", "WSGI _merging + start_response"),
    ("ASGI start message alone (the bare app's)", ""),
    ("ASGI 401: _send_reply", ""),
]
SKETCHES = [
    ("ASGI view: ScopeRequest + header dict", "ASGI view (sketch): lazy headers"),
    ("ASGI decide (ScopeRequest)", "ASGI decide (sketch: lazy headers)"),
    ("ASGI _for_app", "ASGI _for_app (sketch: roles sorted when read)"),
    ("ASGI _merging + its start message", "ASGI _merging (sketch: bytes)"),
    ("ASGI 401: _send_reply", "ASGI 401: _send_reply (sketch: messages built once)"),
]


def tables(medians: dict[str, float], slow: list[harness.Row], rounds: int) -> str:
    def us(value: float) -> str:
        return f"{value:.2f}"

    lines = ["### Parts of one inline request (µs, median of rounds)", ""]
    lines += ["| part | 2 headers | 9 headers | the WSGI adapter's (2 headers) |"]
    lines += ["| --- | ---: | ---: | ---: |"]
    for mine, theirs in PAIRS:
        other = us(medians[f"2 headers: {theirs}"]) if theirs else ""
        lines.append(
            f"| {mine.removeprefix('ASGI ')} | {us(medians[f'2 headers: {mine}'])} "
            f"| {us(medians[f'9 headers: {mine}'])} | {other} |"
        )
    lines += ["", "### Whole requests, over each adapter's bare app (µs)", ""]
    lines += ["| request | 2 headers | 9 headers | ÷ WSGI's (2 headers) |"]
    lines += ["| --- | ---: | ---: | ---: |"]
    for what in ("Token", "401"):
        wsgi_cost = medians[f"2 headers: WSGI {what}, whole request"]
        wsgi_cost -= medians["2 headers: WSGI bare app"]
        for suffix in ("", " (sketch)"):
            cost = {
                shape: medians[f"{shape}: ASGI {what}, whole request{suffix}"]
                - medians[f"{shape}: ASGI bare app"]
                for shape in ("2 headers", "9 headers")
            }
            lines.append(
                f"| restauth.asgi {what}{suffix} | {us(cost['2 headers'])} "
                f"| {us(cost['9 headers'])} | {cost['2 headers'] / wsgi_cost:.2f}× |"
            )
        lines.append(f"| restauth (WSGI) {what} | {us(wsgi_cost)} |  |  |")
    floor = {
        shape: medians[f"{shape}: ASGI floor, whole request"] - medians[f"{shape}: ASGI bare app"]
        for shape in ("2 headers", "9 headers")
    }
    token_wsgi = medians["2 headers: WSGI Token, whole request"]
    token_wsgi -= medians["2 headers: WSGI bare app"]
    lines.append(
        f"| the floor of any ASGI middleware: dispatch, copy the scope, wrap send to add a header "
        f"| {us(floor['2 headers'])} | {us(floor['9 headers'])} "
        f"| {1 + floor['2 headers'] / token_wsgi:.2f}× (added to WSGI's Token) |"
    )
    lines += ["", "### Sketches, part by part (µs)", ""]
    lines += ["| part | now, 2 / 9 headers | sketch, 2 / 9 headers |", "| --- | ---: | ---: |"]
    for now, sketch in SKETCHES:
        lines.append(
            f"| {now.removeprefix('ASGI ')} | {us(medians[f'2 headers: {now}'])} / "
            f"{us(medians[f'9 headers: {now}'])} | {us(medians[f'2 headers: {sketch}'])} / "
            f"{us(medians[f'9 headers: {sketch}'])} |"
        )
    lines += ["", "### The worker-thread path, on the event loop (µs over the bare ASGI app)", ""]
    lines += ["| request | overhead (wall) | event loop thread CPU |", "| --- | ---: | ---: |"]
    for row in slow:
        if row.name != row.baseline:
            lines.append(f"| {row.name} | {row.overhead_wall:.1f} | {row.overhead_cpu:.1f} |")
    lines += [
        "",
        f"{rounds} interleaved rounds. Parts are driven without an event loop "
        "(`coroutine.send(None)`), whole requests too; the worker-thread rows run on "
        "asgi_scenarios.EventLoop. Sketches are this file's code, not restauth's.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
