"""The peers' rows, each configured the way its documentation shows, in this same process.

A peer whose package is missing is skipped with a message (``pip install -e '.[bench]'``
brings them all). Every peer's own bare app is a row too, so its overhead is measured
over the same framework without authentication.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import bcrypt
from harness import BODY, Scenario, WSGIApp, bare_app, base_environ, protected_bare_app, requester
from harness import status_of as _status_of
from restauth_scenarios import (
    BARE,
    BASIC_CACHED,
    PASSWORD,
    TOKEN,
    UNAUTHORIZED,
    USERID,
    basic,
)

PEER_TOKEN = "0123456789abcdef0123456789abcdef01234567"  # a DRF-sized key, 40 hex digits
FLASK_BARE = "bare Flask app"
DRF_BARE = "bare DRF view"


def _row(
    name: str,
    app: WSGIApp,
    baseline: str,
    expect: str,
    *,
    equivalent: str = "",
    slow: bool = False,
    note: str = "",
    **environ: Any,
) -> Scenario:
    env = base_environ(**environ)
    status, _ = _status_of(app, env)
    if not status.startswith(expect):
        raise RuntimeError(f"{name}: expected {expect}, got {status}")
    return Scenario(name, requester(app, env), baseline, slow, equivalent, note)


def wsgi_basic_auth() -> list[Scenario]:
    from wsgi_basic_auth import BasicAuth

    app = BasicAuth(bare_app, realm="bench", users={USERID: PASSWORD})
    return [
        _row(
            "wsgi-basic-auth Basic (plaintext compare)",
            app,
            BARE,
            "200",
            equivalent=BASIC_CACHED,
            note="insecure: plaintext passwords, non-constant-time compare",
            HTTP_AUTHORIZATION=basic(USERID, PASSWORD),
        ),
        _row("wsgi-basic-auth 401", app, BARE, "401", equivalent=UNAUTHORIZED),
    ]


class _DictAuthenticator:
    """repoze.who authenticator over a dict of plaintext passwords (its docs' simplest one)."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def authenticate(self, environ: dict[str, Any], identity: dict[str, Any]) -> str | None:
        login = identity.get("login")
        if login is not None and self.users.get(login) == identity.get("password"):
            return str(login)
        return None


def repoze_who() -> list[Scenario]:
    from repoze.who.classifiers import default_challenge_decider, default_request_classifier
    from repoze.who.middleware import PluggableAuthenticationMiddleware
    from repoze.who.plugins.auth_tkt import AuthTktCookiePlugin
    from repoze.who.plugins.basicauth import BasicAuthPlugin

    basicauth = BasicAuthPlugin("bench")
    auth_tkt = AuthTktCookiePlugin("benchmark-secret-0123456789", "auth_tkt")
    app = PluggableAuthenticationMiddleware(
        protected_bare_app,
        identifiers=[("auth_tkt", auth_tkt), ("basicauth", basicauth)],
        authenticators=[("auth_tkt", auth_tkt), ("dict", _DictAuthenticator({USERID: PASSWORD}))],
        challengers=[("basicauth", basicauth)],
        mdproviders=[],
        request_classifier=default_request_classifier,
        challenge_decider=default_challenge_decider,
    )
    cookie_headers = auth_tkt.remember(base_environ(), {"repoze.who.userid": USERID})
    cookie = cookie_headers[0][1].split(";")[0]
    return [
        _row(
            "repoze.who Basic (dict authenticator)",
            app,
            BARE,
            "200",
            equivalent=BASIC_CACHED,
            HTTP_AUTHORIZATION=basic(USERID, PASSWORD),
        ),
        _row(
            "repoze.who auth_tkt cookie",
            app,
            BARE,
            "200",
            equivalent=TOKEN,
            HTTP_COOKIE=cookie,
        ),
        _row("repoze.who 401", app, BARE, "401", equivalent=UNAUTHORIZED),
    ]


def bare_flask() -> WSGIApp:
    from flask import Flask

    app = Flask("bench_bare")
    app.add_url_rule("/", "index", lambda: BODY)
    return app  # type: ignore[return-value]


def flask_httpauth() -> list[Scenario]:
    from flask import Flask
    from flask_httpauth import HTTPBasicAuth, HTTPTokenAuth

    tokens = {PEER_TOKEN: USERID}
    plain = {USERID: PASSWORD}
    hashes = {USERID: bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(12))}

    def protected(name: str, auth: Any) -> Any:
        app = Flask(name)
        app.add_url_rule("/", "index", auth.login_required(lambda: BODY))
        return app

    token_auth = HTTPTokenAuth(scheme="Bearer")
    token_auth.verify_token(tokens.get)
    plain_auth = HTTPBasicAuth()
    plain_auth.verify_password(lambda u, p: u if plain.get(u) == p else None)
    bcrypt_auth = HTTPBasicAuth()
    bcrypt_auth.verify_password(
        lambda u, p: u if u in hashes and bcrypt.checkpw(p.encode(), hashes[u]) else None
    )
    token_app = protected("bench_token", token_auth)
    plain_app = protected("bench_plain", plain_auth)
    bcrypt_app = protected("bench_bcrypt", bcrypt_auth)
    return [
        _row("bare Flask app", bare_flask(), FLASK_BARE, "200"),
        _row(
            "Flask-HTTPAuth token",
            token_app,
            FLASK_BARE,
            "200",
            equivalent="restauth Token over Flask",
            HTTP_AUTHORIZATION=f"Bearer {PEER_TOKEN}",
        ),
        _row(
            "Flask-HTTPAuth Basic (plaintext compare)",
            plain_app,
            FLASK_BARE,
            "200",
            equivalent="restauth Basic (cached) over Flask",
            note="insecure: plaintext passwords",
            HTTP_AUTHORIZATION=basic(USERID, PASSWORD),
        ),
        _row(
            "Flask-HTTPAuth Basic (bcrypt cost 12 per request)",
            bcrypt_app,
            FLASK_BARE,
            "200",
            equivalent="restauth Basic (cached) over Flask",
            slow=True,
            note="as its docs suggest: bcrypt on every request",
            HTTP_AUTHORIZATION=basic(USERID, PASSWORD),
        ),
        _row(
            "Flask-HTTPAuth 401",
            plain_app,
            FLASK_BARE,
            "401",
            equivalent="restauth 401 over Flask",
        ),
    ]


