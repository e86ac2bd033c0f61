"""Remember, for a few minutes, that a Basic password was right: no bcrypt per request.

A client that sends ``Basic`` on every request would otherwise pay one bcrypt check
(about 0.2 s at cost 12) each time. After a *successful* check the cache keeps a
keyed BLAKE2b digest of (userid, password, stored hash) under a random key drawn
at start-up; the next request with the same three values is admitted without
bcrypt. What makes that safe:

- The stored hash is part of the key, so a password change (a new hash, a new salt)
  misses at once, on every node, without any invalidation message. The user is still
  read from the store on every request, so a removed user is never admitted.
- A rehash on login (a stronger hash of the same password, see
  :class:`restauth.authenticator.Authenticator`) is done by the request that ran the
  hash check, which then records the *new* hash here, so the next request still hits
  (other processes miss once, and check the new hash).
  A hit skips the rehash check; a rehash that could not be written is tried again
  when the entry expires and the hash is checked again.
- Only successes are cached: a wrong password always costs its bcrypt check, and an
  unknown user always costs the dummy one.
- The plaintext is never kept, nor anything usable outside this process: the digest
  is keyed with a per-process secret. Entries expire after ``ttl`` seconds (5 minutes
  by default) and the cache holds at most ``max_entries`` (least recently used go).

What it costs: while an entry lives, someone who can read this process's memory could
test guesses of that user's password at hash speed instead of bcrypt speed (they
could equally read passwords from requests in flight). ``password_cache=None`` on
:class:`restauth.AuthMiddleware` turns it off.
"""

from __future__ import annotations

import hashlib
import secrets
import struct
import threading
import time
from collections import OrderedDict

from restauth._time import Clock, Duration, as_seconds

DEFAULT_TTL = 300.0
DEFAULT_MAX_ENTRIES = 10_000
_LENGTHS = struct.Struct(">III")  # three length prefixes: no two triples encode alike


class PasswordCache:
    """A bounded, expiring set of recently verified (userid, password, stored hash) triples.

    ``clock`` returns seconds (``time.monotonic`` by default: a wall-clock jump cannot
    stretch an entry's life) and is injectable so expiry can be tested without sleeping.
    """

    def __init__(
        self,
        *,
        ttl: Duration = DEFAULT_TTL,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Clock = time.monotonic,
    ) -> None:
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError("max_entries must be a positive int")
        self.ttl = as_seconds(ttl, "ttl")
        self.max_entries = max_entries
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, float] = OrderedDict()  # digest -> expiry
        self._lock = threading.Lock()

    def hit(self, userid: str, password: str, stored_hash: str) -> bool:
        """True when this exact triple verified less than ``ttl`` seconds ago."""
        digest = self._digest(userid, password, stored_hash)
        now = self.clock()
        with self._lock:
            expires = self._entries.get(digest)
            if expires is None:
                return False
            if now >= expires:
                del self._entries[digest]
                return False
            self._entries.move_to_end(digest)
            return True

    def add(self, userid: str, password: str, stored_hash: str) -> None:
        """Record a successful verification (call it only after bcrypt said yes)."""
        digest = self._digest(userid, password, stored_hash)
        expires = self.clock() + self.ttl
        with self._lock:
            self._entries[digest] = expires
            self._entries.move_to_end(digest)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _digest(self, userid: str, password: str, stored_hash: str) -> bytes:
        user = userid.encode("utf-8", "surrogatepass")
        secret = password.encode("utf-8", "surrogatepass")
        stored = stored_hash.encode("utf-8", "surrogatepass")
        data = b"".join((_LENGTHS.pack(len(user), len(secret), len(stored)), user, secret, stored))
        return hashlib.blake2b(data, key=self._key, digest_size=32).digest()
