"""Calls into stores, token managers and rules: the only place a failure becomes a 503.

A store that is down, a rule with a bug, a third-party backend raising something
unexpected: each must close the door (503), never open it, and never reach the server
as a 500. Only these calls are wrapped. Request parsing is not: malformed input is
answered where it is read (400, 401, 413, 415), and is never logged as a backend failure.
Each store call is wrapped where it is made (the authenticator, the gate, the endpoints,
the ACL check), so a bug in restauth's own code is not mistaken for an outage: the
pipeline answers it 503 too, but logs it at ERROR with its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar, TypeVarTuple

from restauth.errors import StoreUnavailable

logger = logging.getLogger("restauth")

Args = TypeVarTuple("Args")
R = TypeVar("R")


def call(step: Callable[[*Args], R], *args: *Args) -> R:
    """``step(*args)``; whatever it raises comes out as :class:`StoreUnavailable`.

    Only the exception's type is logged: a backend's message may hold a DSN or a key.
    """
    try:
        return step(*args)
    except Exception as error:
        raise failed(step, error) from error


def failed(step: Callable[..., object], error: Exception) -> StoreUnavailable:
    """What ``step`` raising ``error`` becomes, logged: for a hot path that makes two store
    calls under one ``try`` (``raise failed(step, error) from error``)."""
    if isinstance(error, StoreUnavailable):
        return error
    name = getattr(step, "__qualname__", type(step).__name__)
    logger.error("backend call %s failed: %s", name, type(error).__name__)
    return StoreUnavailable(f"{name} failed")


P = ParamSpec("P")


def call_expecting(
    expected: tuple[type[Exception], ...],
    step: Callable[P, R],
    *args: P.args,
    **kwargs: P.kwargs,
) -> R:
    """Like :func:`call`, but the ``expected`` exceptions pass through as themselves: an
    answer the caller gives the client (a taken userid 409, a refused password 400),
    not an outage."""
    try:
        return step(*args, **kwargs)
    except expected:
        raise
    except Exception as error:
        raise failed(step, error) from error
