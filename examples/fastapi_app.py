"""FastAPI behind restauth: wrap the ``FastAPI`` app in ``restauth.asgi.AuthMiddleware``;
dependencies hand the views the identity.

Run it from the repository root under uvicorn, with any number of workers::

    export RESTAUTH_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    uvicorn --workers 2 --host 127.0.0.1 --port 8000 examples.fastapi_app:app

(``python -m examples.fastapi_app`` runs one uvicorn process). The first start prints the
passwords of alice (admin) and bob, kept in ``restauth-example.db`` (see
``examples/_users.py``). Then::

    curl -i -u alice:<password> http://127.0.0.1:8000/me      # the answer carries Auth-Token
    curl -i -H 'Authorization: Token <token>' http://127.0.0.1:8000/me
    curl -i -X DELETE -H 'Authorization: Token <token>' http://127.0.0.1:8000/tokens/alice

and the websocket, with the ``websockets`` client (``pip install websockets``)::

    from websockets.sync.client import connect
    auth = {"Authorization": "Token <token>"}
    with connect("ws://127.0.0.1:8000/ws", additional_headers=auth) as ws:
        print(ws.recv())                                  # hello, alice

``/docs`` and ``/openapi.json`` are public: the interactive documentation loads without
credentials, and its requests to the other routes get restauth's challenge. ``/hello`` is
public too, for every method: ``GET`` greets anyone, ``POST`` needs the caller, and its
dependency answers 401 itself.

``app`` takes credentials over plain HTTP, for trying it out on 127.0.0.1 only; in
production keep ``require_https=True`` (the default) behind a TLS proxy named in
``trusted_proxies`` and in uvicorn's ``--forwarded-allow-ips`` (README, "Behind a proxy").
From a configuration file instead: ``app = restauth.asgi.from_config(api, "restauth.toml")``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.requests import HTTPConnection
from fastapi.responses import JSONResponse

from restauth import Identity, TokenManager, UserStore
from restauth.asgi import AuthMiddleware

from ._users import example_stores

REALM = "restauth example"
PUBLIC = ["/health", "/hello", "/docs", "/openapi.json"]


async def optional_identity(connection: HTTPConnection) -> Identity | None:
    """The caller, or ``None``: only on a public path, when the caller sent no credentials."""
    return connection.scope.get("restauth.identity")


async def identity(
    who: Annotated[Identity | None, Depends(optional_identity)],
) -> Identity:
    """The caller. restauth lets no anonymous request through to a protected path, so the
    401 happens only on a public one (``POST /hello``)."""
    if who is None:
        raise HTTPException(
            401,
            "authentication required",
            headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
        )
    return who


def require_role(role: str) -> Callable[[Identity], Awaitable[Identity]]:
    """A dependency: the caller, if they have ``role``; else 403."""

    async def with_role(who: Annotated[Identity, Depends(identity)]) -> Identity:
        if not who.has_role(role):
            raise HTTPException(403, f"role {role} required")
        return who

    return with_role


Caller = Annotated[Identity, Depends(identity)]


@asynccontextmanager
async def lifespan(api: FastAPI) -> AsyncIterator[None]:
    api.state.started = True  # open your own pools here; restauth closes its stores itself
    print("example app: started", flush=True)
    yield
    print("example app: stopped", flush=True)


def create_app(
    users: UserStore, tokens: TokenManager, *, require_https: bool = True
) -> AuthMiddleware:
    api = FastAPI(title="restauth FastAPI example", lifespan=lifespan)

    @api.get("/health")
    async def health() -> Any:
        if not getattr(api.state, "started", False):  # the lifespan has not run (yet)
            return JSONResponse({"status": "starting"}, status_code=503)
        return {"status": "ok"}

    @api.get("/me")
    async def me(who: Caller) -> dict[str, Any]:
        return {"userid": who.userid, "roles": sorted(who.roles), "mechanism": who.mechanism}

    @api.get("/admin")
    async def admin(who: Annotated[Identity, Depends(require_role("admin"))]) -> dict[str, str]:
        return {"message": f"hello, administrator {who.userid}"}

    @api.get("/hello")
    async def hello(
        who: Annotated[Identity | None, Depends(optional_identity)],
    ) -> dict[str, str]:
        return {"message": f"hello, {who.userid if who else 'stranger'}"}

    @api.post("/hello")
    async def wave(who: Caller) -> dict[str, str]:
        return {"message": f"{who.userid} waves hello"}

    @api.websocket("/ws")
    async def greet(websocket: WebSocket, who: Caller) -> None:
        # Never anonymous: restauth refused the handshake before accept. A browser cannot
        # set Authorization on a websocket: it sends the cookie (cookie mode) or ?token=
        # (query_token), see the README.
        await websocket.accept()
        await websocket.send_text(f"hello, {who.userid}")
        try:
            while True:
                await websocket.send_text(f"{who.userid}: {await websocket.receive_text()}")
        except WebSocketDisconnect:
            pass

    return AuthMiddleware(
        api, users=users, tokens=tokens, realm=REALM, public=PUBLIC, require_https=require_https
    )


app = create_app(*example_stores(), require_https=False)  # plain HTTP: see above

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