def django_rest_framework() -> list[Scenario]:
    import django
    from django.conf import settings

    settings.configure(
        DEBUG=False,
        SECRET_KEY="benchmark-secret-key-0123456789",
        ALLOWED_HOSTS=["localhost"],
        ROOT_URLCONF="bench_drf_urls",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
            "rest_framework.authtoken",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        MIDDLEWARE=[],
        USE_TZ=True,
    )
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from django.http import HttpResponse
    from django.urls import path
    from rest_framework.authentication import TokenAuthentication
    from rest_framework.authtoken.models import Token
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.views import APIView

    call_command("migrate", verbosity=0)
    user = User.objects.create_user(USERID)  # no usable password: no hashing at set-up
    Token.objects.create(user=user, key=PEER_TOKEN)

    class Bare(APIView):
        authentication_classes = ()
        permission_classes = ()

        def get(self, request: Any) -> HttpResponse:
            return HttpResponse(BODY, content_type="text/plain")

    class Protected(Bare):
        authentication_classes = (TokenAuthentication,)
        permission_classes = (IsAuthenticated,)

    urls = types.ModuleType("bench_drf_urls")
    urls.urlpatterns = [path("bare", Bare.as_view()), path("token", Protected.as_view())]  # type: ignore[attr-defined]
    sys.modules["bench_drf_urls"] = urls
    app = get_wsgi_application()
    return [
        _row(DRF_BARE, app, DRF_BARE, "200", PATH_INFO="/bare"),
        _row(
            "DRF TokenAuthentication",
            app,
            DRF_BARE,
            "200",
            equivalent=TOKEN,
            note="token looked up in SQLite (in memory)",
            PATH_INFO="/token",
            HTTP_AUTHORIZATION=f"Token {PEER_TOKEN}",
        ),
        _row("DRF 401", app, DRF_BARE, "401", equivalent=UNAUTHORIZED, PATH_INFO="/token"),
    ]


PEERS = {
    "wsgi-basic-auth": wsgi_basic_auth,
    "repoze.who": repoze_who,
    "Flask-HTTPAuth": flask_httpauth,
    "Django REST framework": django_rest_framework,
}
