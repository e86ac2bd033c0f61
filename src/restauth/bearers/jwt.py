"""Bearer JWTs an external identity provider signed (Keycloak, Auth0, ...; extra ``restauth[jwt]``).

:class:`JWKSCache` fetches the provider's JSON Web Key Set over HTTPS and keeps it;
:class:`JWTBearer` checks a token against it (signature with the key's own algorithm,
``iss``, ``aud``, ``exp``, ``nbf`` with a small leeway) and maps its claims to an
:class:`~restauth.Identity` with mechanism ``"jwt"``. The middleware consults a bearer
when an ``Authorization: Bearer`` token is a JWT whose (unverified) ``iss`` is the
bearer's issuer; everything is verified afterwards, the routing only picks the verifier.

Fail closed: an unknown ``kid`` triggers a refetch (at most one per
``min_refresh_interval``); if the JWKS cannot be fetched and no cached key fits, the
request gets 503 (:class:`~restauth.StoreUnavailable`), never an open door.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import jwt

from restauth._time import Clock
from restauth.errors import StoreUnavailable
from restauth.identity import Identity
from restauth.tokens.jwt import jws_header, unverified_part

logger = logging.getLogger("restauth")

ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")  # asymmetric only: no HS/RS confusion
MAX_JWKS_BYTES = 256 * 1024
MAX_TOKEN_SIZE = 8192
MAX_USERID_LENGTH = 255
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A JWKS URL is configuration: a redirect (maybe to plain HTTP) is refused, not followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class JWKSCache:
    """A provider's signing keys by ``kid``, fetched lazily and refreshed with a bounded rate.

    Keys are kept ``max_age`` seconds (default 1 h), then refetched; if that refetch
    fails the cached keys keep working (logged) and the next try waits
    ``min_refresh_interval`` (default 30 s). An unknown ``kid`` refetches at most once
    per ``min_refresh_interval``, so tokens with made-up ``kid`` values cannot make this
    process hammer the provider. Only ``https://`` URLs, except that
    ``allow_insecure_loopback=True`` permits ``http://127.0.0.1`` (tests).
    Symmetric (``oct``) keys and keys whose ``use`` is not ``sig`` are ignored.
    """

    def __init__(
        self,
        url: str,
        *,
        max_age: float = 3600.0,
        min_refresh_interval: float = 30.0,
        timeout: float = 5.0,
        algorithms: Sequence[str] = ALGORITHMS,
        allow_insecure_loopback: bool = False,
        monotonic: Clock = time.monotonic,
    ) -> None:
        parts = urlsplit(url)
        loopback_http = parts.scheme == "http" and parts.hostname in _LOOPBACK
        if parts.scheme != "https" and not (allow_insecure_loopback and loopback_http):
            raise ValueError("the JWKS URL must use https:// (http only on loopback, for tests)")
        self.url = url
        self.max_age = max_age
        self.min_refresh_interval = min_refresh_interval
        self.timeout = timeout
        self.algorithms = frozenset(algorithms)
        self.monotonic = monotonic
        handlers: list[Any] = [_NoRedirect()]
        if parts.hostname in _LOOPBACK:
            handlers.append(urllib.request.ProxyHandler({}))  # loopback never via a proxy
        self._opener = urllib.request.build_opener(*handlers)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._tried_at: float | None = None  # last attempt, successful or not
        self._failed = False
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The key for ``kid``; ``None`` if the provider does not have it.

        Raises :class:`StoreUnavailable` when the key is not cached and the JWKS
        cannot be fetched (or was unreachable at the last, rate-limited, attempt).
        """
        now = self.monotonic()
        fetched = self._fetched_at
        if fetched is not None and now - fetched >= self.max_age:
            self._refresh(now)
        found = self._keys.get(kid)
        if found is not None:
            return found
        self._refresh(now)
        found = self._keys.get(kid)
        if found is None and self._failed:
            raise StoreUnavailable("the identity provider's JWKS cannot be fetched")
        return found

    def _refresh(self, now: float) -> None:
        with self._lock:
            tried = self._tried_at
            if tried is not None and now - tried < self.min_refresh_interval:
                return  # bounded rate (another thread may just have fetched)
            self._tried_at = now
            try:
                self._keys = self._fetch()
            except (OSError, ValueError, RecursionError) as error:  # URLError etc. are OSError
                self._failed = True  # cached keys (if any) stay in use
                logger.warning("JWKS fetch from %s failed: %s", self.url, type(error).__name__)
                return
            self._failed = False
            self._fetched_at = now

    def _fetch(self) -> dict[str, jwt.PyJWK]:
        # the scheme was checked in __init__: https, or http to loopback when allowed
        request = urllib.request.Request(self.url, headers={"Accept": "application/json"})  # noqa: S310
        with self._opener.open(request, timeout=self.timeout) as response:
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            body = response.read(MAX_JWKS_BYTES + 1)
        if len(body) > MAX_JWKS_BYTES:
            raise ValueError("JWKS too large")
        document = json.loads(body)
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWKS")
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document["keys"]:
            parsed = self._parse(entry)
            if parsed is not None:
                keys[entry["kid"]] = parsed
        return keys

    def _parse(self, entry: object) -> jwt.PyJWK | None:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            return None
        if entry.get("kty") not in ("RSA", "EC", "OKP") or entry.get("use", "sig") != "sig":
            return None
        try:
            key = jwt.PyJWK(entry)
        except Exception as error:  # PyJWT raises many kinds; any of them means: skip the key
            # e.g. "alg": "none" on an RSA key (NotImplementedError), a malformed modulus
            logger.warning(
                "JWKS from %s: skipped the key with kid %.80r (%s)",
                self.url,
                entry["kid"],
                type(error).__name__,
            )
            return None
        return key if key.algorithm_name in self.algorithms else None


