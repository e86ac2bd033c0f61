"""Notifiers: how a one-time token (password reset, verification) reaches its user.

A notifier is any callable ``notifier(userid, purpose, token)``; restauth calls it off
the request (see :mod:`restauth.accounts.outbox`), so a slow mail server never shows in
a response's timing. ``purpose`` is :data:`PASSWORD_RESET` or :data:`VERIFY`. The token
is a secret: a notifier sends it to the user and writes it nowhere else.
"""

from __future__ import annotations

from typing import Literal, Protocol

Purpose = Literal["password-reset", "verify"]
PASSWORD_RESET: Purpose = "password-reset"
VERIFY: Purpose = "verify"
PURPOSES: tuple[Purpose, ...] = (PASSWORD_RESET, VERIFY)

__all__ = ["PASSWORD_RESET", "PURPOSES", "VERIFY", "Notifier", "Purpose"]


class Notifier(Protocol):
    """Deliver ``token`` for ``purpose`` to ``userid``; raise on failure (it is logged,
    without the token, and the user asks again)."""

    def __call__(self, userid: str, purpose: Purpose, token: str) -> None: ...
