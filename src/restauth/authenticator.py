"""Credentials in, an :class:`Identity` (or the reason for a refusal) out.

This is where the stores are consulted. It knows nothing of WSGI: the middleware
and the endpoints both call :meth:`Authenticator.authenticate`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from restauth.audit import escape
from restauth.backend import call, failed
from restauth.errors import HashCheckDeferred, StoreUnavailable
from restauth.identity import Identity, Mechanism
from restauth.lookups import DEFER_HASH_CHECK, TokenLookup
from restauth.passwords.cache import PasswordCache
from restauth.passwords.hasher import Check, PasswordHasher
from restauth.throttle.policy import Throttle
from restauth.tokens.base import (
    DEFAULT_MAX_TOKEN_LENGTH,
    DeadToken,
    LimitsTokenLength,
    TokenGrant,
    TokenManager,
    looks_like_token,
)
from restauth.users.base import User, UserStore, WritableUserStore
from restauth.wire.credentials import BasicCredentials, Credentials, TokenCredentials

logger = logging.getLogger("restauth")


class Failure(enum.Enum):
    """Why credentials were refused; decides the challenge, never the body."""

    BAD_PASSWORD = "bad password"  # wrong password, unknown user, bad token-as-password
    BAD_TOKEN = "bad token"  # unknown, expired or revoked Token/Bearer


@dataclass(frozen=True, slots=True)
class Throttled:
    """Refused before any check: too many recent failures (answer 429, ``Retry-After``)."""

    wait: int


@dataclass(slots=True)
class Authenticated:
    """A success. ``grant`` is set when a token was presented (and renewed).

    Internal, one per request, only read: not frozen, which halves its cost to build.

    ``external`` marks a caller an identity provider vouched for (a bearer JWT): such a
    caller is not in the user store and gets no restauth token.
    """

    identity: Identity
    stamp: str
    grant: TokenGrant | None = None
    external: bool = False


class Bearer(Protocol):
    """Verifies bearer tokens another party signed (see :class:`restauth.bearers.jwt.JWTBearer`)."""

    def handles(self, token: str) -> bool:
        """Cheap routing: does this token claim to come from this bearer's issuer?"""
        ...

    def authenticate(self, token: str) -> Identity | None: ...


