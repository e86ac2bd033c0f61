"""The user store protocol, the user record, and the rules every store enforces."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import EllipsisType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from restauth._text import normalize

if TYPE_CHECKING:
    from restauth.passwords.hasher import PasswordHasher
    from restauth.passwords.policy import PasswordPolicy

MAX_USERID_LENGTH = 255
MAX_EMAIL_LENGTH = 254  # RFC 5321's longest path, less the angle brackets


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
    created: float | None = None  # epoch seconds; None for users older than the field
    email: str | None = None  # where the notifier writes (reset, verification)
    verified: bool = True  # False: registered in "verify" mode, not confirmed yet
    disabled: bool = False  # True: an administrator turned the account off

    @property
    def active(self) -> bool:
        """Whether the account may log in: an inactive one is answered like a wrong password."""
        return self.verified and not self.disabled


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


@dataclass(frozen=True, slots=True)
class OneTimeToken:
    """A reset or verification token as a store keeps it: its digest, never the token.

    ``stamp`` is the user's credential stamp when it was made: a password change ends it.
    """

    digest: str
    userid: str
    purpose: str  # "password-reset" or "verify"
    stamp: str
    expires: float  # epoch seconds


@runtime_checkable
class AccountStore(WritableUserStore, Protocol):
    """A writable store that also keeps what accounts need (``/users``): an email
    address, the verified and disabled flags, when a user was created, a page of users,
    and one-time tokens (password reset, verification).

    ``add``/``set_password`` apply the store's password policy. ``update`` changes only
    the fields given; turning an account inactive (``disabled=True`` or
    ``verified=False``) gives it a new credential stamp, so every session of the user
    ends on every node. ``put_one_time`` replaces the user's earlier token of the same
    purpose (a newer reset ends the older one); ``end_one_time`` deletes one and answers
    ``True`` only to the one caller that deleted it (a token is used once).
    """

    policy: PasswordPolicy | None  # what add and set_password apply (None: hard limits only)

    def add(
        self,
        userid: str,
        password: str,
        roles: Iterable[str] = (),
        *,
        email: str | None = None,
        verified: bool = True,
    ) -> User: ...

    def update(
        self,
        userid: str,
        *,
        roles: Iterable[str] | None = None,
        email: str | EllipsisType | None = ...,  # ...: leave it as it is
        verified: bool | None = None,
        disabled: bool | None = None,
    ) -> User: ...

    def page(self, after: str | None, limit: int) -> list[User]:
        """Up to ``limit`` users in userid order, after ``after`` (``None``: from the start)."""
        ...

    def put_one_time(self, token: OneTimeToken) -> None: ...

    def get_one_time(self, digest: str) -> OneTimeToken | None: ...

    def end_one_time(self, digest: str) -> bool: ...


class AsyncUserReader(Protocol):
    """A user store's ``get`` through an async client, for one event loop (see
    :mod:`restauth.lookups`); raises :class:`~restauth.errors.StoreUnavailable` as the
    store does."""

    async def get(self, userid: str) -> User | None:
        """What the store's own ``get`` answers."""
        ...

    async def aclose(self) -> None:
        """Close the reader's connections."""
        ...


@runtime_checkable
class AsyncUserReads(Protocol):
    """A user store that can read users through an async client."""

    def async_user_reader(self) -> AsyncUserReader | None:
        """A reader for the running event loop, made without I/O; ``None`` when this
        store cannot make one (its reads then run in a thread)."""
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


def new_stamp() -> str:
    """A stamp no hash gives: for an account turned inactive (its sessions end)."""
    return secrets.token_hex(8)


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


def check_email(email: str | None) -> str | None:
    """An address a notifier can write to: one ``@``, no spaces or control characters.

    Deliverability is the mail server's to judge; this only refuses what could never be
    an address (or could inject a header).
    """
    if email is None:
        return None
    if not isinstance(email, str):
        raise TypeError("email must be a str or None")
    local, at, domain = email.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain.strip(".")
        or len(email) > MAX_EMAIL_LENGTH
        or any(c.isspace() or unicodedata.category(c)[0] == "C" for c in email)
        or any(c in email for c in '<>(),;:"[]\\')
    ):
        raise ValueError("email must be an address like name@example.org")
    return email


def check_roles(roles: Iterable[str]) -> frozenset[str]:
    """Roles are non-empty strings without whitespace or commas."""
    if isinstance(roles, str):
        raise TypeError("roles must be an iterable of str, not a str")
    result = frozenset(roles)
    for role in result:
        if not isinstance(role, str) or not role or any(c.isspace() or c == "," for c in role):
            raise ValueError(f"invalid role name: {role!r}")
    return result
