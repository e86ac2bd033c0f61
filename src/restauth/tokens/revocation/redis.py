"""Revocation records and JWT sessions in Redis (extra ``restauth[redis]``): every node.

The keys are described in :mod:`restauth.tokens.revocation.lua`; the previous release's
``<prefix>revoked`` sorted set is read and written as it was. Every operation is one
Lua script (one round trip, atomic); a check reads the user's instant and the session's
floor together. The scripts compute keys from the prefix, so they need a standalone
Redis (or Sentinel), not Redis Cluster; ``ZADD GT`` needs Redis 6.2+.
"""

from __future__ import annotations

from string import Template
from typing import TYPE_CHECKING, Any

from restauth.tokens.revocation import lua
from restauth.tokens.revocation.records import SessionCheck, SessionRecord, Snapshot, as_kind

if TYPE_CHECKING:
    import redis

    from restauth._storage.redis import LuaScript
    from restauth.throttle.redis import RedisThrottleStore

GRACE = 60.0  # seconds a session's hash outlives its absolute expiry in Redis


class RedisRevocation:
    """Records under ``prefix`` in one Redis; ``url_or_client`` is a ``redis://`` URL or a
    client."""

    def __init__(self, url_or_client: str | redis.Redis, *, prefix: str = "restauth:") -> None:
        from restauth._storage import redis as storage  # the redis extra, only when used

        self._storage = storage
        self.client = storage.redis_client(url_or_client)
        self.prefix = prefix
        self.key = prefix + "revoked"
        self._session_prefix = prefix + "jwt:session:"
        self._user_prefix = prefix + "jwt:user:"
        self._seq = prefix + "jwt:seq"
        self._floored = prefix + "jwt:floored"

        def script(text: str) -> LuaScript:
            body = Template(lua.with_common(text)).substitute(grace=repr(GRACE))
            return storage.LuaScript(self.client, body)

        self._check = script(lua.CHECK)
        self._start = script(lua.START)
        self._touch = script(lua.TOUCH)
        self._rotate = script(lua.ROTATE)
        self._end = script(lua.END)
        self._revoke = script(lua.REVOKE)
        self._sessions = script(lua.SESSIONS)
        self._snapshot = script(lua.SNAPSHOT)

    def throttle_store(self) -> RedisThrottleStore:
        """Failure counters in the same Redis: every node throttles together."""
        from restauth.throttle.redis import RedisThrottleStore

        return RedisThrottleStore(self.client, self.prefix)

    def check(self, userid: str, session: str) -> SessionCheck:
        with self._storage.errors_as_unavailable():
            reply = self._check(2, self.key, self._session_prefix + session, userid)
        not_before, floor, valid_until = self._storage.text(reply).split(" ")
        return SessionCheck(
            float(not_before) if not_before else None,
            int(floor) if floor else 0,
            float(valid_until) if valid_until else None,
        )

    def not_before(self, userid: str) -> float | None:
        with self._storage.errors_as_unavailable():
            score: Any = self.client.zscore(self.key, userid)
        return None if score is None else float(score)

    def start(self, new: SessionRecord, *, cap: int, ttl: float, now: float) -> SessionRecord:
        extra = [repr(now), str(cap), repr(ttl / 2), repr(round(now + ttl, 3))]
        keys = [self.key, self._user_prefix + new.userid, self._seq, self._floored]
        with self._storage.errors_as_unavailable():
            reply = self._start(5, *keys, self._session_prefix + new.id, *self._args(new), *extra)
        return self._record(reply)

    def touch(self, session: SessionRecord, now: float) -> bool:
        keys = [self.key, self._user_prefix + session.userid, self._seq]
        with self._storage.errors_as_unavailable():
            done = self._touch(
                4, *keys, self._session_prefix + session.id, *self._args(session), repr(now)
            )
        return bool(done)

    def rotate(self, session: SessionRecord, generation: int, now: float) -> bool:
        keys = [self.key, self._user_prefix + session.userid, self._seq]
        args = self._args(session, floor=generation + 1)
        with self._storage.errors_as_unavailable():
            done = self._rotate(
                5, *keys, self._session_prefix + session.id, self._floored, *args,
                repr(now), str(generation),
            )  # fmt: skip
        return bool(done)

    def end(self, userid: str, session: str, now: float) -> bool:
        keys = [self.key, self._user_prefix + userid, self._session_prefix + session]
        with self._storage.errors_as_unavailable():
            done = self._end(4, *keys, self._floored, userid, session, repr(now))
        return bool(done)

    def revoke(self, userid: str, not_before: float, forget_before: float, now: float) -> int:
        keys = [self.key, self._user_prefix + userid, self._floored]
        args = [userid, repr(not_before), repr(forget_before), repr(now), self._session_prefix]
        with self._storage.errors_as_unavailable():
            live: Any = self._revoke(3, *keys, *args)
        return int(live)

    def sessions(self, userid: str, now: float) -> list[SessionRecord]:
        keys = [self.key, self._user_prefix + userid]
        with self._storage.errors_as_unavailable():
            flat: Any = self._sessions(2, *keys, userid, repr(now), self._session_prefix)
        return [self._record(flat[i : i + 10]) for i in range(0, len(flat), 10)]

    def snapshot(self, since: float, now: float) -> Snapshot:
        with self._storage.errors_as_unavailable():
            users, floors = self._snapshot(
                2, self.key, self._floored, repr(since), repr(now), self._session_prefix
            )
        text = self._storage.text
        return Snapshot(
            {text(users[i]): float(users[i + 1]) for i in range(0, len(users), 2)},
            {text(floors[i]): int(floors[i + 1]) for i in range(0, len(floors), 2)},
        )

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"RedisRevocation(prefix={self.prefix!r})"

    def _args(self, record: SessionRecord, *, floor: int | None = None) -> list[str]:
        """ARGV 1-10 of the scripts that write a record: its fields, then the key prefix."""
        return [
            record.userid, record.kind, record.client, record.stamp, repr(record.created),
            repr(record.last_used), repr(record.valid_until), repr(record.expires),
            str(record.floor if floor is None else floor), self._session_prefix,
        ]  # fmt: skip

    def _record(self, reply: Any) -> SessionRecord:
        sid, userid, kind, client, stamp, created, last_used, valid_until, expires, floor = (
            self._storage.text(value) for value in reply
        )
        return SessionRecord(
            sid, userid, as_kind(kind), client, stamp, float(created), float(last_used),
            float(valid_until), float(expires), int(floor),
        )  # fmt: skip
