"""Accounts over REST (``/users``): registration, profiles, password change and reset,
verification, administration — the settings here, the HTTP side in
:mod:`restauth.endpoints.accounts`.

Off unless ``AuthMiddleware(..., accounts=Accounts(...))`` (or ``[accounts]`` in the
configuration file). Works on any :class:`~restauth.users.base.AccountStore` (memory,
SQLite, PostgreSQL). May import the stores' protocols, the throttle, ``restauth.notify``
and ``restauth.passwords``; never an HTTP module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from restauth._time import Duration, as_seconds
from restauth.errors import ConfigError
from restauth.notify import Notifier
from restauth.users.base import check_roles

Registration = Literal["off", "open", "verify", "admin"]
REGISTRATION_MODES: tuple[Registration, ...] = ("off", "open", "verify", "admin")

__all__ = ["REGISTRATION_MODES", "Accounts", "Registration"]


@dataclass(frozen=True, slots=True, init=False)
class Accounts:
    """What ``/users`` offers, and how.

    ``registration``: ``"off"`` (the default: only an admin creates users), ``"open"``
    (anyone may register; the account works at once), ``"verify"`` (it works once the
    one-time token the ``notifier`` sends is confirmed) or ``"admin"`` (only holders of
    the middleware's ``admin_role`` create users; the same as ``"off"``, said plainly).
    ``default_roles`` are a self-registered user's. ``notifier`` delivers reset and
    verification tokens (``None``: no password reset); ``reset_ttl``/``verify_ttl``
    bound a token's life (15 minutes). ``requests_per_address`` registrations, reset and
    verification requests are allowed per client address each ``window`` seconds
    (counted where the throttle counts, so every process shares them).
    ``page_size`` is the default (and ``max_page_size`` the largest) page of ``GET /users``.
    """

    registration: Registration
    path: str
    default_roles: frozenset[str]
    notifier: Notifier | None
    reset_ttl: float
    verify_ttl: float
    requests_per_address: int
    window: float
    page_size: int
    max_page_size: int

    def __init__(
        self,
        registration: Registration = "off",
        *,
        path: str = "/users",
        default_roles: Iterable[str] = (),
        notifier: Notifier | None = None,
        reset_ttl: Duration = 900,
        verify_ttl: Duration = 900,
        requests_per_address: int = 10,
        window: Duration = 3600,
        page_size: int = 50,
        max_page_size: int = 500,
    ) -> None:
        if registration not in REGISTRATION_MODES:
            raise ConfigError(
                f"registration must be one of {', '.join(REGISTRATION_MODES)}: {registration!r}"
            )
        if registration == "verify" and notifier is None:
            raise ConfigError("registration='verify' needs a notifier to send the tokens")
        if notifier is not None and not callable(notifier):
            raise ConfigError("notifier must be a callable notifier(userid, purpose, token)")
        _check_path(path)
        _check_counts(
            requests_per_address=requests_per_address,
            page_size=page_size,
            max_page_size=max_page_size,
        )
        try:
            roles = check_roles(default_roles)
            ttls = as_seconds(reset_ttl, "reset_ttl"), as_seconds(verify_ttl, "verify_ttl")
            window_seconds = as_seconds(window, "window")
        except (TypeError, ValueError) as error:
            raise ConfigError(str(error)) from None
        set_ = object.__setattr__
        set_(self, "registration", registration)
        set_(self, "path", path)
        set_(self, "default_roles", roles)
        set_(self, "notifier", notifier)
        set_(self, "reset_ttl", ttls[0])
        set_(self, "verify_ttl", ttls[1])
        set_(self, "requests_per_address", requests_per_address)
        set_(self, "window", window_seconds)
        set_(self, "page_size", page_size)
        set_(self, "max_page_size", max_page_size)

    @property
    def self_service(self) -> bool:
        """Whether anyone may register (``open`` or ``verify``)."""
        return self.registration in ("open", "verify")

    @property
    def password_reset(self) -> bool:
        """Whether ``/users/password-reset`` is served: with a notifier to send the token."""
        return self.notifier is not None


def _check_path(path: str) -> None:
    if not path.startswith("/") or path.endswith("/") or len(path) < 2:
        raise ConfigError(f"accounts path must start with '/' and not end with '/': {path!r}")
    if any(c.isspace() or c in "?#" or not c.isprintable() for c in path):
        raise ConfigError(f"accounts path must be a plain path (no space, '?' or '#'): {path!r}")


def _check_counts(**counts: int) -> None:
    for name, value in counts.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} must be a positive integer")
    if counts["page_size"] > counts["max_page_size"]:
        raise ConfigError("page_size must not exceed max_page_size")
