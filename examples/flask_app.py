"""Flask behind restauth: wrap ``app.wsgi_app``; views read the identity from the environ.

Run it from the repository root under a real server, with any number of workers::

    export RESTAUTH_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    gunicorn -w 2 -b 127.0.0.1:8000 examples.flask_app:app
    waitress-serve --listen=127.0.0.1:8000 examples.flask_app:app

(either server; ``python -m examples.flask_app`` runs Flask's development server). The
first start prints the passwords of alice (admin) and bob, kept in ``restauth-example.db``
(see ``examples/_users.py``). Then::

    curl -i -u alice:<password> http://127.0.0.1:8000/me      # the answer carries Auth-Token
    curl -i -H 'Authorization: Token <token>' http://127.0.0.1:8000/me
    curl -i -X DELETE -H 'Authorization: Token <token>' http://127.0.0.1:8000/tokens/alice

``app`` takes credentials over plain HTTP, for trying it out on 127.0.0.1 only; in
production keep ``require_https=True`` (the default) behind a TLS proxy named in
``trusted_proxies`` (README, "Behind a proxy").
"""

from __future__ import annotations

from flask import Flask, jsonify, request

from restauth import AuthMiddleware, Identity, TokenManager, UserStore

from ._users import example_stores


def create_app(users: UserStore, tokens: TokenManager, *, require_https: bool = True) -> Flask:
    app = Flask(__name__)

    def identity() -> Identity:
        # Present on every request that passed restauth with credentials; absent on a
        # public path (/health) when the caller sent none.
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
        app.wsgi_app, users=users, tokens=tokens, public=["/health"], require_https=require_https
    )
    return app


app = create_app(*example_stores(), require_https=False)  # plain HTTP: see above

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
