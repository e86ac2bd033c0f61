"""Who is calling: the one object the wrapped application reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mechanism = Literal["basic", "token", "token-basic", "cookie", "jwt"]
"""How a caller proved who they are (:attr:`Identity.mechanism`)."""


@dataclass(frozen=True, slots=True)
class Identity:
    """An authenticated caller, as put in ``environ["restauth.identity"]``.

    ``mechanism`` says how the caller proved who they are: ``"basic"`` (password),
    ``"token"`` (``Token``/``Bearer``), ``"token-basic"`` (token as Basic password),
    ``"cookie"`` or ``"jwt"`` (a bearer JWT an identity provider signed). Roles are read
    fresh from the user store on every request.
    """

    userid: str
    roles: frozenset[str]
    mechanism: Mechanism

    def has_role(self, role: str) -> bool:
        return role in self.roles
