"""Where a decision that may wait runs: a worker thread, at most so many at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")
A = TypeVar("A")


class Workers:
    """At most ``size`` calls at once in threads: restauth's own pool under asyncio (a
    fifth of the cost of anyio's hop, which also takes a cancel scope and a capacity
    token), anyio's worker threads under trio."""

    def __init__(self, size: int) -> None:
        if not isinstance(size, int) or size < 1:
            raise ValueError("max_threads must be a positive integer")
        self.size = size
        self._executor = ThreadPoolExecutor(size, thread_name_prefix="restauth")
        self._limiter: anyio.CapacityLimiter | None = None  # trio: made in its event loop

    async def run(self, step: Callable[[A], T], argument: A) -> T:
        """``step(argument)`` in a worker thread."""
        loop = running_asyncio_loop()
        if loop is not None:
            return await loop.run_in_executor(self._executor, step, argument)
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.size)
        return await anyio.to_thread.run_sync(step, argument, limiter=self._limiter)


def running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio loop; ``None`` under another (trio)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
