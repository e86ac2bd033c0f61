"""One-time tokens for a password reset or a verification: made, kept as a digest, used once.

A token is 256 random bits from :mod:`secrets`; the store keeps only its SHA-256 (a
dump of the store resets nobody's password), with the purpose, the user's credential
stamp and a deadline. It ends when it is used, when the user's password changes (the
stamp no longer matches), when a newer token of the same purpose is made for the user,
or after its time.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from restauth._time import Clock
from restauth.notify import Purpose
from restauth.users.base import AccountStore, OneTimeToken, User

TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 128  # what a client may send back: longer is never one of ours


def digest_of(token: str) -> str:
    """The form a store keeps: a hash, so the token itself is written nowhere."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class OneTimeTokens:
    """Issue and check one-time tokens in an :class:`AccountStore`."""

    def __init__(self, store: AccountStore, clock: Clock = time.time) -> None:
        self._store = store
        self._clock = clock

    def issue(self, user: User, purpose: Purpose, ttl: float) -> str:
        """A new token for ``user`` (ending their earlier one of this purpose)."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        deadline = self._clock() + ttl
        self._store.put_one_time(
            OneTimeToken(digest_of(token), user.userid, purpose, user.stamp, deadline)
        )
        return token

    def find(self, token: str, purpose: Purpose) -> tuple[OneTimeToken, User] | None:
        """The live token and its user, or ``None`` (unknown, used, expired, another
        purpose, or the password changed since). Nothing is ended: see :meth:`use`."""
        if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return None
        record = self._store.get_one_time(digest_of(token))
        if record is None or record.purpose != purpose or record.expires <= self._clock():
            return None
        user = self._store.get(record.userid)
        if user is None or user.stamp != record.stamp:
            return None
        return record, user

    def use(self, record: OneTimeToken) -> bool:
        """End the token; ``True`` for the one request that did (two racing requests
        cannot both use it)."""
        return self._store.end_one_time(record.digest)
