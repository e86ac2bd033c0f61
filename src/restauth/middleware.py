"""``AuthMiddleware``: the WSGI adapter, and nothing else.

It wraps the environ in a request view, asks :class:`~restauth.pipeline.Pipeline` what to
do, and does it: send restauth's own reply, or call the application with the identity in
the environ and restauth's headers merged into the application's. Every judgement lives
in the pipeline, which knows no WSGI.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from restauth.options import Options, Settings
from restauth.pipeline import Admit, Pipeline
from restauth.tokens.memory import MemoryTokenManager
from restauth.wire.request import HeaderSet, declared_length
from restauth.wire.responses import Reply

if TYPE_CHECKING:
    from typing import Unpack

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger("restauth")
_SPECIAL_KEYS = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}
_KEYS: dict[str, str] = {}  # header name -> environ key; only names restauth asks for
_KEY_SETS: dict[HeaderSet, tuple[str, ...]] = {}


def _key(name: str) -> str:
    key = _KEYS.get(name)
    if key is None:
        key = _KEYS[name] = _SPECIAL_KEYS.get(name) or "HTTP_" + name.upper().replace("-", "_")
    return key


class EnvironRequest:
    """A :class:`~restauth.wire.request.Request` over a WSGI environ: the five fields every
    request reads are copied once; headers are looked up only when asked for."""

    __slots__ = ("environ", "method", "path", "peer", "query", "scheme")

    def __init__(self, environ: WSGIEnvironment) -> None:
        get = environ.get
        self.environ = environ
        self.method: str = get("REQUEST_METHOD") or "GET"
        self.path: str = get("PATH_INFO") or "/"  # an app mounted at its root may see ""
        self.query: str = get("QUERY_STRING") or ""
        self.scheme: str = get("wsgi.url_scheme") or "http"
        self.peer: str | None = get("REMOTE_ADDR")

    @property
    def host(self) -> str:
        environ = self.environ
        host = environ.get("HTTP_HOST")
        return host or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"

    def header(self, name: str) -> str | None:
        return self.environ.get(_KEYS.get(name) or _key(name))

    def has_header(self, name: str) -> bool:
        return (_KEYS.get(name) or _key(name)) in self.environ

    def has_any_header(self, names: HeaderSet) -> bool:
        keys = _KEY_SETS.get(names)
        if keys is None:
            keys = _KEY_SETS[names] = tuple(_key(name) for name in names.names)
        environ = self.environ
        for key in keys:  # noqa: SIM110 - a loop, not any(): this runs on every request
            if key in environ:
                return True
        return False

    @property
    def content_length(self) -> int | None:
        return declared_length(self.environ.get("CONTENT_LENGTH"))

    def read_body(self, limit: int) -> bytes | None:
        environ = self.environ
        length = self.content_length
        if length is None:
            if not environ.get("wsgi.input_terminated"):  # PEP 3333: reading on may block
                return None if "HTTP_TRANSFER_ENCODING" in environ else b""
            return _read(environ["wsgi.input"], limit + 1, exact=False)  # gunicorn, chunked
        return _read(environ["wsgi.input"], min(max(length, 0), limit + 1), exact=True)


_CHUNK = 64 * 1024


def _read(stream: Any, most: int, *, exact: bool) -> bytes:
    """Up to ``most`` bytes of ``stream`` in bounded reads; ``exact``: all of them or
    ``OSError``. A server's own error (gunicorn's on a malformed chunk) is an ``OSError``
    too: the client's body, not restauth, is at fault."""
    chunks, missing = [], most
    try:
        while missing > 0:
            chunk = stream.read(min(missing, _CHUNK))
            if not chunk:
                break
            chunks.append(chunk)
            missing -= len(chunk)
    except OSError:
        raise
    except Exception as error:
        raise OSError(f"the body cannot be read: {type(error).__name__}") from None
    if exact and missing > 0:
        raise OSError(f"the body ended {missing} bytes before its Content-Length")
    return b"".join(chunks)


class AuthMiddleware:
    """Authenticate every request to ``app``; see the README for the wire behaviour and
    :class:`~restauth.options.Options` for the keywords. The settings are readable as
    attributes (``middleware.tokens``, ``middleware.throttle``, ...)."""

    def __init__(self, app: WSGIApplication, **settings: Unpack[Settings]) -> None:
        self.app = app
        self.options = Options.build(**settings)
        self.pipeline = Pipeline(self.options)
        # Checked on the first request only: whether the server forks workers is in the environ.
        self._watch_processes = isinstance(self.options.tokens, MemoryTokenManager)

    def __getattr__(self, name: str) -> Any:
        if name == "options":  # not built yet: never recurse
            raise AttributeError(name)
        return getattr(self.options, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in (
            "app",
            "options",
            "pipeline",
            "_watch_processes",
        ):  # a setting changed here would be ignored
            raise AttributeError(f"{name} is fixed when the middleware is built; build a new one")
        object.__setattr__(self, name, value)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if self._watch_processes:  # False after the first request: one attribute test
            self._warn_if_multiprocess(environ)
        decision = self.pipeline.decide(EnvironRequest(environ))
        if isinstance(decision, Reply):
            start_response(decision.status, list(decision.headers))
            return [decision.body]
        if decision.query is not None:
            environ["QUERY_STRING"] = decision.query  # the token never reaches the app
        identity = decision.identity
        if identity is None:
            environ.pop("restauth.identity", None)
        else:
            environ["REMOTE_USER"] = identity.userid
            environ["restauth.identity"] = identity
        if decision.token_headers is None and not (
            decision.private or decision.no_referrer or decision.cors
        ):
            return self.app(environ, start_response)  # nothing of ours to add
        return self.app(environ, _merging(start_response, decision))

    def _warn_if_multiprocess(self, environ: WSGIEnvironment) -> None:
        """Memory tokens live in one process: under several, a token issued by one worker
        is unknown to the others and token requests get 401 at random. Say so, once."""
        self._watch_processes = False
        if environ.get("wsgi.multiprocess"):
            logger.warning(_MULTIPROCESS_WARNING)


_MULTIPROCESS_WARNING = (
    "MemoryTokenManager keeps tokens inside one process, but this server runs several "
    "(wsgi.multiprocess is true): a token issued by one worker is unknown to the others, "
    "so token requests will get 401 at random. Use SQLiteTokenManager (processes on one "
    "machine) or RedisTokenManager (several machines); see the README, 'Storage and "
    "scaling out'."
)


def _merging(start_response: StartResponse, decision: Admit) -> StartResponse:
    """``start_response`` with restauth's headers merged into the application's."""

    def start(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        return start_response(status, decision.headers(headers), exc_info)

    return start
