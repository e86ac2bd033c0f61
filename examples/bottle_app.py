"""Bottle behind restauth: wrap the ``Bottle`` application object.

Run it from the repository root under a real server, with any number of workers::

    export RESTAUTH_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
    gunicorn -w 2 -b 127.0.0.1:8000 examples.bottle_app:app
    waitress-serve --listen=127.0.0.1:8000 examples.bottle_app:app

(either server; ``python -m examples.bottle_app`` runs Bottle's development server). The
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

from typing import Any

import bottle

from restauth import AuthMiddleware, Identity, TokenManager, UserStore

from ._users import example_stores


def create_app(
    users: UserStore, tokens: TokenManager, *, require_https: bool = True
) -> AuthMiddleware:
    bottle_app = bottle.Bottle()

    def identity() -> Identity:
        # Present on every request that passed restauth with credentials; absent on a
        # public path (/health) when the caller sent none.
        return bottle.request.environ["restauth.identity"]  # type: ignore[no-any-return]

    @bottle_app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok"}

    @bottle_app.get("/me")
    def me() -> dict[str, Any]:
        who = identity()
        return {"userid": who.userid, "roles": sorted(who.roles), "mechanism": who.mechanism}

    @bottle_app.get("/admin")
    def admin() -> dict[str, Any]:
        if not identity().has_role("admin"):
            bottle.response.status = 403
            return {"error": "administrators only"}
        return {"message": f"hello, administrator {identity().userid}"}

    return AuthMiddleware(
        bottle_app, users=users, tokens=tokens, public=["/health"], require_https=require_https
    )


app = create_app(*example_stores(), require_https=False)  # plain HTTP: see above

if __name__ == "__main__":
    bottle.run(app, host="127.0.0.1", port=8000)
