"""The user store protocol, the user record, and the rules every store enforces."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from restauth._text import normalize

if TYPE_CHECKING:
    from restauth.passwords.hasher import PasswordHasher

MAX_USERID_LENGTH = 255


@dataclass(frozen=True, slots=True)
class User:
    """A stored user. ``stamp`` changes whenever the credentials do.

    Tokens remember the stamp they were issued under; a token whose stamp no longer
    matches its user's is dead. That is how a password change or a removed user kills
    tokens on every node without the token manager knowing the user store.
    """

    userid: str
    password_hash: str = field(repr=False)  # a hash can be cracked offline: never in a log
    roles: frozenset[str]
    stamp: str


@runtime_checkable
class UserStore(Protocol):
    """What the middleware needs from a user store: one lookup.

    ``get`` returns ``None`` for an unknown user and raises
    :class:`restauth.StoreUnavailable` when the backend cannot be reached (the request
    is answered 503, never let in). It is called on every password login, so it should
    be one round trip.

    Optional members, each a protocol of its own, read once when the middleware is built
    (never per request):

    - ``hasher`` (:class:`HasPasswordHasher`): the :class:`~restauth.PasswordHasher` the
      store hashes with; the middleware verifies and rehashes with the same one unless
      it is given ``password_hasher=``.
    - ``throttle_store()`` (:class:`restauth.throttle.policy.SharesThrottleCounters`):
      failure counters kept beside the users (a SQLite file, a Redis), so every process
      sharing the store throttles together when the token manager offers none.
    - ``close()`` (:class:`restauth._storage.Closeable`): release connections; the CLI
      calls it when a command is done.
    """

    def get(self, userid: str) -> User | None: ...


@runtime_checkable
class WritableUserStore(UserStore, Protocol):
    """A store restauth can manage (the CLI, the demo, tests).

    ``add`` raises :class:`restauth.UserExists` for a taken userid; ``set_password`` and
    ``set_roles`` raise :class:`restauth.UnknownUser` (a ``KeyError``) for a userid the
    store does not hold; ``remove`` answers ``False`` for one. A value that is not
    acceptable (see :func:`check_userid`, :func:`check_roles`) is a ``ValueError``.
    """

    def add(self, userid: str, password: str, roles: Iterable[str] = ()) -> User: ...

    def set_password(self, userid: str, password: str) -> User: ...

    def set_roles(self, userid: str, roles: Iterable[str]) -> User: ...

    def remove(self, userid: str) -> bool: ...

    def userids(self) -> Iterator[str]: ...

    def replace_hash(self, userid: str, old_hash: str, new_hash: str) -> bool:
        """Store a stronger hash of the same password, keeping the credential stamp.

        The authenticator calls it after a successful login when the stored hash is
        weaker than the hasher's current settings; the stamp stays, so the user's
        sessions live on. Compare-and-set: nothing is written, and the answer is
        ``False``, unless the stored hash is still ``old_hash`` (a password change made
        meanwhile wins). Raises :class:`restauth.StoreUnavailable` like ``get``.
        """
        ...


@runtime_checkable
class HasPasswordHasher(Protocol):
    """An optional member of a :class:`UserStore`: the hasher its hashes were made with.

    The middleware (without ``password_hasher=``) verifies passwords and rehashes weak
    hashes with it, so the store and the login agree on the scheme and its cost.
    Read once, when the middleware is built.
    """

    @property
    def hasher(self) -> PasswordHasher: ...


def stamp_of(password_hash: str) -> str:
    """The default credential stamp: a short digest of the hash a password was set with (a new
    salt each time). A rehash of the same password (``replace_hash``) keeps the old stamp."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


def check_userid(userid: str) -> str:
    """Validate a userid at enrolment and return its canonical (NFC) form.

    Userids are case-sensitive and compared exactly after NFC. A userid that NFKC would
    change (``ᴮᴵᴳᴮᴵᴿᴰ`` → ``BIGBIRD``) is refused, so two accounts can never collapse
    into one; a colon is refused because Basic could not express it (RFC 7617).
    """
    if not isinstance(userid, str):
        raise TypeError("userid must be a str")
    canonical = normalize(userid)
    if not canonical:
        raise ValueError("userid must not be empty")
    if len(canonical) > MAX_USERID_LENGTH:
        raise ValueError(f"userid must be at most {MAX_USERID_LENGTH} characters")
    if ":" in canonical:
        raise ValueError("userid must not contain ':' (RFC 7617)")
    if any(unicodedata.category(c)[0] in "CZ" and c != " " for c in canonical):
        raise ValueError("userid must not contain control, format or separator characters")
    if canonical != canonical.strip():
        raise ValueError("userid must not start or end with a space")
    if unicodedata.normalize("NFKC", canonical) != canonical:
        raise ValueError("userid must not contain compatibility characters (it changes under NFKC)")
    return canonical


def check_roles(roles: Iterable[str]) -> frozenset[str]:
    """Roles are non-empty strings without whitespace or commas."""
    if isinstance(roles, str):
        raise TypeError("roles must be an iterable of str, not a str")
    result = frozenset(roles)
    for role in result:
        if not isinstance(role, str) or not role or any(c.isspace() or c == "," for c in role):
            raise ValueError(f"invalid role name: {role!r}")
    return result
