"""Bearer JWTs from an identity provider, checked against a JWKS served on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from webtest import TestApp

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore, StoreUnavailable
from restauth.bearers.jwt import JWKSCache, JWTBearer
from restauth.tokens.jwt import JWTKey, JWTTokenManager
from tests.conftest import ALICE_PASSWORD, FakeClock, basic, echo_app
from tests.jwt.conftest import HS_SECRET, JWKSServer, b64, forge, signed
from tests.services import free_port

ISSUER = "https://idp.example.test/realms/demo"
AUDIENCE = "notes-api"


class IdP:
    """An identity provider: its private keys stay here, its public keys go to the JWKS."""

    def __init__(self, server: JWKSServer, clock: FakeClock, *keys: Any) -> None:
        self.server, self.clock = server, clock
        self.keys = [JWTKey(key) for key in keys]
        self.private = dict(zip((k.kid for k in self.keys), keys, strict=True))
        server.publish(*self.keys)

    def token(self, key: int = 0, headers: dict[str, Any] | None = None, **claims: Any) -> str:
        signer = self.keys[key]
        body = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "carol",
            "iat": self.clock.now,
            "exp": self.clock.now + 300,
            "realm_access": {"roles": ["reader", "editor"]},
            **claims,
        }
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(
            body,
            self.private[signer.kid],
            algorithm=signer.alg,
            headers={"kid": signer.kid, **(headers or {})},
        )


@pytest.fixture
def idp(jwks_server: JWKSServer, clock: FakeClock, rsa_private: rsa.RSAPrivateKey) -> IdP:
    return IdP(
        jwks_server,
        clock,
        rsa_private,
        ec.generate_private_key(ec.SECP256R1()),
        ed25519.Ed25519PrivateKey.generate(),
    )


def make_bearer(url: str, clock: FakeClock, **options: Any) -> JWTBearer:
    options = {"leeway": 30, "clock": clock, "allow_insecure_loopback": True, **options}
    return JWTBearer(jwks_url=url, issuer=ISSUER, audience=AUDIENCE, **options)


@pytest.fixture
def bearer(jwks_server: JWKSServer, clock: FakeClock) -> JWTBearer:
    return make_bearer(jwks_server.url, clock)


@pytest.fixture
def app(users: MemoryUserStore, clock: FakeClock, bearer: JWTBearer) -> TestApp:
    tokens = JWTTokenManager(JWTKey(HS_SECRET), ttl=900, clock=clock)
    return TestApp(
        AuthMiddleware(echo_app, users=users, tokens=tokens, bearer=bearer, throttle=None)
    )


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def refused(app: TestApp, token: str) -> None:
    response = app.get("/x", headers=auth(token), status=401)
    assert response.headers["WWW-Authenticate"].endswith('error="invalid_token"')


@pytest.mark.parametrize("key", [0, 1, 2], ids=["RS256", "ES256", "EdDSA"])
def test_idp_token_maps_to_an_identity(app: TestApp, idp: IdP, key: int) -> None:
    response = app.get("/x", headers=auth(idp.token(key)))
    assert response.json == {
        "remote_user": "carol",
        "userid": "carol",
        "roles": ["editor", "reader"],
        "mechanism": "jwt",
    }
    assert "Auth-Token" not in response.headers  # the provider's caller gets no restauth token


def test_auth0_style_namespaced_roles(jwks_server: JWKSServer, clock: FakeClock, idp: IdP) -> None:
    claim = "https://notes.example.test/roles"
    bearer = make_bearer(jwks_server.url, clock, roles_claim=claim, userid_claim="email")
    identity = bearer.authenticate(
        idp.token(**{claim: ["admin"], "email": "carol@example.test", "realm_access": None})
    )
    assert identity is not None
    assert (identity.userid, identity.roles) == ("carol@example.test", frozenset({"admin"}))
    scope = make_bearer(jwks_server.url, clock, roles_claim="scope")
    assert scope.authenticate(idp.token(scope="read write")).roles == {"read", "write"}  # type: ignore[union-attr]


def test_restauth_tokens_and_idp_tokens_side_by_side(app: TestApp, idp: IdP) -> None:
    own = app.post_json("/tokens", {"username": "alice", "password": ALICE_PASSWORD}).json["token"]
    assert app.get("/x", headers=auth(own)).json["mechanism"] == "token"
    assert app.get("/x", headers=auth(idp.token())).json["mechanism"] == "jwt"
    assert (
        app.get("/x", headers={"Authorization": basic("alice", ALICE_PASSWORD)}).json["mechanism"]
        == "basic"
    )


def test_opaque_tokens_are_untouched(users: MemoryUserStore, bearer: JWTBearer, idp: IdP) -> None:
    tokens = MemoryTokenManager()
    app = TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens, bearer=[bearer]))
    own = tokens.issue("alice", users.get("alice").stamp).token  # type: ignore[union-attr]
    assert app.get("/x", headers=auth(own)).json["mechanism"] == "token"
    assert app.get("/x", headers=auth(idp.token())).json["userid"] == "carol"


def test_bearer_without_restauth_tokens(
    users: MemoryUserStore, bearer: JWTBearer, idp: IdP
) -> None:
    app = TestApp(AuthMiddleware(echo_app, users=users, tokens=None, bearer=bearer))
    assert app.get("/x", headers=auth(idp.token())).json["userid"] == "carol"
    refused(app, idp.token(aud="other"))
    assert app.get("/roles/carol", headers=auth(idp.token())).json["roles"] == ["editor", "reader"]


def test_idp_callers_have_no_restauth_token_endpoints(app: TestApp, idp: IdP) -> None:
    token = idp.token()
    roles = app.get("/roles/carol", headers=auth(token))
    assert roles.json["roles"] == ["editor", "reader"]
    assert "Auth-Token" not in roles.headers
    app.get("/tokens/carol", headers=auth(token), status=403)
    app.delete("/tokens/carol", headers=auth(token), status=403)
    app.post("/tokens", headers=auth(token), status=403)  # not exchanged for a restauth token


# -- rejections -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-api"},
        {"aud": None},
        {"exp": None},
        {"sub": None},
        {"sub": 42},
        {"sub": "bad\nuserid"},
        {"exp": "tomorrow"},
    ],
    ids=["wrong-aud", "no-aud", "no-exp", "no-sub", "int-sub", "control-sub", "str-exp"],
)
def test_bad_claims_are_invalid_token(app: TestApp, idp: IdP, claims: dict[str, Any]) -> None:
    refused(app, idp.token(**claims))


def test_wrong_issuer_is_invalid_token(app: TestApp, idp: IdP) -> None:
    refused(app, idp.token(iss="https://evil.example.test/"))  # goes to restauth's own check


def test_times_with_leeway(app: TestApp, idp: IdP, clock: FakeClock) -> None:
    app.get("/x", headers=auth(idp.token(exp=clock.now - 20)), status=200)  # within leeway
    refused(app, idp.token(exp=clock.now - 30))  # expired
    app.get("/x", headers=auth(idp.token(nbf=clock.now + 20)), status=200)
    refused(app, idp.token(nbf=clock.now + 31))  # not yet valid
    refused(app, idp.token(iat=clock.now + 31))  # issued in the future


def test_tampered_idp_token_is_invalid_token(app: TestApp, idp: IdP) -> None:
    header, _, signature = idp.token().split(".")
    payload = b64(
        jwt.api_jws.json.dumps(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "root", "exp": 4_000_000_000}
        ).encode()
    )
    refused(app, f"{header}.{payload}.{signature}")
    refused(app, idp.token()[:-4] + "AAAA")


def test_alg_none_and_hs256_with_the_public_key(
    app: TestApp, idp: IdP, rsa_private: rsa.RSAPrivateKey
) -> None:
    kid = idp.keys[0].kid
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "root", "exp": 4_000_000_000}
    refused(app, forge({"alg": "none", "kid": kid}, claims))
    pem = rsa_private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    unsigned = forge({"alg": "HS256", "kid": kid, "typ": "JWT"}, claims).rsplit(".", 1)[0]
    mac = hmac.digest(pem, unsigned.encode(), hashlib.sha256)
    refused(app, f"{unsigned}.{b64(mac)}")


def test_a_key_is_used_only_with_its_own_algorithm(app: TestApp, idp: IdP) -> None:
    """Sign with the RSA key but claim the EC key's kid: the kid's algorithm wins."""
    rsa_token = idp.token(key=0, headers={"kid": idp.keys[1].kid})
    refused(app, rsa_token)


def test_symmetric_keys_in_the_jwks_are_ignored(
    jwks_server: JWKSServer, clock: FakeClock, app: TestApp
) -> None:
    secret = b"s" * 32
    jwks_server.document = {"keys": [{"kty": "oct", "kid": "k", "k": b64(secret), "alg": "HS256"}]}
    token = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": clock.now + 60},
        secret,
        algorithm="HS256",
        headers={"kid": "k"},
    )
    refused(app, token)


def test_oversized_token_is_refused(
    users: MemoryUserStore, jwks_server: JWKSServer, clock: FakeClock, idp: IdP
) -> None:
    bearer = make_bearer(jwks_server.url, clock, max_token_size=2048)
    app = TestApp(AuthMiddleware(echo_app, users=users, bearer=bearer, throttle=None))
    assert bearer.authenticate(idp.token(padding="x" * 1000)) is not None
    refused(app, idp.token(padding="x" * 2000))  # over the bearer's limit: never parsed
    app.get("/x", headers=auth(idp.token(padding="x" * 7000)), status=431)  # over the header's


# -- the JWKS: refresh, rate, failure ---------------------------------------------------


def test_unknown_kid_refetches_at_a_bounded_rate(
    jwks_server: JWKSServer, clock: FakeClock, idp: IdP
) -> None:
    monotonic = FakeClock(0.0)
    cache = JWKSCache(jwks_server.url, allow_insecure_loopback=True, monotonic=monotonic)
    bearer = make_bearer(jwks_server.url, clock, jwks=cache)
    assert bearer.authenticate(idp.token()) is not None
    assert jwks_server.requests == 1
    monotonic.advance(30)
    stranger = JWTKey(ed25519.Ed25519PrivateKey.generate())
    forged = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": clock.now + 60},
        stranger._signing,
        algorithm="EdDSA",
        headers={"kid": stranger.kid},
    )
    for _ in range(5):
        assert bearer.authenticate(forged) is None
    assert jwks_server.requests == 2  # one refetch for the unknown kid, then rate-limited
    rotated = IdP(jwks_server, clock, ed25519.Ed25519PrivateKey.generate())  # provider rotates
    assert bearer.authenticate(rotated.token()) is None  # too soon to refetch
    monotonic.advance(30)
    assert bearer.authenticate(rotated.token()) is not None
    assert jwks_server.requests == 3


def test_dead_jwks_with_no_cached_key_is_503(users: MemoryUserStore, clock: FakeClock) -> None:
    dead = f"http://127.0.0.1:{free_port()}/jwks.json"
    app = TestApp(
        AuthMiddleware(
            echo_app, users=users, bearer=make_bearer(dead, clock, jwks=None), throttle=None
        )
    )
    key = ed25519.Ed25519PrivateKey.generate()
    token = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": clock.now + 60},
        key,
        algorithm="EdDSA",
        headers={"kid": "k1"},
    )
    response = app.get("/x", headers=auth(token), status=503)
    assert "Retry-After" in response.headers
    app.get("/x", headers=auth(token), status=503)  # still down (rate-limited): still closed


def test_cached_keys_survive_a_provider_outage(
    jwks_server: JWKSServer, clock: FakeClock, idp: IdP
) -> None:
    monotonic = FakeClock(0.0)
    cache = JWKSCache(
        jwks_server.url, allow_insecure_loopback=True, max_age=60, monotonic=monotonic
    )
    bearer = make_bearer(jwks_server.url, clock, jwks=cache)
    assert bearer.authenticate(idp.token()) is not None
    jwks_server.close()
    monotonic.advance(61)  # past max_age: the refetch fails, the cached key still serves
    assert bearer.authenticate(idp.token()) is not None


def test_jwks_redirects_are_not_followed(clock: FakeClock, idp: IdP) -> None:
    other = JWKSServer()  # serves the right keys, but only via a redirect
    other.document = idp.server.document
    idp.server.redirect_to = other.url
    bearer = make_bearer(idp.server.url, clock)
    with pytest.raises(StoreUnavailable):
        bearer.authenticate(idp.token())
    assert other.requests == 0
    other.close()


def test_jwks_url_must_be_https() -> None:
    with pytest.raises(ValueError, match="https"):
        JWKSCache("http://idp.example.test/jwks")
    with pytest.raises(ValueError, match="https"):
        JWKSCache("http://127.0.0.1:8080/jwks")  # loopback http needs the explicit flag
    with pytest.raises(ValueError, match="https"):
        JWKSCache("file:///etc/passwd", allow_insecure_loopback=True)
    JWKSCache("https://idp.example.test/jwks")  # nothing fetched until a token arrives


def test_only_asymmetric_algorithms_are_configurable() -> None:
    with pytest.raises(ValueError, match="HS256"):
        JWTBearer(jwks_url="https://x.test/j", issuer="i", audience="a", algorithms=["HS256"])


# -- issue 14: encodings, an unloadable JWKS entry, crit --------------------------------


@pytest.mark.parametrize("key", [0, 1, 2], ids=["RS256", "ES256", "EdDSA"])
def test_non_canonical_base64url_is_refused(
    app: TestApp, bearer: JWTBearer, idp: IdP, key: int
) -> None:
    """Issue 14 item 15: the provider's token in any other spelling is invalid."""
    from tests.jwt.test_manager import spellings

    token = idp.token(key)
    app.get("/x", headers=auth(token), status=200)
    refused(app, token + "=")  # accepted by PyJWT 2.15
    for other in spellings(token):
        assert bearer.authenticate(other) is None, other


