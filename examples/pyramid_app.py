"""Pyramid behind restauth: wrap the WSGI app ``make_wsgi_app()`` returns.

Run: ``python examples/pyramid_app.py``, then ``curl -u alice:<password> http://127.0.0.1:8000/me``.
(With PasteDeploy, restauth is also a ``filter-with`` in your .ini; see the README.)
"""

from __future__ import annotations

from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPForbidden
from pyramid.request import Request

from restauth import AuthMiddleware, Identity, MemoryTokenManager, UserStore


def _identity(request: Request) -> Identity:
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


def create_app(users: UserStore, *, require_https: bool = True) -> AuthMiddleware:
    with Configurator() as config:
        for name, view in (("health", health), ("me", me), ("admin", admin)):
            config.add_route(name, f"/{name}")
            config.add_view(view, route_name=name, renderer="json")
        app = config.make_wsgi_app()
    return AuthMiddleware(
        app,
        users=users,
        tokens=MemoryTokenManager(ttl=900),
        public=["/health"],
        require_https=require_https,
    )


if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    from _users import example_users

    store, passwords = example_users()
    print("users:", ", ".join(f"{u} password {p}" for u, p in passwords.items()))
    # Plain HTTP on loopback, for trying it out; keep require_https=True in production.
    make_server("127.0.0.1", 8000, create_app(store, require_https=False)).serve_forever()
