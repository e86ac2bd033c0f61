"""The request as restauth sees it, whatever the server protocol.

An adapter (WSGI today, ASGI next) builds one view per request and hands it to the
pipeline; nothing past the adapter reads a WSGI environ or an ASGI scope. Header names
are asked for in lower case. Lookups are lazy: a WSGI view reads the environ only for
the headers restauth asks about, so a request costs nothing for the headers it ignores.
"""

from __future__ import annotations

from typing import Protocol


class HeaderSet:
    """Header names asked about together (``Request.has_any_header``). Hashed by identity,
    so an adapter can keep its own spelling of the names per set at a dict-lookup's cost."""

    __slots__ = ("names",)

    def __init__(self, *names: str) -> None:
        self.names = tuple(name.lower() for name in names)


class Request(Protocol):
    """What restauth reads of a request.

    ``method``: ``GET``, ``POST``, ... (upper case). ``path``: below the application's
    mount point, ``/`` when empty; non-ASCII bytes as Latin-1 characters (PEP 3333's
    form, which the path patterns expect). ``query``: the raw query string, without
    ``?``. ``scheme``: ``http`` or ``https`` as the server saw the connection (or
    rewrote it). ``peer``: the immediate peer's address (a client, or a proxy).
    """

    method: str
    path: str
    query: str
    scheme: str
    peer: str | None

    @property
    def host(self) -> str:
        """The ``Host`` header, else the server's name and port."""
        ...

    def header(self, name: str) -> str | None:
        """The header ``name`` (lower case), repeated ones joined with ``,`` by the server."""
        ...

    def has_header(self, name: str) -> bool: ...

    def has_any_header(self, names: HeaderSet) -> bool:
        """Whether any of ``names`` is present (one call for a set asked on every request)."""
        ...

    @property
    def content_length(self) -> int | None:
        """The declared body length; ``None`` when absent, ``-1`` when malformed (a
        negative or non-numeric ``Content-Length``)."""
        ...

    def read_body(self, limit: int) -> bytes | None:
        """The body, read no further than ``limit + 1`` bytes (more means too large).

        With a ``content_length``: that many bytes (``OSError`` when the client sent fewer).
        Without one: up to the body's end where the server knows it (a chunked body it
        decoded, HTTP/2), ``b""`` when there is no body, and ``None`` when there is one
        whose end cannot be known (reading on could block). ``OSError`` when the body
        cannot be read (the client went away, a malformed chunk).
        """
        ...


def declared_length(declared: str | bytes | None) -> int | None:
    """A ``Content-Length`` value as a request view answers it: ``None`` when absent or
    empty, ``-1`` when unreadable or negative (a 400, not a crash)."""
    if not declared:
        return None
    try:
        length = int(declared)
    except ValueError:
        return -1
    return length if length >= 0 else -1
