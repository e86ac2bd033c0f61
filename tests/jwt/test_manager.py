"""JWTTokenManager: verify, slide, cap, revoke, rotate, and refuse every forged token."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from base64 import urlsafe_b64decode
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from restauth import TokenManager
from restauth.tokens.base import DeadToken, TokenGrant
from restauth.tokens.jwt import TOKEN_TYPE, JWTKey, JWTTokenManager
from restauth.tokens.revocation import CachedRevocation, MemoryRevocation
from tests.conftest import FakeClock
from tests.jwt.conftest import HS_SECRET, b64, forge, signed


def manager(key: JWTKey, clock: FakeClock, **options: Any) -> JWTTokenManager:
    options = {"ttl": 900, "max_lifetime": 3600, "clock": clock, **options}
    return JWTTokenManager(key, **options)


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def header_of(token: str) -> dict[str, Any]:
    header: dict[str, Any] = jwt.get_unverified_header(token)
    return header


def live(verdict: TokenGrant | DeadToken | None) -> TokenGrant:
    assert isinstance(verdict, TokenGrant), verdict
    return verdict


def dead(verdict: TokenGrant | DeadToken | None, reason: str) -> DeadToken:
    """A genuine token whose session is over: known, never let in."""
    assert isinstance(verdict, DeadToken), verdict
    assert verdict.reason == reason
    return verdict


def test_is_a_token_manager(any_key: JWTKey, clock: FakeClock) -> None:
    assert isinstance(manager(any_key, clock), TokenManager)


def test_issue_and_verify(any_key: JWTKey, clock: FakeClock) -> None:
    tokens = manager(any_key, clock)
    grant = tokens.issue("alice", "stamp-1")
    assert (grant.userid, grant.stamp, grant.created) == ("alice", "stamp-1", clock.now)
    assert grant.valid_until == clock.now + 900
    header, claims = header_of(grant.token), claims_of(grant.token)
    assert header == {"alg": any_key.alg, "kid": any_key.kid, "typ": TOKEN_TYPE}
    assert claims["sub"] == "alice"
    assert claims["iss"] == "restauth"
    assert claims["exp"] == clock.now + 900
    assert claims["max_exp"] == clock.now + 3600
    assert claims["auth_time"] == claims["iat"] == clock.now
    assert claims["stamp"] == "stamp-1"
    assert (claims["sid"], claims["gen"]) == (grant.session, 0)
    again = live(tokens.authenticate(grant.token))
    assert again.token == grant.token
    assert (again.userid, again.session) == ("alice", grant.session)
    other = tokens.issue("alice", "stamp-1")
    assert other.token != grant.token  # each login signs a new JWT, of a new session
    assert other.session != grant.session


def test_another_node_with_the_same_key_verifies(any_key: JWTKey, clock: FakeClock) -> None:
    token = manager(any_key, clock).issue("alice", "s").token
    assert isinstance(manager(any_key, clock).authenticate(token), TokenGrant)


def test_sliding_ttl_re_signs_past_half_idle_life(clock: FakeClock) -> None:
    tokens = manager(JWTKey(HS_SECRET), clock)
    first = tokens.issue("alice", "s")
    clock.advance(449)
    assert live(tokens.authenticate(first.token)).token == first.token
    clock.advance(1)
    renewed = live(tokens.authenticate(first.token))
    assert renewed.token != first.token
    assert renewed.valid_until == clock.now + 900
    assert (renewed.created, renewed.session) == (first.created, first.session)
    assert claims_of(renewed.token)["max_exp"] == claims_of(first.token)["max_exp"]
    assert claims_of(renewed.token)["gen"] == 0  # the same session, not rotated
    (session,) = tokens.sessions("alice")
    assert (session.last_used, session.valid_until) == (clock.now, clock.now + 900)
    clock.advance(800)  # the first token's idle life is over; the renewed one lives on
    assert dead(tokens.authenticate(first.token), "expired").session == first.session
    live(tokens.authenticate(renewed.token))


def test_idle_timeout(clock: FakeClock) -> None:
    tokens = manager(JWTKey(HS_SECRET), clock)
    token = tokens.issue("alice", "s").token
    clock.advance(900)
    dead(tokens.authenticate(token), "expired")
    assert tokens.sessions("alice") == []


def test_max_lifetime_caps_renewals(clock: FakeClock) -> None:
    tokens = manager(JWTKey(HS_SECRET), clock)
    token = tokens.issue("alice", "s").token
    start = clock.now
    for _ in range(10):  # active all along: renewed every 450 s
        clock.advance(450)
        verdict = tokens.authenticate(token)
        if clock.now >= start + 3600:
            dead(verdict, "expired")
            break
        grant = live(verdict)
        assert grant.valid_until <= start + 3600
        token = grant.token
    else:
        pytest.fail("the token outlived max_lifetime")


def test_revoke_kills_tokens_signed_before_and_not_a_new_login(clock: FakeClock) -> None:
    tokens = manager(JWTKey(HS_SECRET), clock)
    old = tokens.issue("alice", "s").token
    bob = tokens.issue("bob", "s").token
    assert tokens.revoke("alice") == 1
    dead(tokens.authenticate(old), "ended")
    live(tokens.authenticate(bob))  # per user
    fresh = tokens.issue("alice", "s")  # same instant as the logout
    live(tokens.authenticate(fresh.token))


def test_revoke_covers_a_node_whose_clock_runs_ahead(clock: FakeClock) -> None:
    store = MemoryRevocation()
    ahead = FakeClock(clock.now + 0.5)
    token = manager(JWTKey(HS_SECRET), ahead, revocation=store).issue("alice", "s").token
    here = manager(JWTKey(HS_SECRET), clock, revocation=store)
    here.revoke("alice")
    dead(here.authenticate(token), "ended")


def test_key_rotation(clock: FakeClock) -> None:
    old_key = JWTKey(ed25519.Ed25519PrivateKey.generate())
    new_key = JWTKey(HS_SECRET)
    old_token = manager(old_key, clock).issue("alice", "s").token
    rotated = manager(new_key, clock, old_keys=[old_key])
    grant = live(rotated.authenticate(old_token))
    assert header_of(grant.token)["kid"] == new_key.kid
    assert claims_of(grant.token)["auth_time"] == claims_of(old_token)["auth_time"]
    assert claims_of(grant.token)["sid"] == claims_of(old_token)["sid"]
    assert manager(new_key, clock).authenticate(old_token) is None  # old key retired
    public_only = JWTKey(old_key.public_key)  # type: ignore[arg-type]
    live(manager(new_key, clock, old_keys=[public_only]).authenticate(old_token))


def test_construction_errors(clock: FakeClock) -> None:
    public = JWTKey(ed25519.Ed25519PrivateKey.generate().public_key())
    with pytest.raises(ValueError, match="can sign"):
        JWTTokenManager(public)
    key = JWTKey(HS_SECRET)
    with pytest.raises(ValueError, match="share the kid"):
        JWTTokenManager(key, old_keys=[JWTKey(HS_SECRET)])
    short_cache = CachedRevocation(MemoryRevocation(), horizon=60)
    with pytest.raises(ValueError, match="horizon"):
        JWTTokenManager(key, revocation=short_cache, max_lifetime=3600)


# -- rejections -----------------------------------------------------------------------


def test_alg_none_is_refused(any_key: JWTKey, clock: FakeClock) -> None:
    tokens = manager(any_key, clock)
    claims = claims_of(tokens.issue("alice", "s").token)
    for alg in ("none", "None", "NONE"):
        forged = forge({"alg": alg, "kid": any_key.kid, "typ": TOKEN_TYPE}, claims)
        assert tokens.authenticate(forged) is None
        assert tokens.authenticate(forged.rstrip(".") + ".") is None


def test_hs256_signed_with_the_public_key_is_refused(
    rsa_private: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    """HS/RS confusion: the attacker HMACs with the public PEM and names the RSA key's kid."""
    key = JWTKey(rsa_private)
    tokens = manager(key, clock)
    claims = claims_of(tokens.issue("alice", "s").token)
    claims["sub"] = "admin"
    public_pem = rsa_private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for secret in (public_pem, public_pem.strip(), key.kid.encode()):
        header = {"alg": "HS256", "kid": key.kid, "typ": TOKEN_TYPE}
        unsigned = forge(header, claims).rsplit(".", 1)[0]
        mac = hmac.digest(secret, unsigned.encode(), hashlib.sha256)
        assert tokens.authenticate(f"{unsigned}.{b64(mac)}") is None


