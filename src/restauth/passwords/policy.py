"""The password policy: one place that says which new passwords are acceptable.

Every way a password is *set* goes through it: enrolment in a store (``add``,
``set_password``), the ``restauth`` command line, registration, a password change and
a reset. Logins never do: a policy tightened later must not lock anyone out (their
next change meets it).

The rules (OWASP ASVS 5.0 6.2.1, 6.2.4, 6.2.9): at least ``min_length`` characters
(8 by default) and at most :data:`~restauth.passwords.hasher.MAX_PASSWORD_LENGTH`;
not the userid, and not containing it (a userid of three characters or more: a
one-letter userid would refuse half the dictionary); not one of the
:data:`COMMON_PASSWORDS`; and optionally a zxcvbn strength score of ``min_score``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from restauth._text import normalize
from restauth.errors import WeakPassword
from restauth.passwords.hasher import MAX_PASSWORD_LENGTH, check_password

__all__ = ["COMMON_PASSWORDS_SOURCE", "PasswordPolicy", "WeakPassword", "common_passwords"]

COMMON_PASSWORDS_SOURCE = (
    "zxcvbn's 'passwords' frequency list (the 30,000 most common passwords of Mark "
    "Burnett's 10-million-password corpus, as packaged by the zxcvbn project on PyPI)"
)
_MIN_USERID_TO_CONTAIN = 3
# zxcvbn 4.5 raises ValueError past 72 characters (its work grows with the length): the
# score is the first 72's (a longer passphrase is no easier to guess than its start).
_ZXCVBN_MAX_LENGTH = 72


@functools.cache
def common_passwords() -> frozenset[str]:
    """The common passwords, lower case: read from zxcvbn once, on first use (the module
    is large; importing restauth does not load it)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Which new passwords are acceptable; :meth:`check` raises :class:`WeakPassword`.

    ``common=False`` skips the common-password list; ``min_score`` (0-4, ``None``: off)
    also asks zxcvbn's estimate of the guesses a password needs.
    """

    min_length: int = 8
    common: bool = True
    min_score: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.min_length <= MAX_PASSWORD_LENGTH:
            raise ValueError(f"min_length must be between 1 and {MAX_PASSWORD_LENGTH}")
        if self.min_score is not None and not 0 <= self.min_score <= 4:
            raise ValueError("min_score must be between 0 and 4, or None")

    def check(self, password: str, userid: str | None = None) -> None:
        """Raise :class:`WeakPassword` (a ``ValueError``) with a reason a user can act on."""
        try:
            check_password(password)
        except ValueError as error:
            raise WeakPassword(str(error)) from None
        password = normalize(password)
        if len(password) < self.min_length:
            raise WeakPassword(f"password must be at least {self.min_length} characters long")
        folded = password.casefold()
        if userid:
            name = normalize(userid).casefold()
            if folded == name or (len(name) >= _MIN_USERID_TO_CONTAIN and name in folded):
                raise WeakPassword("password must not contain the username")
        if self.common and folded in common_passwords():
            raise WeakPassword("password is one of the most common passwords; choose another")
        if self.min_score is not None:
            self._check_score(password, userid)

    def _check_score(self, password: str, userid: str | None) -> None:
        from zxcvbn import zxcvbn

        assert self.min_score is not None
        result = zxcvbn(password[:_ZXCVBN_MAX_LENGTH], user_inputs=[userid] if userid else [])
        if int(result["score"]) < self.min_score:
            raise WeakPassword("password is too easy to guess; a longer passphrase is better")


DEFAULT_POLICY = PasswordPolicy()