@pytest.mark.parametrize(
    "bad",
    [
        {"alg": "none"},  # PyJWK raises NotImplementedError for it
        {"alg": "HS256"},
        {"alg": ["RS256"]},
        {"n": "AQAB"},
        {"e": 3},
        {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"},
        {"kty": "OKP", "crv": "X25519", "x": "AA"},
    ],
)
def test_an_unloadable_jwks_entry_is_skipped(
    jwks_server: JWKSServer,
    clock: FakeClock,
    idp: IdP,
    app: TestApp,
    caplog: pytest.LogCaptureFixture,
    bad: dict[str, Any],
) -> None:
    """Issue 14 item 18: one bad key is logged (kid only) and skipped; the others still work."""
    broken = {**idp.keys[0].public_jwk(), "kid": "broken-key", **bad}
    jwks_server.document = {"keys": [broken, *jwks_server.document["keys"]]}
    with caplog.at_level("WARNING", logger="restauth"):
        for key in (0, 1, 2):
            app.get("/x", headers=auth(idp.token(key)), status=200)
        refused(app, idp.token(0, headers={"kid": "broken-key"}))
    skipped = [r for r in caplog.records if "broken-key" in r.getMessage()]
    assert [r.levelname for r in skipped] == ["WARNING"]
    assert idp.keys[0].public_jwk()["n"][:40] not in caplog.text  # no key material
    assert jwks_server.requests == 1


def test_a_crit_header_is_refused(app: TestApp, idp: IdP) -> None:
    """Issue 14 item 20: any ``crit``, even one PyJWT understands (``b64``), is invalid."""
    key = idp.keys[0]
    claims = jwt.decode(idp.token(0), options={"verify_signature": False})
    base = {"alg": key.alg, "kid": key.kid, "typ": "JWT"}
    app.get("/x", headers=auth(signed(base, claims, idp.private[key.kid])), status=200)
    for extra in (
        {"crit": ["b64"], "b64": True},
        {"crit": ["urn:example:unknown"], "urn:example:unknown": 1},
        {"crit": []},
        {"crit": "b64"},
    ):
        refused(app, signed({**base, **extra}, claims, idp.private[key.kid]))


NON_FINITE = [(claim, value) for claim in ("exp", "nbf", "iat") for value in ("nan", "inf")]
NON_FINITE.append(("nbf", "-inf"))
NON_FINITE.append(("iat", "-inf"))  # an exp of -inf is simply past: refused as expired


@pytest.mark.parametrize(("claim", "value"), NON_FINITE)
def test_a_non_finite_time_claim_is_refused(app: TestApp, idp: IdP, claim: str, value: str) -> None:
    """NaN compares false with everything: an exp of NaN would never be past."""
    refused(app, idp.token(**{claim: float(value)}))
