"""When a store may offer the ASGI adapter an async reader: the rule, written once for
the token managers and the user stores (which must not import each other)."""

from __future__ import annotations


def keeps(store: object, base: type, *methods: str) -> bool:
    """Whether ``store`` uses ``base``'s own ``methods``, none overridden: not by a
    subclass, not by a function set on the instance (a wrapper, ``mock.patch.object``).

    An async reader stands in for those methods: it runs ``base``'s script or SQL through
    another client, never the methods themselves. A subclass that overrides one (a
    deny-list, an extra check) would have its override bypassed on the awaited path, so
    its ``async_*_reader()`` returns ``None`` and its checks run its own methods in a
    worker thread. (Checked when the reader is made, at the lifespan's startup: an
    override set later is not seen.)
    """
    return all(
        getattr(getattr(store, name), "__func__", None) is getattr(base, name) for name in methods
    )