class JWTBearer:
    """Accept ``Authorization: Bearer <jwt>`` signed by an identity provider.

    ``issuer`` and ``audience`` must match exactly (``aud`` may be a list containing
    ``audience``); ``exp`` is required, ``nbf`` and ``iat`` are honoured, each with
    ``leeway`` seconds. The userid is ``userid_claim`` (default ``sub``); roles come
    from ``roles_claim``: a claim name (Auth0's namespaced ``https://example.com/roles``
    is looked up as is) or a dotted path (Keycloak's ``realm_access.roles``), holding a
    list of strings or one space-separated string. ``roles_claim=None`` gives no roles.
    """

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        audience: str,
        userid_claim: str = "sub",
        roles_claim: str | None = "realm_access.roles",
        leeway: float = 30.0,
        algorithms: Sequence[str] = ALGORITHMS,
        max_token_size: int = MAX_TOKEN_SIZE,
        clock: Clock = time.time,
        jwks: JWKSCache | None = None,
        allow_insecure_loopback: bool = False,
    ) -> None:
        unsafe = set(algorithms) - set(ALGORITHMS)
        if unsafe:
            raise ValueError(f"algorithms not allowed for a provider's tokens: {sorted(unsafe)}")
        if not issuer or not audience:
            raise ValueError("issuer and audience are required")
        self.issuer = issuer
        self.audience = audience
        self.userid_claim = userid_claim
        self.roles_claim = roles_claim
        self.leeway = leeway
        self.max_token_size = max_token_size
        self.clock = clock
        if jwks is None:
            jwks = JWKSCache(
                jwks_url, algorithms=algorithms, allow_insecure_loopback=allow_insecure_loopback
            )
        self.jwks = jwks

    def handles(self, token: str) -> bool:
        """Whether this token claims to come from this provider (cheap, unverified routing)."""
        if len(token) > self.max_token_size:
            return False
        claims = unverified_part(token, 1)
        return claims is not None and claims.get("iss") == self.issuer

    def authenticate(self, token: str) -> Identity | None:
        """The caller, or ``None`` for a token that fails any check.

        Raises :class:`StoreUnavailable` when the provider's keys cannot be fetched.
        """
        if len(token) > self.max_token_size:
            return None
        header = jws_header(token)
        kid = header.get("kid") if header is not None else None
        if header is None or not isinstance(kid, str):
            return None
        key = self.jwks.key(kid)
        if key is None or header.get("alg") != key.algorithm_name:
            return None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[key.algorithm_name],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "verify_exp": False,  # judged below by clock(), with the leeway
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": ["exp", "iss", "aud"],
                },
            )
        except (jwt.InvalidTokenError, ValueError, TypeError):
            return None
        if not self._times_ok(claims):
            return None
        userid = claims.get(self.userid_claim)
        if not _valid_userid(userid):
            return None
        assert isinstance(userid, str)
        return Identity(userid, self._roles(claims), "jwt")

    def _times_ok(self, claims: dict[str, Any]) -> bool:
        now = self.clock()
        exp = claims.get("exp")
        if not _is_number(exp) or now >= exp + self.leeway:
            return False
        for name in ("nbf", "iat"):
            value = claims.get(name)
            if value is not None and (not _is_number(value) or value > now + self.leeway):
                return False
        return True

    def _roles(self, claims: dict[str, Any]) -> frozenset[str]:
        if self.roles_claim is None:
            return frozenset()
        value: Any = claims.get(self.roles_claim)
        if value is None and "." in self.roles_claim:
            value = claims
            for part in self.roles_claim.split("."):
                value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            value = value.split()
        if not isinstance(value, list):
            return frozenset()
        return frozenset(r for r in value if isinstance(r, str) and r and len(r) <= 255)

    def __repr__(self) -> str:
        return f"JWTBearer(issuer={self.issuer!r}, audience={self.audience!r})"


def _is_number(value: object) -> TypeGuard[float]:
    """A finite JSON number: NaN compares false with everything (an ``exp`` of NaN would
    never be past), and JSON readers accept it."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return math.isfinite(value)


def _valid_userid(value: object) -> bool:
    if not isinstance(value, str) or not value or len(value) > MAX_USERID_LENGTH:
        return False
    return value.isprintable()
