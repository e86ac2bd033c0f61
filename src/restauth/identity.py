"""Who is calling: the one object the wrapped application reads."""

from __future__ import annotations

from dataclasses import dataclass

from restauth.frozen import fast_init


@fast_init
@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller, as put in ``environ["restauth.identity"]``.

    ``mechanism`` says how the caller proved who they are: ``"basic"`` (password),
    ``"token"`` (``Token``/``Bearer``), ``"token-basic"`` (token as Basic password) or
    ``"cookie"``. Roles are read fresh from the user store on every request.
    """

    userid: str
    roles: frozenset[str]
    mechanism: str

    def has_role(self, role: str) -> bool:
        return role in self.roles
