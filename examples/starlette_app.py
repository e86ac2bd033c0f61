"""Starlette behind restauth: wrap the ``Starlette`` app in ``restauth.asgi.AuthMiddleware``;
views read ``request.user``, and ``requires("admin")`` checks a role.

Run it from the repository root under uvicorn, with any number of workers::

    export RESTAUTH_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    uvicorn --workers 2 --host 127.0.0.1 --port 8000 examples.starlette_app:app

(``python -m examples.starlette_app`` runs one uvicorn process). The first start prints
the passwords of alice (admin) and bob, kept in ``restauth-example.db`` (see
``examples/_users.py``). Then::

    curl -i -u alice:<password> http://127.0.0.1:8000/me      # the answer carries Auth-Token
    curl -i -H 'Authorization: Token <token>' http://127.0.0.1:8000/me
    curl -i -X DELETE -H 'Authorization: Token <token>' http://127.0.0.1:8000/tokens/alice

and the websocket ``ws://127.0.0.1:8000/ws`` with ``Authorization: Token <token>`` (see
``examples/fastapi_app.py``). restauth fills Starlette's ``request.user`` (``identity``,
``display_name``, ``is_authenticated``, ``roles``) and ``request.auth``, whose ``scopes``
are the caller's roles: ``requires("admin")`` passes administrators only. There is no
"authenticated" scope (the convention of Starlette's own ``AuthenticationMiddleware``): a
protected path is never anonymous, and on a public one ask ``request.user.is_authenticated``.

``app`` takes credentials over plain HTTP, for trying it out on 127.0.0.1 only; in
production keep ``require_https=True`` (the default) behind a TLS proxy named in
``trusted_proxies`` and in uvicorn's ``--forwarded-allow-ips`` (README, "Behind a proxy").
From a configuration file instead: ``app = restauth.asgi.from_config(starlette_app,
"restauth.toml")``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.authentication import requires
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from restauth import Identity, TokenManager, UserStore
from restauth.asgi import AuthMiddleware

from ._users import example_stores

REALM = "restauth example"


def caller(connection: HTTPConnection) -> Identity:
    """The caller. restauth lets no anonymous request through to a protected path, so the
    401 happens only on a public one (``POST /hello``)."""
    if not connection.user.is_authenticated:
        raise HTTPException(
            401,
            "authentication required",
            headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
        )
    return connection.user.identity  # type: ignore[no-any-return]


async def health(request: Request) -> Response:
    if not getattr(request.app.state, "started", False):  # the lifespan has not run (yet)
        return JSONResponse({"status": "starting"}, status_code=503)
    return JSONResponse({"status": "ok"})


async def me(request: Request) -> Response:
    who = caller(request)
    return JSONResponse(
        {"userid": who.userid, "roles": sorted(who.roles), "mechanism": who.mechanism}
    )


@requires("admin")  # a role: request.auth.scopes are the caller's roles
async def admin(request: Request) -> Response:
    return JSONResponse({"message": f"hello, administrator {request.user.display_name}"})


async def hello(request: Request) -> Response:
    """Public: ``GET`` greets anyone, ``POST`` needs the caller."""
    if request.method == "POST":
        return JSONResponse({"message": f"{caller(request).userid} waves hello"})
    name = request.user.display_name if request.user.is_authenticated else "stranger"
    return JSONResponse({"message": f"hello, {name}"})


async def greet(websocket: WebSocket) -> None:
    # Never anonymous: restauth refused the handshake before accept. A browser cannot set
    # Authorization on a websocket: it sends the cookie (cookie mode) or ?token=
    # (query_token), see the README.
    name = websocket.user.display_name
    await websocket.accept()
    await websocket.send_text(f"hello, {name}")
    try:
        while True:
            await websocket.send_text(f"{name}: {await websocket.receive_text()}")
    except WebSocketDisconnect:
        pass


async def json_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    return JSONResponse({"detail": error.detail}, error.status_code, headers=error.headers)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.started = True  # open your own pools here; restauth closes its stores itself
    print("example app: started", flush=True)
    yield
    print("example app: stopped", flush=True)


def create_app(
    users: UserStore, tokens: TokenManager, *, require_https: bool = True
) -> AuthMiddleware:
    starlette_app = Starlette(
        routes=[
            Route("/health", health),
            Route("/me", me),
            Route("/admin", admin),
            Route("/hello", hello, methods=["GET", "POST"]),
            WebSocketRoute("/ws", greet),
        ],
        exception_handlers={HTTPException: json_error},
        lifespan=lifespan,
    )
    return AuthMiddleware(
        starlette_app,
        users=users,
        tokens=tokens,
        realm=REALM,
        public=["/health", "/hello"],
        require_https=require_https,
    )


app = create_app(*example_stores(), require_https=False)  # plain HTTP: see above

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
