"""Flask behind restauth: wrap ``app.wsgi_app``; views read the identity from the environ.

Run: ``python examples/flask_app.py`` (prints the users' passwords), then
``curl -u alice:<password> http://127.0.0.1:8000/me``.
"""

from __future__ import annotations

from flask import Flask, jsonify, request

from restauth import AuthMiddleware, Identity, MemoryTokenManager, UserStore


def create_app(users: UserStore, *, require_https: bool = True) -> Flask:
    app = Flask(__name__)

    def identity() -> Identity:
        return request.environ["restauth.identity"]  # type: ignore[no-any-return]

    @app.get("/health")
    def health():  # type: ignore[no-untyped-def]
        return jsonify(status="ok")

    @app.get("/me")
    def me():  # type: ignore[no-untyped-def]
        who = identity()
        return jsonify(userid=who.userid, roles=sorted(who.roles), mechanism=who.mechanism)

    @app.get("/admin")
    def admin():  # type: ignore[no-untyped-def]
        if not identity().has_role("admin"):
            return jsonify(error="administrators only"), 403
        return jsonify(message=f"hello, administrator {identity().userid}")

    app.wsgi_app = AuthMiddleware(  # type: ignore[method-assign]
        app.wsgi_app,
        users=users,
        tokens=MemoryTokenManager(ttl=900),
        public=["/health"],
        require_https=require_https,
    )
    return app


if __name__ == "__main__":
    from _users import example_users

    store, passwords = example_users()
    print("users:", ", ".join(f"{u} password {p}" for u, p in passwords.items()))
    # Plain HTTP on loopback, for trying it out; keep require_https=True in production.
    create_app(store, require_https=False).run(host="127.0.0.1", port=8000)
