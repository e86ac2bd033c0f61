"""restauth's part of the ASGI conversation: its own replies as messages, its headers
merged into the application's response start, a refused websocket handshake, and the
body of a request to its own endpoints."""

from __future__ import annotations

from typing import Any

from restauth.asgi.spec import Message, Receive, Scope, Send
from restauth.pipeline import Admit
from restauth.wire.responses import Header, Reply
from restauth.wire.token_headers import EXPOSE_TOKEN_HEADERS, NO_STORE


class ReplyMessages:
    """restauth's own answers as ASGI messages; the constant ones (the challenges, the
    503) are built once, since a server only reads them."""

    def __init__(self, constant: tuple[Reply, ...]) -> None:
        self._made = {id(reply): (reply, *reply_messages(reply)) for reply in constant}

    async def send(self, send: Send, reply: Reply) -> None:
        found = self._made.get(id(reply))
        if found is None or found[0] is not reply:
            found = (reply, *reply_messages(reply))
        await send(found[1])
        await send(found[2])


def reply_messages(reply: Reply) -> tuple[Message, Message]:
    start = {
        "type": "http.response.start",
        "status": int(reply.status[:3]),
        "headers": raw_headers(reply.headers),
    }
    return start, {"type": "http.response.body", "body": reply.body}


def raw_headers(headers: list[Header]) -> list[tuple[bytes, bytes]]:
    """Headers as ASGI sends them: lower-case names (restauth's own are spelled once)."""
    names = _RAW_NAMES
    return [
        (names.get(name) or name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in headers
    ]


_RAW_NAMES = {
    name: name.lower().encode("latin-1")
    for name in ("Auth-Token", "Auth-Token-Valid-Until", "Auth-Token-Location", "Vary",
                 "Content-Type", "Content-Length", "WWW-Authenticate", "Cache-Control")
}  # fmt: skip


def _text(headers: Any) -> list[Header]:
    return [
        (bytes(name).decode("latin-1"), bytes(value).decode("latin-1")) for name, value in headers
    ]


async def refuse_handshake(scope: Scope, send: Send, reply: Reply) -> None:
    """Refuse a websocket before ``accept``: the HTTP answer itself where the server can
    send one, else a close (the server answers 403)."""
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": int(reply.status[:3]),
                "headers": raw_headers(reply.headers),
            }
        )
        await send({"type": "websocket.http.response.body", "body": reply.body})
        return
    await send({"type": "websocket.close", "code": 1008})


def merging(send: Send, decision: Admit) -> Send:
    """``send`` with restauth's headers merged into the application's response start."""
    plain = not (decision.private or decision.no_referrer or decision.cors)

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            app_headers = message.get("headers") or ()
            merged = _with_token_headers(app_headers, decision) if plain else None
            if merged is None:  # the general case: as the WSGI adapter merges, in text
                merged = raw_headers(decision.headers(_text(app_headers)))
            message["headers"] = merged
        await send(message)

    return sending


_REPLACED_RAW = frozenset(
    {b"auth-token", b"auth-token-valid-until", b"auth-token-location", b"cache-control", b"pragma"}
)  # fmt: skip  (token_headers' own list, as bytes)
_EXPOSE_RAW = b"access-control-expose-headers"
_TOKEN_TAIL = [
    (b"access-control-expose-headers", EXPOSE_TOKEN_HEADERS[1].encode("latin-1")),
    *((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in NO_STORE),
]


def _with_token_headers(app_headers: Any, decision: Admit) -> list[tuple[bytes, bytes]] | None:
    """The common case in bytes: the app's headers minus the ones restauth owns, then the
    token headers and the constant tail; ``None`` when there is more to do (no token
    headers, or an expose list of the app's to merge: done in text, as in WSGI)."""
    token_headers = decision.token_headers
    if token_headers is None:
        return None
    merged = []
    for header in app_headers:
        name = header[0]
        name = (name if type(name) is bytes else bytes(name)).lower()
        if name in _REPLACED_RAW:
            continue
        if name == _EXPOSE_RAW:
            return None
        merged.append(header)
    merged += raw_headers(token_headers)
    merged += _TOKEN_TAIL
    return merged


async def read_body(receive: Receive, declared: int | None, most: int) -> bytes | None:
    """A body for restauth's own endpoints, at most ``most`` bytes (more is 413 anyway);
    ``None`` when the client went away first."""
    if declared is not None and declared >= most:
        return b""  # judged by its Content-Length alone: 413, nothing read
    chunks: list[bytes] = []
    size = 0
    while size < most:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