class Authenticator:
    """Checks Basic passwords, tokens and tokens-as-passwords against the stores.

    An unknown user costs the same single hash check as a wrong password, and a
    Basic password is first tried as the user's token (RESTHeart's token-as-password)
    when it has a token's shape. A token is accepted only while its credential stamp
    matches the user's, so password changes and removals kill tokens everywhere.
    A right password may be remembered by ``cache`` (see :mod:`restauth.passwords.cache`).

    After a right password is checked against a hash weaker than ``hasher`` makes now
    (see :meth:`PasswordHasher.needs_rehash`), the hash is replaced through
    :meth:`WritableUserStore.replace_hash`, keeping the credential stamp so no session
    ends. Best effort: a read-only or unreachable store only costs a WARNING.

    ``throttle`` (see :mod:`restauth.throttle.policy`) guards what can be guessed: passwords.
    A password attempt is refused, by a read, while its userid or address has too many
    recent failures, even when the password is right; it is *counted* (atomically, before
    its check) only when it is about to reach the hasher, so the guesses that reach the
    hasher are exactly the counted ones. Tokens are never throttled: 128 random bits
    cannot be guessed, so a refused token is not counted, and a live token (presented
    as a token or as a Basic password) is never refused, whatever its address did.
    """

    def __init__(
        self,
        users: UserStore,
        tokens: TokenManager | None,
        hasher: PasswordHasher,
        *,
        cache: PasswordCache | None = None,
        bearers: Sequence[Bearer] = (),
        throttle: Throttle | None = None,
    ) -> None:
        self.users = users
        self.throttle = throttle
        self.tokens = tokens
        self.hasher = hasher
        self.cache = cache
        self.bearers = tuple(bearers)
        self._writable = users if isinstance(users, WritableUserStore) else None
        length = tokens.max_token_length if isinstance(tokens, LimitsTokenLength) else None
        # JWTs are longer than id.mac tokens
        self._max_token_length = length if isinstance(length, int) else DEFAULT_MAX_TOKEN_LENGTH

    def authenticate(
        self,
        credentials: Credentials,
        address: str | None = None,
        looked_up: TokenLookup | None = None,
    ) -> Authenticated | Failure | Throttled | DeadToken:
        """Raises :class:`restauth.StoreUnavailable` when a store cannot answer.
        ``address`` is the client's, for the throttle's per-address counter. A genuine
        token whose session is over comes back as its :class:`DeadToken` (refused like
        any bad token; the gate writes whose it was in the audit record). ``looked_up``
        holds a Token check's reads when they were done ahead, or is
        :data:`~restauth.lookups.DEFER_HASH_CHECK` (see :mod:`restauth.lookups`)."""
        if looked_up is not None and looked_up is not DEFER_HASH_CHECK:
            return self._looked_up(credentials, looked_up)
        if isinstance(credentials, BasicCredentials):
            return self._basic(
                credentials.userid, credentials.password, address, looked_up is DEFER_HASH_CHECK
            )
        return self._any_token(credentials)

    def _looked_up(
        self, credentials: Credentials, looked_up: TokenLookup
    ) -> Authenticated | Failure | DeadToken:
        """A Token check whose reads were done ahead: judged without asking a store. Other
        credentials here mean the caller read the request otherwise than the gate (it
        would wait on a store where it must not): refused, as any internal error (503)."""
        if not isinstance(credentials, TokenCredentials) or credentials.token != looked_up.token:
            raise RuntimeError("the credentials are not the ones whose reads were done ahead")
        found, user = looked_up.result()
        return self._judge(found, user, "cookie" if credentials.scheme == "cookie" else "token")

    def _any_token(self, credentials: TokenCredentials) -> Authenticated | Failure | DeadToken:
        if credentials.scheme == "bearer":
            for bearer in self.bearers:
                if bearer.handles(credentials.token):
                    identity = call(bearer.authenticate, credentials.token)
                    if identity is None:
                        return Failure.BAD_TOKEN
                    return Authenticated(identity, "", external=True)
        mechanism: Mechanism = "cookie" if credentials.scheme == "cookie" else "token"
        return self._token(credentials.token, mechanism)

    def _basic(
        self, userid: str, password: str, address: str | None, defer_hash: bool = False
    ) -> Authenticated | Failure | Throttled | DeadToken:
        user = call(self.users.get, userid)
        if user is not None and (user.disabled or not user.verified):
            user = None  # answered exactly as a wrong password (its sessions ended already)
        by_token = None if user is None else self._token_as_password(user, password)
        if by_token is not None:
            return by_token  # a live token is never throttled; a dead one is no guess either
        throttle, seen = self.throttle, False
        if throttle is not None:
            wait, seen = call(throttle.check, userid, address)
            if wait:
                return Throttled(wait)
        known = None if user is None else self._remembered(user, password)
        if known is not None:
            if seen and throttle is not None:
                call(throttle.success, known.identity.userid)
            return known
        if defer_hash:  # before the attempt is counted: the run in a thread counts it
            raise HashCheckDeferred
        return self._hash_check(user, userid, password, address)

    def _hash_check(
        self, user: User | None, userid: str, password: str, address: str | None
    ) -> Authenticated | Failure | Throttled:
        """The one expensive step, for an attempt the throttle admits (and counts)."""
        throttle = self.throttle
        attempt = None if throttle is None else call(throttle.begin, userid, address)
        if attempt is not None and attempt.wait:
            return Throttled(attempt.wait)
        try:
            if user is None:
                self.hasher.verify(password, None)  # an unknown user costs one hash check too
                return Failure.BAD_PASSWORD
            if not self._password_ok(user.userid, password, user.password_hash):
                return Failure.BAD_PASSWORD  # counted already
        except BaseException:
            if attempt is not None:
                attempt.abandoned()  # no verdict: not a guess
            raise
        if attempt is not None:
            call(attempt.succeeded)
        return Authenticated(Identity(user.userid, user.roles, "basic"), user.stamp)

    def _token_as_password(self, user: User, password: str) -> Authenticated | DeadToken | None:
        """The user's live token as a Basic password (RESTHeart): no hash check. One of the
        user's own tokens whose session is over comes back as its :class:`DeadToken`: it
        carries a MAC only restauth can make, so it is no guess to count or to hash."""
        if self.tokens is None or not looks_like_token(password, self._max_token_length):
            return None
        grant = call(self.tokens.authenticate, password)
        if not isinstance(grant, TokenGrant):
            return grant if isinstance(grant, DeadToken) and grant.userid == user.userid else None
        if grant.userid != user.userid:
            return None
        if grant.stamp != user.stamp:  # a password change or removal ended it
            return DeadToken(user.userid, grant.session, "ended")
        return Authenticated(Identity(user.userid, user.roles, "token-basic"), user.stamp, grant)

    def _remembered(self, user: User, password: str) -> Authenticated | None:
        """A right password the cache remembers: no hash check (the login that ran
        one did any rehash)."""
        cache = self.cache
        if cache is None or not cache.hit(user.userid, password, user.password_hash):
            return None
        return Authenticated(Identity(user.userid, user.roles, "basic"), user.stamp)

    def _password_ok(self, userid: str, password: str, stored: str) -> bool:
        """The hash check (the only expensive step); a right password is remembered."""
        cache = self.cache
        verdict = self.hasher.check(password, stored)
        if verdict is Check.CORRUPT:  # the userid, never the hash: it is a secret too
            logger.error("stored password hash of user %s is unreadable", escape(userid))
        if verdict is Check.MISMATCH and self.hasher.needs_rehash(stored):
            # an imported hash may be far cheaper than the settings (PBKDF2 with 1 round):
            # a wrong password costs a check at today's cost too, so whether a user exists
            # does not show in the time a wrong password takes (an unknown user costs one)
            self.hasher.verify(password, None)
        if verdict is not Check.MATCH:
            return False
        if self.hasher.needs_rehash(stored):
            stored = self._rehash(userid, password, stored)
        if cache is not None:
            cache.add(userid, password, stored)  # keyed on the hash now stored
        return True

    def _rehash(self, userid: str, password: str, stored: str) -> str:
        """Replace a weaker hash of a password that just verified; the hash now stored."""
        if self._writable is None:
            logger.warning(
                "password hash of user %s is weaker than the settings; the store is read-only",
                escape(userid),
            )
            return stored
        try:
            new_hash = self.hasher.hash(password)
        except ValueError:  # an imported hash of a password enrolment refuses: keep it
            return stored
        try:
            replaced = self._writable.replace_hash(userid, stored, new_hash)
        except StoreUnavailable as error:
            logger.warning("password rehash of user %s skipped: %s", escape(userid), error)
            return stored
        except Exception as error:  # a third-party store's bug must not refuse a right password
            logger.warning(
                "password rehash of user %s failed: %s", escape(userid), type(error).__name__
            )
            return stored
        if not replaced:  # the password changed meanwhile: that change wins
            return stored
        logger.info("password hash of user %s upgraded", escape(userid))
        return new_hash

    def _token(self, token: str, mechanism: Mechanism) -> Authenticated | Failure | DeadToken:
        tokens = self.tokens
        if tokens is None:
            return Failure.BAD_TOKEN
        step: Callable[..., object] = tokens.authenticate
        try:  # two store calls, one ``try`` (backend.call's rule, without two more frames)
            grant = tokens.authenticate(token)
            if not isinstance(grant, TokenGrant):
                return Failure.BAD_TOKEN if grant is None else grant
            step = self.users.get
            user = self.users.get(grant.userid)
        except Exception as error:
            raise failed(step, error) from error
        return self._judge(grant, user, mechanism)

    @staticmethod
    def _judge(
        found: TokenGrant | DeadToken | None, user: User | None, mechanism: Mechanism
    ) -> Authenticated | Failure | DeadToken:
        """A Token check's verdict on its two reads: the token's record and its user's."""
        if not isinstance(found, TokenGrant):
            return Failure.BAD_TOKEN if found is None else found
        if user is None or user.stamp != found.stamp:  # a password change or removal ended it
            return DeadToken(found.userid, found.session, "ended")
        return Authenticated(Identity(user.userid, user.roles, mechanism), user.stamp, found)
