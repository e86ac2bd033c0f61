"""Bottle behind restauth: wrap the ``Bottle`` application object.

Run: ``python examples/bottle_app.py``, then ``curl -u alice:<password> http://127.0.0.1:8000/me``.
"""

from __future__ import annotations

from typing import Any

import bottle

from restauth import AuthMiddleware, Identity, MemoryTokenManager, UserStore


def create_app(users: UserStore, *, require_https: bool = True) -> AuthMiddleware:
    app = bottle.Bottle()

    def identity() -> Identity:
        return bottle.request.environ["restauth.identity"]  # type: ignore[no-any-return]

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/me")
    def me() -> dict[str, Any]:
        who = identity()
        return {"userid": who.userid, "roles": sorted(who.roles), "mechanism": who.mechanism}

    @app.get("/admin")
    def admin() -> dict[str, Any]:
        if not identity().has_role("admin"):
            bottle.response.status = 403
            return {"error": "administrators only"}
        return {"message": f"hello, administrator {identity().userid}"}

    return AuthMiddleware(
        app,
        users=users,
        tokens=MemoryTokenManager(ttl=900),
        public=["/health"],
        require_https=require_https,
    )


if __name__ == "__main__":
    from _users import example_users

    store, passwords = example_users()
    print("users:", ", ".join(f"{u} password {p}" for u, p in passwords.items()))
    # Plain HTTP on loopback, for trying it out; keep require_https=True in production.
    bottle.run(create_app(store, require_https=False), host="127.0.0.1", port=8000)
