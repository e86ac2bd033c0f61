"""Audit records: one per login, failure, token issue and revoke, throttle and outage.

Records go to the ``restauth.audit`` logger, with the fields also in
``record.restauth`` for structured handlers. Values that come from the client
(userids) are escaped so a log line cannot be forged (ASVS 5.0 16.4.1); passwords,
tokens and ``Authorization`` values are never passed here at all.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("restauth.audit")


def escape(value: str | None) -> str:
    """A printable, single-line rendering of client-supplied text."""
    if value is None:
        return "-"
    return value.encode("unicode_escape").decode("ascii").replace('"', '\\"')


def _bare(value: str | None) -> str:
    """An unquoted field: escaped, and without spaces, so it cannot read as two fields (a
    mechanism may name an admin's userid)."""
    return escape(value).replace(" ", "\\x20")


def enabled(level: int) -> bool:
    """Whether a record at ``level`` would be written: the caller can skip the work of
    its fields (a request's client address) when not."""
    return logger.isEnabledFor(level)


def event(
    name: str,
    *,
    outcome: str,
    userid: str | None = None,
    address: str | None = None,
    mechanism: str | None = None,
    session: str | None = None,
    level: int = logging.INFO,
) -> None:
    """Write one record. ``session`` is a session's public id, never its token."""
    if not logger.isEnabledFor(level):
        return
    fields = {
        "event": name,
        "outcome": outcome,
        "userid": userid,
        "address": address,
        "mechanism": mechanism,
        "session": session,
    }
    logger.log(
        level,
        '%s outcome=%s userid="%s" address=%s mechanism=%s session=%s',
        name,
        outcome,
        escape(userid),
        _bare(address),
        _bare(mechanism),
        _bare(session),
        extra={"restauth": fields},
    )
