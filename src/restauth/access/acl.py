"""Who may do what: ACL rules that grant roles some methods on a path pattern.

A rule grants; nothing denies. A request passes when at least one rule matching its
path and method names one of the caller's roles. Two roles are special:
``$unauthenticated`` grants everybody, anonymous callers included, and
``$authenticated`` grants anyone logged in. ``{userid}`` in a pattern matches only
the caller's own userid, so ``/users/{userid}/**`` gives each user their own data.

Rules are compiled once, when the middleware is built; a malformed one is a
``ValueError`` that names it (``acl[2]: ...``). Paths a router could read differently
from us (``..``, ``//``, ``;``) match no rule, so they are refused, never let in. A rule
that raises (a custom subclass, or a bug) is logged by name and the request fails
closed: the middleware answers 503, as for a store that is down.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from restauth.access.paths import compile_pattern, is_canonical, wsgi_str
from restauth.errors import ConfigError
from restauth.identity import Identity

logger = logging.getLogger("restauth")

AUTHENTICATED = "$authenticated"
UNAUTHENTICATED = "$unauthenticated"
ANY_METHOD = "*"

_METHOD = re.compile(r"[A-Z][A-Z-]*")  # RFC 9110 tokens as methods are written in practice
_RULE_KEYS = frozenset({"path", "methods", "roles"})


@dataclass(frozen=True)
class ACLRule:
    """Grant ``roles`` the ``methods`` (``"*"`` for any; ``GET`` implies ``HEAD``) on ``path``."""

    path: str
    roles: frozenset[str]
    methods: frozenset[str] | None = None  # None: any method
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", compile_pattern(self.path, allow_userid=True))

    @classmethod
    def make(
        cls, path: str, roles: Iterable[str], methods: Iterable[str] | str = ANY_METHOD
    ) -> ACLRule:
        """Build a rule from plain values, checking each; ``ValueError`` says what is wrong."""
        return cls(path, _roles(roles), _methods(methods))

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> ACLRule:
        """A rule from a configuration table: ``path``, ``roles`` and optional ``methods``."""
        unknown = set(data) - _RULE_KEYS
        if unknown:
            raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))}")
        for key in ("path", "roles"):
            if key not in data:
                raise ConfigError(f"missing key {key!r}")
        path, roles, methods = data["path"], data["roles"], data.get("methods", ANY_METHOD)
        if not isinstance(path, str):
            raise ConfigError("path must be a string")
        if not isinstance(roles, list | tuple):
            raise ConfigError("roles must be a list of strings")
        if not isinstance(methods, str | list | tuple):
            raise ConfigError('methods must be "*" or a list of strings')
        return cls.make(path, roles, methods)

    def grants(self, method: str, path: str, identity: Identity | None) -> bool:
        """True when this rule lets ``identity`` (``None``: anonymous) do ``method`` on ``path``."""
        if self.methods is not None and method not in self.methods:
            return False
        if UNAUTHENTICATED not in self.roles:
            if identity is None:
                return False
            if AUTHENTICATED not in self.roles and self.roles.isdisjoint(identity.roles):
                return False
        match = self._regex.fullmatch(path)
        if match is None:
            return False
        owner = match.groupdict().get("userid")
        return owner is None or (identity is not None and owner == wsgi_str(identity.userid))


class ACL:
    """An ordered set of :class:`ACLRule`; the union of their grants."""

    def __init__(self, rules: Iterable[ACLRule | Mapping[str, object]]) -> None:
        compiled: list[ACLRule] = []
        for index, rule in enumerate(rules):
            try:
                compiled.append(rule if isinstance(rule, ACLRule) else ACLRule.from_mapping(rule))
            except (TypeError, ValueError) as error:
                raise ConfigError(f"acl[{index}]: {error}") from None
        self.rules = tuple(compiled)

    def __len__(self) -> int:
        return len(self.rules)

    def allows(self, method: str, path: str, identity: Identity | None) -> bool:
        if not is_canonical(path):
            return False
        for rule in self.rules:
            try:
                if rule.grants(method, path, identity):
                    return True
            except Exception:
                logger.error("ACL rule %r raised; the request is refused", rule)
                raise
        return False


def _roles(roles: Iterable[str]) -> frozenset[str]:
    if isinstance(roles, str):
        raise ConfigError("roles must be a list of strings, not one string")
    result = frozenset(roles)
    if not result:
        raise ConfigError("roles must not be empty (a rule that grants nobody is a mistake)")
    for role in result:
        if not isinstance(role, str) or not role or any(c.isspace() or c == "," for c in role):
            raise ConfigError(f"invalid role name {role!r}")
        if role.startswith("$") and role not in (AUTHENTICATED, UNAUTHENTICATED):
            raise ConfigError(
                f"unknown special role {role!r} (use {AUTHENTICATED} or {UNAUTHENTICATED})"
            )
    return result


def _methods(methods: Iterable[str] | str) -> frozenset[str] | None:
    if methods == ANY_METHOD:
        return None
    if isinstance(methods, str):
        raise ConfigError('methods must be "*" or a list of method names')
    result: set[str] = set()
    for method in methods:
        if not isinstance(method, str) or not _METHOD.fullmatch(method.upper()):
            raise ConfigError(f"invalid method {method!r}")
        result.add(method.upper())
    if not result:
        raise ConfigError('methods must not be empty (use "*" for any method)')
    if "GET" in result:
        result.add("HEAD")
    return frozenset(result)
