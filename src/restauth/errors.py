"""Every exception restauth raises, under one root: :class:`RestauthError`.

Failures of a *request* (a malformed header, a wrong password, an unknown token) are
values, never exceptions; what is left is infrastructure (a store that cannot be
reached) and setup or administration mistakes (a bad configuration, a taken userid).
``except restauth.RestauthError`` catches all of them, and nothing else.

Where a class also derives from a built-in exception (``ValueError``, ``KeyError``), it is
so that code written before the hierarchy existed (``except ValueError``) keeps working.

This module imports nothing from restauth: every other module may import it.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "MissingSecretKey",
    "NotificationFailed",
    "RestauthError",
    "StoreUnavailable",
    "UnknownUser",
    "UsageError",
    "UserExists",
    "WeakPassword",
]


class RestauthError(Exception):
    """The root of every exception restauth defines."""


class StoreUnavailable(RestauthError):
    """A user store, token manager or other backend cannot be reached right now.

    The middleware answers 503 with ``Retry-After`` and never lets the request in
    (fail closed). Messages must not contain secrets: they may be logged.
    """


class ConfigError(RestauthError, ValueError):
    """A configuration file, table or value is not acceptable; the message names it.

    Also a ``ValueError``, as it was before the hierarchy existed.
    """


class MissingSecretKey(RestauthError, ValueError):
    """A persistent token manager was built without a key to sign its tokens with."""


class UserExists(RestauthError, ValueError):
    """Enrolment of a userid that is taken (every writable user store raises it)."""


class WeakPassword(RestauthError, ValueError):
    """A new password the password policy refuses; the message says why, in words a
    user can act on (it never holds the password)."""


class UnknownUser(RestauthError, KeyError):
    """A change (password, roles) to a userid the store does not hold.

    ``args[0]`` is the userid. Also a ``KeyError``, as it was before the hierarchy
    existed. Lookups never raise it: ``get`` answers ``None`` for an unknown user, and
    ``remove`` ``False``.
    """


class NotificationFailed(RestauthError):
    """A notification (a reset or verification message) could not be delivered to the mail
    server (connection, TLS, authentication, refusal). The message names the server, the
    step and the server's answer; it never holds the token or the SMTP password, so it may
    be logged. Raised on the outbox's thread: the request was answered already."""


class HashCheckDeferred(RestauthError):
    """Not an error: a decision asked to stop before a password's hash check (the ASGI
    adapter's inline try, :data:`restauth.lookups.DEFER_HASH_CHECK`) reached one, before
    the throttle counted the attempt or anything was audited. The adapter decides again
    in a worker thread; it never leaves restauth."""


class UsageError(RestauthError):
    """A mistake on the ``restauth`` command line: printed as one line, exit code 1."""


class SchemaTooNew(StoreUnavailable, RuntimeError):
    """A store's tables were written by a newer restauth: refused rather than misread.

    Found on the store's first use (building a store does no I/O), so it is a
    :class:`StoreUnavailable`: a request is answered 503 and the message, which names the
    file or database and both versions, is logged; the ``restauth`` command prints it.
    Also a ``RuntimeError``, as it was before the hierarchy existed.
    """
