"""``restauth.asgi``: the ASGI adapter (extra ``restauth[asgi]``).

The same :class:`~restauth.pipeline.Pipeline` as the WSGI adapter decides every request;
this package only turns a scope into a request view (:mod:`.request`), decides where the
decision runs (:mod:`.middleware`), and applies it: restauth's own reply, or the
application with the identity in the scope (:mod:`.scope`) and restauth's headers merged
into its answer (:mod:`.messages`).

**The event loop never waits on a store.** A decision runs:

- *inline*, when it reads no store that may wait: a request without credentials (or with
  unreadable ones); with in-process stores (memory users, tokens and throttle, no identity
  provider), any request but restauth's own endpoints, up to a password's hash check
  (a Basic password the password cache remembers needs none): the pipeline stops there,
  before the throttle counts the attempt, and the decision runs again in a thread;
- *after awaiting its reads*, for a Token check (``Token``/``Bearer``, the cookie, the
  query token) when the token manager and the user store have async clients (Redis through
  ``redis.asyncio``, PostgreSQL through psycopg's async pool; memory users need none): the
  two reads are awaited on the loop (:mod:`.reads`), then the decision runs inline;
- *in a worker thread* otherwise (bcrypt, SQLite, custom stores, restauth's endpoints):
  restauth's own pool under asyncio, anyio's under trio, at most ``max_threads`` at once
  (:mod:`.workers`).

A body is read from ``receive`` only for restauth's own endpoints, within their limit
(16 KiB), on the event loop before the decision (a client that never sends it holds no
thread), and not at all over plain HTTP with ``require_https``; the application's bodies
are never touched.

**What the application sees** (``http`` and ``websocket`` scopes): ``scope["restauth.identity"]``
(an :class:`~restauth.identity.Identity`, absent for anonymous requests), and Starlette's
conventions: ``scope["user"]`` (``request.user``: ``is_authenticated``, ``display_name``,
``identity``, ``roles``) and ``scope["auth"]`` (``request.auth``: ``scopes`` are the roles,
so ``starlette.authentication.requires("admin")`` works).

**Lifespan** (:mod:`.lifespan`): the scope is passed on to the application; when the
server says it shuts down, the async readers and the stores are closed after the
application has finished its own shutdown. Without lifespan events (some servers, tests)
nothing is needed: stores and readers open on first use.

**WebSockets** are authenticated like any request (``Authorization``, the cookie, the
query token); in cookie mode a handshake from another site is refused (a browser sends the
cookie with any site's handshake, and a script cannot add the CSRF header to one). A
refused handshake is refused before ``accept``: with restauth's own HTTP answer where the
server offers the ``websocket.http.response`` extension, else a close (which the server
answers 403).
"""

from restauth.asgi.middleware import AuthMiddleware, from_config
from restauth.asgi.request import ScopeRequest
from restauth.asgi.scope import AuthenticatedUser, Roles
from restauth.asgi.spec import ASGIApp

__all__ = [
    "ASGIApp",
    "AuthMiddleware",
    "AuthenticatedUser",
    "Roles",
    "ScopeRequest",
    "from_config",
]
