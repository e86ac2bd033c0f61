"""Reading a TOML table key by key, so every mistake names its key.

TOML gives us types already; what it cannot say is which keys restauth knows and
what each must hold. :class:`Table` hands out typed values and remembers which keys
were read, so :meth:`Table.finish` can refuse the rest: a misspelt ``tll = 60`` is an
error, not a silently ignored line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from restauth.errors import ConfigError as ConfigError  # defined with the others; importable here

T = TypeVar("T")


# A password in a libpq key/value DSN (URLs are parsed: see holds_password).
DSN_PASSWORD = re.compile(r"(?:^|\s)password\s*=", re.IGNORECASE)


def holds_password(value: str) -> bool:
    """Whether a URL or DSN carries a password (which belongs in the environment, not a file).

    In the userinfo (``redis://:pw@host``, ``postgresql://app:pw@db``), as a query parameter
    (``?password=``, in any case or percent-encoding: both redis-py and libpq read it), or
    as a libpq keyword (``host=db password=pw``). A URL that cannot be parsed counts too.
    """
    if DSN_PASSWORD.search(value):
        return True
    if "://" not in value:
        return False
    try:
        parts = urlsplit(value)
        query = parse_qsl(parts.query, keep_blank_values=True)
        return parts.password is not None or any(k.strip().lower() == "password" for k, _ in query)
    except ValueError:  # e.g. an unclosed IPv6 bracket: refuse rather than guess
        return True


def type_name(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return names.get(type(value), type(value).__name__)


class Table:
    """One table of a configuration; ``where`` names it in errors (``[tokens]``)."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a table, got {type_name(data)}")
        self.data: dict[str, Any] = dict(data)
        self.where = where
        self._read: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where} {key}: {message}" if self.where else f"{key}: {message}")

    def _get(self, key: str, kinds: tuple[type, ...], expected: str) -> Any:
        self._read.add(key)
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(key, f"expected {expected}, got a boolean")
        if not isinstance(value, kinds):
            raise self.error(key, f"expected {expected}, got {type_name(value)}")
        return value

    def string(self, key: str, default: str | None = None) -> str | None:
        value: str | None = self._get(key, (str,), "a string")
        return default if value is None else value

    def boolean(self, key: str, default: bool) -> bool:
        value: bool | None = self._get(key, (bool,), "true or false")
        return default if value is None else value

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        value: int | None = self._get(key, (int,), "an integer")
        if value is None:
            return default
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}")
        return value

    def number(self, key: str, default: float) -> float:
        """A positive, finite number of seconds (or other unit)."""
        value: float | None = self._get(key, (int, float), "a number")
        if value is None:
            return default
        if not 0 < value < float("inf"):
            raise self.error(key, "must be a positive, finite number")
        return float(value)

    def strings(self, key: str, default: Iterable[str] = ()) -> list[str]:
        value: list[object] | None = self._get(key, (list,), "an array of strings")
        if value is None:
            return list(default)
        for item in value:
            if not isinstance(item, str):
                raise self.error(key, f"expected an array of strings, found {type_name(item)}")
        return [str(item) for item in value]

    def choice(self, key: str, choices: Iterable[str], default: str | None = None) -> str:
        allowed = list(choices)
        value = self.string(key, default)
        if value is None:
            raise self.error(key, f"is required (one of {', '.join(allowed)})")
        if value not in allowed:
            raise self.error(key, f"must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def table(self, key: str) -> Table | None:
        self._read.add(key)
        if key not in self.data:
            return None
        where = f"[{key}]" if not self.where else f"{self.where.rstrip(']')}.{key}]"
        return Table(self.data[key], where)

    def tables(self, key: str) -> list[dict[str, Any]]:
        """An array of tables (``[[acl]]``), returned raw for a reader that knows its rows."""
        value: list[object] | None = self._get(key, (list,), "an array of tables")
        if value is None:
            return []
        for index, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.error(f"{key}[{index}]", f"expected a table, got {type_name(item)}")
        return [dict(item) for item in value if isinstance(item, dict)]

    def path(self, key: str, base: Path) -> Path:
        """A required file path; a relative one is read from ``base`` (the file's directory)."""
        value = self.string(key)
        if not value:
            raise self.error(key, "is required for this kind")
        path = Path(value).expanduser()
        return path if path.is_absolute() else base / path

    def value_or_env(self, key: str, env: Mapping[str, str]) -> tuple[str, str | None]:
        """``key`` written in the file (without a password) or ``key_env`` naming a variable.

        A value written in the file is refused when :func:`holds_password` says so.
        Returns the value and the variable's name (``None`` when it came from the file).
        """
        literal, env_name = self.string(key), self.string(f"{key}_env")
        if (literal is None) == (env_name is None):
            raise self.error(key, f"give exactly one of {key} or {key}_env")
        if literal is not None:
            if holds_password(literal):
                raise self.error(
                    key, f"holds a password; put it in an environment variable and use {key}_env"
                )
            return literal, None
        assert env_name is not None
        value = env.get(env_name)
        if not value:
            raise self.error(f"{key}_env", f"${env_name} is not set")
        return value, env_name

    def forbid(self, key: str, message: str) -> None:
        """Refuse a key outright (e.g. a secret written in the file)."""
        if key in self.data:
            raise self.error(key, message)

    def finish(self) -> None:
        """Refuse every key nobody asked for."""
        unknown = sorted(set(self.data) - self._read)
        if unknown:
            keys = ", ".join(unknown)
            plural = "s" if len(unknown) > 1 else ""
            raise ConfigError(f"{self.where or 'top level'}: unknown key{plural} {keys}")
