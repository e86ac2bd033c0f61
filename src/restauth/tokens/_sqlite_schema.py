"""The SQLite token manager's table, its statements, and the upgrade from the previous release.

Schema version 2 (sessions, issue 17) keeps one row per *token*: a session has one live
token, and a rotated-away or ended token stays behind as a tombstone (``ended`` set)
until its death plus its ``ttl``, so a late use of it is reported as a dead token of its
user rather than an unknown one. Only the token id is stored; a token is
``id.HMAC(secret_key, id)``, so the file alone authenticates nobody.

Ending a token also pulls its ``idle_deadline`` to the moment it ended. Every statement
here checks ``ended`` anyway; the pulled deadline is for readers that do not know the
column (a process of the previous release still running while the file is upgraded
judges a row by ``idle_deadline`` alone), and it lets the purge judge every dead row by
one expression: ``min(idle_deadline, expires) + ttl``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from restauth.tokens.base import TokenCodec

SCHEMA_VERSION = 2
TABLE = "restauth_tokens"
SCHEMA = [
    f"CREATE TABLE {TABLE} ("
    " token_id TEXT PRIMARY KEY NOT NULL,"
    " session_id TEXT NOT NULL,"  # public: listed and ended by it; the same across renewals
    " userid TEXT NOT NULL,"
    " stamp TEXT NOT NULL,"  # the user's credential stamp when the session began
    " kind TEXT NOT NULL CHECK (kind IN ('login', 'basic', 'service')),"
    " client TEXT NOT NULL,"
    " created REAL NOT NULL,"  # when the session began (kept across renewals)
    " seq INTEGER NOT NULL,"  # the session's place among the user's: ties of created
    " ttl REAL NOT NULL,"  # the session's idle timeout (a service token's own lifetime)
    " expires REAL NOT NULL,"  # absolute: created + max_lifetime (or the service lifetime)
    " idle_deadline REAL NOT NULL,"
    " ended REAL"  # when it was ended or rotated away; NULL while live
    ") WITHOUT ROWID",
    f"CREATE INDEX {TABLE}_by_user ON {TABLE} (userid, created, seq)",
    f"CREATE INDEX {TABLE}_by_session ON {TABLE} (session_id)",
]
COLUMNS = (
    "token_id, session_id, userid, stamp, kind, client, created, seq, ttl, expires, "
    "idle_deadline, ended"
)
# Named parameters: :now, and those of each statement.
LIVE = "ended IS NULL AND idle_deadline > :now AND expires > :now"
ENDING = "ended = :now, idle_deadline = min(idle_deadline, :now)"

# The Token check: one read by primary key, dead rows included (reported as dead tokens).
CHECK = (
    f"SELECT userid, stamp, created, idle_deadline, expires, ttl, ended, session_id "
    f"FROM {TABLE} WHERE token_id = ?"
)
# A due renewal, only while the row is live: it can never bring back an ended session.
# ?1 token id, ?2 the new idle deadline, ?3 now.
RENEW = (
    f"UPDATE {TABLE} SET idle_deadline = max(idle_deadline, ?2) "
    "WHERE token_id = ?1 AND ended IS NULL AND idle_deadline > ?3 AND expires > ?3 "
    "RETURNING idle_deadline"
)
BASIC = (
    f"SELECT token_id, session_id, created, idle_deadline, expires, ttl FROM {TABLE} "
    f"WHERE userid = :userid AND kind = 'basic' AND stamp = :stamp AND {LIVE} "
    "ORDER BY created DESC, seq DESC LIMIT 1"
)
SET_DEADLINE = f"UPDATE {TABLE} SET idle_deadline = :deadline WHERE token_id = :id"
END_OTHER_STAMPS = (
    f"UPDATE {TABLE} SET {ENDING} WHERE userid = :userid AND stamp != :stamp AND {LIVE}"
)
# The cap: keep the newest :keep login and basic sessions live, end the older ones.
EVICT = (
    f"UPDATE {TABLE} SET {ENDING} WHERE token_id IN ("
    f"SELECT token_id FROM {TABLE} WHERE userid = :userid AND kind != 'service' AND {LIVE} "
    "ORDER BY created DESC, seq DESC LIMIT -1 OFFSET :keep)"
)
INSERT = (
    f"INSERT INTO {TABLE} ({COLUMNS}) VALUES (:id, :session, :userid, :stamp, :kind, :client, "
    f":created, coalesce(:seq, (SELECT coalesce(max(seq), 0) + 1 FROM {TABLE} "
    "WHERE userid = :userid)), :ttl, :expires, :deadline, NULL)"
)
LIVE_TOKEN = (
    f"SELECT session_id, userid, stamp, kind, client, created, seq, ttl, expires "
    f"FROM {TABLE} WHERE token_id = :id AND {LIVE}"
)
END_TOKEN = f"UPDATE {TABLE} SET {ENDING} WHERE token_id = :id"
SESSIONS = (
    f"SELECT session_id, kind, client, created, ttl, idle_deadline, expires, stamp "
    f"FROM {TABLE} WHERE userid = :userid AND {LIVE} ORDER BY created, seq"
)
END_SESSION = (
    f"UPDATE {TABLE} SET {ENDING} WHERE session_id = :session AND userid = :userid AND {LIVE}"
)
END_ALL = f"UPDATE {TABLE} SET {ENDING} WHERE userid = :userid AND {LIVE}"
COUNT_LIVE = f"SELECT count(*) FROM {TABLE} WHERE {LIVE}"
# Dead and past its tombstone: died (expired or ended) more than its ttl ago.
_GONE = "min(idle_deadline, expires) + ttl <= :now"
GONE = (
    f"SELECT token_id FROM {TABLE} WHERE token_id > :after AND {_GONE} "
    "ORDER BY token_id LIMIT :batch"
)


def delete_gone(count: int) -> str:
    """Delete those of ``count`` ids (``?`` each, then ``:now`` as the last parameter)
    still past their tombstone: a row renewed meanwhile stays."""
    marks = ", ".join("?" * count)
    return f"DELETE FROM {TABLE} WHERE token_id IN ({marks}) AND {_GONE.replace(':now', '?')}"


def upgrade_from_v1(ttl: float, max_lifetime: float) -> Callable[[sqlite3.Connection], None]:
    """The step from the previous release's table (one token per user: ``token_id``,
    ``userid UNIQUE``, ``stamp``, ``created``, ``idle_deadline``) to version 2.

    Each row becomes a live "login" session with a new random session id, no client
    label, the upgrading manager's ``ttl`` as its idle timeout and ``created +
    max_lifetime`` as its absolute expiry (what the previous release enforced from its
    own settings). Its token id and idle deadline are kept, so every token handed out
    before the upgrade goes on working until it would have died anyway. SQLite cannot
    drop a UNIQUE constraint, so the table is rebuilt: renamed, created anew, copied,
    dropped, all inside the caller's transaction.
    """

    def upgrade(connection: sqlite3.Connection) -> None:
        old = f"{TABLE}_v1"
        connection.execute(f"ALTER TABLE {TABLE} RENAME TO {old}")
        for statement in SCHEMA:
            connection.execute(statement)
        rows = connection.execute(
            f"SELECT token_id, userid, stamp, created, idle_deadline FROM {old}"
        )
        connection.executemany(
            f"INSERT INTO {TABLE} ({COLUMNS}) "
            "VALUES (?, ?, ?, ?, 'login', '', ?, 1, ?, ?, ?, NULL)",
            (
                (token_id, TokenCodec.new_session_id(), userid, stamp, created, ttl,
                 created + max_lifetime, idle_deadline)
                for token_id, userid, stamp, created, idle_deadline in rows
            ),
        )  # fmt: skip
        connection.execute(f"DROP TABLE {old}")

    return upgrade
