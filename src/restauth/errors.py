"""Exceptions a store may raise; the middleware turns them into HTTP answers."""

from __future__ import annotations


class StoreUnavailable(Exception):
    """A user store or token manager cannot be reached right now.

    The middleware answers 503 with ``Retry-After`` and never lets the request in
    (fail closed). Messages must not contain secrets: they may be logged.
    """
