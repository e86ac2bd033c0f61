"""The lifespan protocol: the application's own, passed on, with restauth's ``startup``
run when the application has started and its ``shutdown`` when it has shut down;
answered by restauth for an application that does not speak it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from restauth.asgi.spec import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("restauth")


async def run_lifespan(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    startup: Callable[[], None],
    shutdown: Callable[[], Awaitable[None]],
) -> None:
    """The application's lifespan, as it was, with ``startup`` called once it has started
    and ``shutdown`` awaited at its end."""
    started = received = False

    async def receiving() -> Message:
        nonlocal received
        received = True
        return await receive()

    async def sending(message: Message) -> None:
        nonlocal started
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            started = True
            startup()
        elif kind == "lifespan.shutdown.complete":
            await shutdown()
        await send(message)

    try:
        await app(scope, receiving, sending)
    except Exception:
        if started or received:  # the app's own startup failed: the server must know
            raise
        # an application that knows no lifespan: answer it here, for restauth's stores
        logger.debug("the application does not speak lifespan; restauth answers it")
        await _own_lifespan(receive, send, startup, shutdown)
        return
    if not received:  # it returned at once (``if scope["type"] != "http": return``)
        await _own_lifespan(receive, send, startup, shutdown)


async def _own_lifespan(
    receive: Receive,
    send: Send,
    startup: Callable[[], None],
    shutdown: Callable[[], Awaitable[None]],
) -> None:
    """The lifespan protocol for an application that does not speak it."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return