def test_another_algorithm_under_the_same_kid_is_refused(clock: FakeClock) -> None:
    secret = HS_SECRET * 2  # long enough for HS512, so only the pinned algorithm refuses it
    key = JWTKey(secret)
    tokens = manager(key, clock)
    token = jwt.encode(
        claims_of(tokens.issue("alice", "s").token),
        secret,
        algorithm="HS512",
        headers={"kid": key.kid, "typ": TOKEN_TYPE},
    )
    assert tokens.authenticate(token) is None


def test_tampered_tokens_are_refused(any_key: JWTKey, clock: FakeClock) -> None:
    tokens = manager(any_key, clock)
    token = tokens.issue("alice", "s").token
    header, payload, signature = token.split(".")
    claims = claims_of(token)
    claims["sub"] = "admin"
    other_payload = b64(json.dumps(claims).encode())
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for bad in (
        f"{header}.{other_payload}.{signature}",
        f"{header}.{payload}.{flipped}",
        f"{header}.{payload}.",
        f"{header}.{payload}",
        token + ".x",
        "not-a-jwt",
        "a.b.c",
        "",
    ):
        assert tokens.authenticate(bad) is None, bad


def test_oversized_token_is_refused_before_parsing(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = manager(JWTKey(HS_SECRET), clock, max_token_size=1000)
    calls: list[str] = []
    import restauth.tokens.jwt_keys as module

    real = module.unverified_part
    monkeypatch.setattr(module, "unverified_part", lambda t, i: calls.append(t) or real(t, i))
    big = tokens.issue("alice", "s" * 700)  # a long stamp makes a long, genuine token
    assert len(big.token) > 1000
    assert tokens.authenticate(big.token) is None
    assert calls == []  # refused on its length alone
    small = tokens.issue("alice", "s")
    live(tokens.authenticate(small.token))
    assert calls == [small.token]


def test_wrong_issuer_type_or_unknown_kid_is_refused(clock: FakeClock) -> None:
    key = JWTKey(HS_SECRET)
    ours = manager(key, clock)
    theirs = manager(key, clock, issuer="someone-else")
    assert ours.authenticate(theirs.issue("alice", "s").token) is None
    claims = claims_of(ours.issue("alice", "s").token)
    for header in ({"kid": key.kid, "typ": "JWT"}, {"kid": "other", "typ": TOKEN_TYPE}, {}):
        token = jwt.encode(claims, HS_SECRET, algorithm="HS256", headers=header)
        assert ours.authenticate(token) is None, header
    with_aud = jwt.encode(
        {**claims, "aud": "x"}, HS_SECRET, headers={"kid": key.kid, "typ": TOKEN_TYPE}
    )
    assert ours.authenticate(with_aud) is None  # a token meant for some audience is not ours


@pytest.mark.parametrize(
    "claim", ["sub", "exp", "max_exp", "auth_time", "stamp", "jti", "iat", "sid", "gen"]
)
def test_a_missing_or_mistyped_claim_is_refused(claim: str, clock: FakeClock) -> None:
    key = JWTKey(HS_SECRET)
    tokens = manager(key, clock)
    claims = claims_of(tokens.issue("alice", "s").token)
    headers = {"kid": key.kid, "typ": TOKEN_TYPE}
    missing = {k: v for k, v in claims.items() if k != claim}
    assert tokens.authenticate(jwt.encode(missing, HS_SECRET, headers=headers)) is None
    mistyped = {**claims, claim: True if claim != "sub" else 42}
    assert tokens.authenticate(jwt.encode(mistyped, HS_SECRET, headers=headers)) is None


def test_a_token_from_the_future_is_refused(clock: FakeClock) -> None:
    here = manager(JWTKey(HS_SECRET), clock)
    ahead = manager(JWTKey(HS_SECRET), FakeClock(clock.now + 30)).issue("alice", "s").token
    live(here.authenticate(ahead))  # a node whose clock runs a little ahead
    future = manager(JWTKey(HS_SECRET), FakeClock(clock.now + 61)).issue("alice", "s").token
    assert here.authenticate(future) is None


# -- issue 14: encodings, nbf, exact auth_time, crit ------------------------------------


def spellings(token: str) -> list[str]:
    """Other spellings of the same signed bytes: each decodes to what ``token`` decodes to."""
    header, payload, signature = token.split(".")
    last = signature[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    unused_bits = alphabet[alphabet.index(last) | 1]  # set a bit the decoder throws away
    assert len(signature) % 4 in (2, 3)  # true of every algorithm used here
    assert unused_bits != last
    standard = signature.replace("-", "+").replace("_", "/")
    return [
        f"{header}.{payload}.{signature}=",  # PyJWT 2.15 accepts this one
        f"{header}.{payload}.{signature}" + "=" * (-len(signature) % 4),
        f"{header}=.{payload}.{signature}",
        f"{header}.{payload}=.{signature}",
        f"{header}.{payload}.{signature[:-1]}{unused_bits}",
        f"{header}.{payload}.{standard}" if standard != signature else f"{header}.{payload}.+",
        f"{header}.{payload}.{signature} ",
        f"{header}.{payload}.{signature[:10]}\n{signature[10:]}",
    ]


def test_non_canonical_base64url_is_refused(any_key: JWTKey, clock: FakeClock) -> None:
    """Issue 14 item 15: one signed token has exactly one accepted spelling."""
    tokens = manager(any_key, clock)
    token = tokens.issue("alice", "s").token
    live(tokens.authenticate(token))
    for other in spellings(token):
        assert tokens.authenticate(other) is None, other


def test_canonical_check_is_decode_then_encode(clock: FakeClock) -> None:
    """``is_canonical_jws`` says yes exactly when re-encoding each decoded segment gives it back."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from restauth.tokens.jwt import is_canonical_jws

    def by_definition(token: str) -> bool:
        parts = token.split(".")
        if len(parts) != 3:
            return False
        for part in parts:
            try:
                raw = urlsafe_b64decode(part.encode("ascii") + b"=" * (-len(part) % 4))
            except (ValueError, UnicodeEncodeError):
                return False
            if b64(raw) != part:
                return False
        return True

    segment = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/= \n.é")
    encoded = st.binary(max_size=40).map(b64)

    @settings(max_examples=3000, deadline=None)
    @given(st.tuples(st.one_of(segment, encoded), st.one_of(segment, encoded), segment | encoded))
    def agree(parts: tuple[str, str, str]) -> None:
        token = ".".join(parts)
        assert is_canonical_jws(token) == by_definition(token), token

    agree()


def test_a_future_nbf_is_refused(clock: FakeClock) -> None:
    """Issue 14 item 16: ``nbf`` is honoured with the same tolerance as ``iat``."""
    key = JWTKey(HS_SECRET)
    tokens = manager(key, clock)
    claims = claims_of(tokens.issue("alice", "s").token)
    headers = {"kid": key.kid, "typ": TOKEN_TYPE}

    def with_nbf(nbf: object) -> str:
        return jwt.encode({**claims, "nbf": nbf}, HS_SECRET, headers=headers)

    live(tokens.authenticate(with_nbf(clock.now - 10)))
    live(tokens.authenticate(with_nbf(clock.now + 60)))  # within the tolerance
    assert tokens.authenticate(with_nbf(clock.now + 61)) is None
    assert tokens.authenticate(with_nbf(clock.now + 3000)) is None
    assert tokens.authenticate(with_nbf("soon")) is None
    assert tokens.authenticate(with_nbf(True)) is None


@pytest.mark.parametrize("offset", [-0.0004, -0.0001, 0.0, 0.0001, 0.0004, 0.0006])
def test_auth_time_is_exact_around_a_revocation(
    offset: float, make_revocation: Any, clock: FakeClock
) -> None:
    """Issue 14 item 17: after the revocation instant lives, at or before it dies, to the µs."""
    clock.advance(0.0002)  # an instant that is not a whole millisecond
    here = manager(JWTKey(HS_SECRET), clock, revocation=make_revocation())
    here.revoke("alice")
    instant = here.revocation.not_before("alice")
    assert instant == clock.now + here.skew
    other = FakeClock(instant + offset)  # a node whose clock reads just before or after it
    token = manager(JWTKey(HS_SECRET), other, revocation=make_revocation()).issue("alice", "s")
    assert token.created > instant  # a login starts after the record, by the least it can
    assert token.created == (other.now if offset > 0 else math.nextafter(instant, math.inf))
    assert claims_of(token.token)["auth_time"] == token.created  # carried exactly
    live(here.authenticate(token.token))
    before = manager(JWTKey(HS_SECRET), FakeClock(instant + offset), revocation=MemoryRevocation())
    earlier = before.issue("alice", "s").token  # signed where no revocation was seen
    assert isinstance(here.authenticate(earlier), TokenGrant) is (offset > 0)


def test_a_crit_header_is_refused(any_key: JWTKey, clock: FakeClock) -> None:
    """Issue 14 item 20: restauth understands no JWS extension, so any ``crit`` is refused."""
    tokens = manager(any_key, clock)
    claims = claims_of(tokens.issue("alice", "s").token)
    base = {"alg": any_key.alg, "kid": any_key.kid, "typ": TOKEN_TYPE}
    live(tokens.authenticate(signed(base, claims, any_key._signing)))
    understood = {**base, "crit": ["b64"], "b64": True}  # PyJWT 2.15 knows b64 and accepts it
    pyjwt_accepts = signed(understood, claims, any_key._signing)
    jwt.decode(pyjwt_accepts, any_key._verifying, [any_key.alg], options={"verify_iat": False})
    for extra in (
        {"crit": ["b64"], "b64": True},
        {"crit": ["urn:example:unknown"], "urn:example:unknown": 1},
        {"crit": ["exp"], "exp": 1},
        {"crit": []},
        {"crit": "b64"},
        {"crit": None},
    ):
        token = signed({**base, **extra}, claims, any_key._signing)
        assert tokens.authenticate(token) is None, extra


@pytest.mark.parametrize("claim", ["exp", "max_exp", "auth_time", "iat", "nbf"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_time_claim_is_refused(claim: str, value: float, clock: FakeClock) -> None:
    """JSON readers take NaN and Infinity; every comparison with NaN is false, so an exp of
    NaN would never be past. Refused even under restauth's own signature."""
    key = JWTKey(HS_SECRET)
    tokens = manager(key, clock)
    claims = claims_of(tokens.issue("alice", "s").token)
    token = jwt.encode(
        {**claims, claim: value}, HS_SECRET, headers={"kid": key.kid, "typ": TOKEN_TYPE}
    )
    assert tokens.authenticate(token) is None
