"""Tokens in Redis (extra ``restauth[redis]``): sessions shared by every process on every
machine.

Every method is one Lua script (one round trip, atomic), which judges expiry by the
manager's ``clock()`` (passed in, so tests and every node agree on one notion of time);
Redis's own key expiry only collects garbage after the clock says a record is useless.
A Token check reads the token's hash and, only when a renewal is due (coarse renewal,
:func:`~restauth.tokens.base.renewal_step`), writes its new idle deadline: most checks
write nothing (no key change, nothing for replicas or the AOF). The scripts' text is in
:mod:`restauth.tokens._redis_scripts`.

Keys, all under ``prefix``:

- ``token:<id>``: a hash per token: ``userid``, ``stamp``, ``created``, ``deadline``
  (idle), ``session`` (the public id), ``kind``, ``client``, ``ttl`` (the session's idle
  timeout), ``expires`` (its absolute end) and, once the session is over, ``ended`` (when;
  its ``deadline`` is then 0). A record outlives its token's death by ``ttl`` (PEXPIRE),
  so a late use is reported as a :class:`~restauth.tokens.base.DeadToken`.
- ``sessions:<userid>``: a sorted set of the user's session ids, oldest first (the
  score is an order number: listing, and the cap ending the oldest).
- ``session-tokens:<userid>``: a hash, session id -> the id of its current token
  (ending a session by id; rotation replaces the value).
- ``basic-session:<userid>``: the id of the user's basic session, so a Basic request
  finds it in three reads and writes nothing while no renewal is due.

A token is ``id.HMAC(secret_key, id)`` and only the id is stored, so a dump of Redis
yields nothing that authenticates.

**Upgrade from the previous release** (a ``token:<id>`` hash of userid, stamp, created
and deadline, and ``user:<userid>`` holding the user's one token id) needs no command:
the scripts upgrade a record on first touch. A token hash without ``session`` gets
``session`` = the first 24 hex digits of SHA-1 of ``"session:" + id`` (the same on every
node, so two managers upgrading at once agree), ``kind`` "login", ``ttl`` = this
manager's ttl and ``expires`` = created + this manager's max_lifetime; if still alive it
joins the user's sessions as the oldest. A ``user:<userid>`` key is read (and deleted) by
whatever touches that user (a login, the session list, an end, a revoke), which upgrades
the token it names; a Token check upgrades the token presented. After the upgrade the
tokens authenticate, are listed, ended, rotated and revoked like any other. During a
rolling upgrade a node still on the previous release also refuses a session that a new
node ended (its deadline is 0), but knows nothing of sessions it did not start: finish
the rollout before relying on the session endpoints.

The scripts touch keys they compute, so they need a standalone Redis (or Sentinel), not
Redis Cluster.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import redis

from restauth._storage.overrides import keeps
from restauth._storage.redis import LuaScript, errors_as_unavailable, redis_client, text
from restauth._time import Clock, Duration, as_seconds
from restauth.errors import StoreUnavailable
from restauth.throttle.redis import RedisThrottleStore
from restauth.tokens._redis_scripts import TEMPLATES, script_text
from restauth.tokens.base import (
    DEFAULT_MAX_LIFETIME,
    DEFAULT_MAX_SESSIONS,
    DEFAULT_TTL,
    DeadToken,
    Session,
    SessionKind,
    TokenCodec,
    TokenGrant,
    check_kind,
    check_max_sessions,
    client_label,
    persistent_secret_key,
)

if TYPE_CHECKING:
    from restauth.tokens.redis_reader import RedisTokenReader

GARBAGE_GRACE = 60.0  # seconds a user's keys outlive the absolute end of their sessions


class RedisTokenManager:
    """Sessions in Redis under ``prefix``; ``url_or_client`` is a ``redis://`` URL or a
    client. See the module docstring for the keys and the upgrade from the previous
    release."""

    def __init__(
        self,
        url_or_client: str | redis.Redis,
        ttl: Duration = DEFAULT_TTL,
        *,
        max_lifetime: Duration = DEFAULT_MAX_LIFETIME,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        clock: Clock = time.time,
        secret_key: bytes | str | None = None,
        prefix: str = "restauth:",
    ) -> None:
        self.ttl = as_seconds(ttl, "ttl")
        self.max_lifetime = as_seconds(max_lifetime, "max_lifetime")
        self.max_sessions = check_max_sessions(max_sessions)
        self.clock = clock
        self.prefix = prefix
        self._codec = TokenCodec(persistent_secret_key(secret_key, "RedisTokenManager"))
        self.client = redis_client(url_or_client)
        self._token_prefix = prefix + "token:"
        numbers = {
            "prefix_len": str(len(prefix.encode("utf-8"))),  # Lua counts bytes
            "ttl": repr(self.ttl),
            "max_lifetime": repr(self.max_lifetime),
            "max_sessions": str(self.max_sessions),
            "grace": repr(GARBAGE_GRACE),
        }
        scripts = {name: LuaScript(self.client, script_text(name, numbers)) for name in TEMPLATES}
        self._authenticate = scripts["authenticate"]
        self._issue = scripts["issue"]
        self._renew = scripts["renew"]
        self._sessions = scripts["sessions"]
        self._end = scripts["end"]
        self._revoke = scripts["revoke"]

    def issue(
        self,
        userid: str,
        stamp: str,
        *,
        kind: SessionKind = "login",
        client: str = "",
        lifetime: float | None = None,
    ) -> TokenGrant:
        kind = check_kind(kind)
        life = None if lifetime is None else as_seconds(lifetime, "lifetime")
        now = self.clock()
        ttl = self.ttl if life is None else life
        expires = now + (self.max_lifetime if life is None else life)
        token_id = self._codec.new_id()
        keys = (*self._user_keys(userid), self._token_prefix + token_id)
        arguments = (userid, stamp, kind, client_label(client), repr(ttl), repr(expires))
        with errors_as_unavailable():
            reply: Any = self._issue(
                4, *keys, repr(now), *arguments, token_id, self._codec.new_session_id()
            )
        return self._grant(reply)

    def authenticate(self, token: str) -> TokenGrant | DeadToken | None:
        token_id = self._codec.id_of(token)
        if token_id is None:
            return None
        try:  # errors_as_unavailable, inlined: the hot path
            reply: Any = self._authenticate(1, self._token_prefix + token_id, repr(self.clock()))
        except redis.RedisError as error:
            raise StoreUnavailable(f"Redis: {type(error).__name__}") from None
        return checked(token, reply)

    def _now(self) -> float:
        """This manager's clock as it is when asked (a test may set another one)."""
        return self.clock()

    def async_token_reader(self) -> RedisTokenReader | None:
        """A reader of this manager's tokens through ``redis.asyncio``, for the running
        event loop (see :mod:`restauth.lookups`). No I/O here.

        ``None`` when the client cannot be copied (see
        :func:`~restauth._storage.redis_async.async_redis_client`), or for a subclass with
        an ``authenticate`` of its own: the reader runs this class's script, which would
        bypass it."""
        if not keeps(self, RedisTokenManager, "authenticate"):
            return None
        # redis.asyncio's users only: the WSGI adapter never imports it.
        from restauth._storage.redis_async import async_redis_client
        from restauth.tokens.redis_reader import RedisTokenReader

        client = async_redis_client(self.client)
        if client is None:
            return None
        return RedisTokenReader(
            client, self._authenticate, self._codec, self._token_prefix, self._now
        )

    def renew(self, token: str) -> TokenGrant | None:
        token_id = self._codec.id_of(token)
        if token_id is None:
            return None
        new_id = self._codec.new_id()
        keys = (self._token_prefix + token_id, self._token_prefix + new_id)
        with errors_as_unavailable():
            reply: Any = self._renew(2, *keys, repr(self.clock()), new_id)
        return self._grant(reply) if reply else None

    def sessions(self, userid: str) -> list[Session]:
        keys = self._user_keys(userid)[:2]
        with errors_as_unavailable():
            reply: Any = self._sessions(2, *keys, repr(self.clock()), userid)
        listed = []
        for row in reply:
            session, kind, client, created, deadline, expires, ttl, stamp = map(text, row)
            begun, idle = float(created), float(deadline)
            last_used = max(begun, idle - float(ttl))
            valid_until = min(idle, float(expires))
            listed.append(
                Session(
                    session, userid, check_kind(kind), client, begun, last_used, valid_until, stamp
                )
            )
        return listed

    def end(self, userid: str, session: str) -> bool:
        keys = self._user_keys(userid)[:2]
        with errors_as_unavailable():
            live: Any = self._end(2, *keys, repr(self.clock()), userid, session)
        return bool(live)

    def revoke(self, userid: str) -> int:
        with errors_as_unavailable():
            live: Any = self._revoke(3, *self._user_keys(userid), repr(self.clock()), userid)
        return int(live)

    def throttle_store(self) -> RedisThrottleStore:
        """Failure counters in the same Redis, so all nodes throttle together (the
        middleware uses this when it builds its default throttle)."""
        return RedisThrottleStore(self.client, self.prefix)

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"RedisTokenManager(prefix={self.prefix!r}, ttl={self.ttl})"

    def _user_keys(self, userid: str) -> tuple[str, str, str]:
        """The user's sessions zset, session -> token hash, and basic session pointer."""
        prefix = self.prefix
        return (
            prefix + "sessions:" + userid,
            prefix + "session-tokens:" + userid,
            prefix + "basic-session:" + userid,
        )

    def _grant(self, reply: bytes | str) -> TokenGrant:
        """A grant from a reply ``"<id> <created> <valid until> <session> <n> <stamp><userid>"``
        (``n``: bytes in the stamp)."""
        raw = reply.encode("utf-8") if isinstance(reply, str) else reply
        token_id, created, valid_until, session, size, rest = raw.split(b" ", 5)
        length = int(size)
        return TokenGrant(
            self._codec.token_for(token_id.decode("ascii")),
            rest[length:].decode("utf-8"),
            rest[:length].decode("utf-8"),
            float(created),
            float(valid_until),
            session.decode("ascii"),
        )


def checked(token: str, reply: bytes | str | None) -> TokenGrant | DeadToken | None:
    """What the ``authenticate`` script's reply says of ``token``: nothing (unknown), or
    ``"<status> <created> <valid until> <session> <n> <stamp><userid>"`` (``n``: bytes in
    the stamp; status ``L`` live, ``E`` ended, else expired). Shared by the manager and its
    async reader, so both answer alike."""
    if not reply:
        return None
    raw = reply.encode("utf-8") if isinstance(reply, str) else reply  # a decoding client
    status, created, valid_until, session, size, rest = raw.split(b" ", 5)
    length = int(size)
    userid = rest[length:].decode("utf-8")
    if status != b"L":
        ended = status == b"E"
        return DeadToken(userid, session.decode("ascii"), "ended" if ended else "expired")
    stamp = rest[:length].decode("utf-8")
    return TokenGrant(
        token, userid, stamp, float(created), float(valid_until), session.decode("ascii")
    )
