"""Sending notifications off the request: a reset request is answered at once, the same
way whether or not the user exists, and the work (the lookup, the token, the mail) is
done by a worker thread.

One daemon thread per process, started on first use (and again in a forked worker:
threads do not survive ``fork``); a bounded queue, so a flood of requests cannot grow
memory — past ``max_pending`` jobs a job is dropped with a warning (the user asks again).
A job that raises is logged by its type, never its message or arguments (a token could
be in either), except a :class:`~restauth.errors.NotificationFailed`, whose message names
the server, the step and its answer and is written to hold no secret. A forked worker
starts with an empty queue: the parent's pending jobs are the parent's to send.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable

from restauth.errors import NotificationFailed

logger = logging.getLogger("restauth")

Job = Callable[[], None]


class Outbox:
    """A queue of jobs and the thread that runs them."""

    def __init__(self, max_pending: int = 1000) -> None:
        self._max_pending = max_pending
        self._queue: queue.Queue[Job] = queue.Queue(max_pending)
        self._lock = threading.Lock()
        self._pid: int | None = None
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        """In a new child process: no worker yet, nothing queued (the parent sends its own)."""
        self._queue = queue.Queue(self._max_pending)
        self._lock = threading.Lock()
        self._pid = None

    def put(self, job: Job) -> None:
        """Queue ``job``; never blocks the request."""
        self._ensure_worker()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            logger.warning("account notification dropped: %d are waiting", self._queue.qsize())

    def join(self) -> None:
        """Wait until every queued job has run (tests, and a clean shutdown)."""
        self._queue.join()

    def _ensure_worker(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                threading.Thread(target=self._run, name="restauth-outbox", daemon=True).start()
                self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            try:
                job()
            except NotificationFailed as error:  # its message is made to be logged
                logger.error("account notification failed: %s", error)
            except Exception as error:  # one failed job must not stop the others
                logger.error("account notification failed: %s", type(error).__name__)
            finally:
                self._queue.task_done()
