"""What the application finds in its scope: the identity, and Starlette's ``request.user``
and ``request.auth`` conventions."""

from __future__ import annotations

from restauth.asgi.spec import Scope
from restauth.identity import Identity
from restauth.pipeline import Admit


class AuthenticatedUser:
    """``scope["user"]`` for an authenticated request, shaped like Starlette's ``BaseUser``."""

    __slots__ = ("identity",)
    is_authenticated = True

    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    @property
    def display_name(self) -> str:
        return self.identity.userid

    @property
    def roles(self) -> frozenset[str]:
        return self.identity.roles


class _Anonymous:
    """``scope["user"]`` for an anonymous request (Starlette's ``UnauthenticatedUser``)."""

    __slots__ = ()
    is_authenticated = False
    display_name = ""
    identity = None
    roles: frozenset[str] = frozenset()


class Roles:
    """``scope["auth"]``, shaped like Starlette's ``AuthCredentials``: ``scopes`` are the
    caller's roles (empty for an anonymous request), sorted when first read."""

    __slots__ = ("_roles", "_scopes")

    def __init__(self, roles: frozenset[str]) -> None:
        self._roles = roles
        self._scopes: list[str] | None = None

    @property
    def scopes(self) -> list[str]:
        if self._scopes is None:
            self._scopes = sorted(self._roles)
        return self._scopes


_ANONYMOUS, _NO_ROLES = _Anonymous(), Roles(frozenset())


def for_app(scope: Scope, decision: Admit) -> Scope:
    """The scope the application gets: the identity, Starlette's user and auth, and the
    query without the token parameter."""
    scope = dict(scope)
    identity = decision.identity
    if identity is None:
        scope.pop("restauth.identity", None)
        scope["user"], scope["auth"] = _ANONYMOUS, _NO_ROLES
    else:
        scope["restauth.identity"] = identity
        scope["user"], scope["auth"] = AuthenticatedUser(identity), Roles(identity.roles)
    if decision.query is not None:
        scope["query_string"] = decision.query.encode("latin-1")
    return scope
