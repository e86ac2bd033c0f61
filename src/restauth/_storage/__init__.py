"""Plumbing shared by the persistent backends: connections, schema versions, error mapping.
Private; may import only ``restauth.errors`` and the database drivers.

Also :class:`Closeable`, the optional ``close()`` of every store and token manager.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Closeable(Protocol):
    """An optional member of a user store, token manager or revocation store: release
    its connections (a pool, a file handle).

    The ``restauth`` command calls it when a command is done; a server process usually
    never does (the stores live as long as it). It must be safe to call more than once.
    """

    def close(self) -> None: ...
