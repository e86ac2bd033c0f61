"""Passwords: the hasher (bcrypt with a keyed pre-hash, or Argon2id) and the short-lived
cache of verified passwords.

May import the standard library, bcrypt (argon2-cffi lazily) and ``restauth._time``;
never HTTP modules or stores.
"""

from restauth.passwords.cache import PasswordCache
from restauth.passwords.hasher import PasswordHasher

__all__ = ["PasswordCache", "PasswordHasher"]
