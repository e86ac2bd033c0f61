"""Pyramid behind restauth: wrap the WSGI app ``make_wsgi_app()`` returns.

Run it from the repository root under a real server, with any number of workers::

    export RESTAUTH_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    gunicorn -w 2 -b 127.0.0.1:8000 examples.pyramid_app:app
    waitress-serve --listen=127.0.0.1:8000 examples.pyramid_app:app

(either server; ``python -m examples.pyramid_app`` runs wsgiref). The first start prints
the passwords of alice (admin) and bob, kept in ``restauth-example.db`` (see
``examples/_users.py``). Then::

    curl -i -u alice:<password> http://127.0.0.1:8000/me      # the answer carries Auth-Token
    curl -i -H 'Authorization: Token <token>' http://127.0.0.1:8000/me
    curl -i -X DELETE -H 'Authorization: Token <token>' http://127.0.0.1:8000/tokens/alice

``app`` takes credentials over plain HTTP, for trying it out on 127.0.0.1 only; in
production keep ``require_https=True`` (the default) behind a TLS proxy named in
``trusted_proxies`` (README, "Behind a proxy"). With PasteDeploy, restauth is also a
``filter-with`` in your .ini; see the README.
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden
from pyramid.request import Request

from restauth import AuthMiddleware, Identity, TokenManager, UserStore

from ._users import example_stores


def _identity(request: Request) -> Identity:
    # Present on every request that passed restauth with credentials; absent on a public
    # path (/health) when the caller sent none.
    return request.environ["restauth.identity"]  # type: ignore[no-any-return]


def health(request: Request) -> dict[str, Any]:
    return {"status": "ok"}


def me(request: Request) -> dict[str, Any]:
    who = _identity(request)
    return {"userid": who.userid, "roles": sorted(who.roles), "mechanism": who.mechanism}


def admin(request: Request) -> dict[str, Any]:
    who = _identity(request)
    if not who.has_role("admin"):
        raise HTTPForbidden(json_body={"error": "administrators only"})
    return {"message": f"hello, administrator {who.userid}"}


def create_app(
    users: UserStore, tokens: TokenManager, *, require_https: bool = True
) -> AuthMiddleware:
    with Configurator() as config:
        for name, view in (("health", health), ("me", me), ("admin", admin)):
            config.add_route(name, f"/{name}")
            config.add_view(view, route_name=name, renderer="json")
        wsgi_app = config.make_wsgi_app()
    return AuthMiddleware(
        wsgi_app, users=users, tokens=tokens, public=["/health"], require_https=require_https
    )


app = create_app(*example_stores(), require_https=False)  # plain HTTP: see above

if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    make_server("127.0.0.1", 8000, app).serve_forever()
