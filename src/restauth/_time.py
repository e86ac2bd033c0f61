"""Time as restauth takes it: a clock is a function returning epoch seconds, a duration is
seconds or a ``timedelta``. Private: the throttle, the password cache, the token managers
and the bearers share these without importing one another."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta

Clock = Callable[[], float]
Duration = float | int | timedelta

MAX_DURATION = 10 * 366 * 86400.0  # a bound every store can hold (Redis EXPIRE, SQLite REAL)


def as_seconds(value: Duration, name: str) -> float:
    """Accept seconds or a ``timedelta``; refuse zero, negatives, inf, nan and other types.

    An infinite ``ttl`` or ``max_lifetime`` would be a token that never dies, and a nan
    one compares false with every clock: both are configuration errors, said at once.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond any float
            seconds = math.inf if value > 0 else -math.inf
    else:
        raise TypeError(f"{name} must be seconds (int or float) or a datetime.timedelta")
    if not 0 < seconds < math.inf:
        raise ValueError(f"{name} must be a positive, finite number of seconds, not {seconds!r}")
    if seconds > MAX_DURATION:
        raise ValueError(f"{name} must be at most {MAX_DURATION:.0f} seconds (ten years)")
    return seconds


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}


def parse_duration(text: str, name: str) -> float:
    """``"30d"``, ``"12h"``, ``"90m"``, ``"45s"`` or plain seconds, checked as
    :func:`as_seconds` checks a duration (a command line's way to say one)."""
    text = text.strip().lower()
    unit = _UNITS.get(text[-1:])
    number = text[:-1] if unit is not None else text
    try:
        value = float(number) * (unit or 1.0)
    except ValueError:
        raise ValueError(f"{name} must be a duration such as 30d, 12h, 90m or 3600") from None
    return as_seconds(value, name)
