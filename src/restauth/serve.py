"""``restauth serve``: any WSGI app behind the configured middleware, on a real server.

waitress (the ``serve`` extra) is a production-grade multi-threaded server that runs
everywhere Python does; without it, the standard library's ``wsgiref`` with one
thread per request is the fallback, with a warning: fine to try things, not to deploy.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
from collections.abc import Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, cast
from wsgiref.simple_server import WSGIServer, make_server

from restauth.config.schema import ConfigError
from restauth.errors import UsageError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def whoami(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The default app: says who restauth decided is calling."""
    identity = environ.get("restauth.identity")
    body = json.dumps(
        {
            "userid": identity.userid if identity else None,
            "roles": sorted(identity.roles) if identity else [],
            "mechanism": identity.mechanism if identity else None,
            "path": environ.get("PATH_INFO", ""),
        }
    ).encode("utf-8")
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def load_app(spec: str | None) -> WSGIApplication:
    """Import ``module:callable`` (``module.sub:attr.attr``); ``None`` is :func:`whoami`."""
    if spec is None:
        return whoami
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise ConfigError(f"--app {spec!r}: expected MODULE:CALLABLE, e.g. myproject.wsgi:app")
    # The console script's sys.path starts at its own directory, not the current one;
    # gunicorn and waitress-serve import the app from where they were started, so do we.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"--app {spec!r}: cannot import {module_name} ({error})") from None
    for name in attribute.split("."):
        if not hasattr(target, name):
            raise ConfigError(f"--app {spec!r}: {module_name} has no {attribute}")
        target = getattr(target, name)
    if not callable(target):
        raise ConfigError(f"--app {spec!r}: {attribute} is not callable")
    return cast("WSGIApplication", target)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def cannot_listen(host: str, port: int, error: OSError) -> UsageError:
    """A port in use (or a host that is not ours) is a user mistake: one line, exit 1."""
    return UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}")


def run(app: WSGIApplication, *, host: str, port: int, threads: int = 8) -> None:
    """Serve ``app`` until interrupted. Raises :class:`UsageError` when it cannot listen."""
    try:
        import waitress  # noqa: F401 - the extra's test: honours sys.modules["waitress"] = None
        from waitress.server import create_server
    except ImportError:
        print(
            "restauth: waitress is not installed (pip install 'restauth[serve]'); "
            "falling back to wsgiref, which is not meant for production",
            file=sys.stderr,
        )
        try:
            server = make_server(host, port, app, server_class=_ThreadingWSGIServer)
        except OSError as error:
            raise cannot_listen(host, port, error) from None
        with server:
            print(f"restauth: serving on http://{host}:{server.server_port}", flush=True)
            server.serve_forever()
        return
    logging.basicConfig()  # as waitress.serve does: its own warnings reach stderr
    try:
        listener = create_server(app, host=host, port=port, threads=threads, ident="restauth")
    except OSError as error:
        raise cannot_listen(host, port, error) from None
    listening = getattr(listener, "effective_port", port)
    print(
        f"restauth: serving on http://{host}:{listening} (waitress, {threads} threads)",
        flush=True,
    )
    listener.run()
