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
from restauth.wire.forwarded import TrustedProxies

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


def waitress_proxy_settings(proxies: TrustedProxies | None) -> dict[str, Any]:
    """waitress settings that let restauth judge the proxy headers itself.

    By default waitress deletes every ``X-Forwarded-*`` header, so behind a TLS proxy
    restauth would see plain HTTP and refuse all credentials (403). With proxies trusted,
    waitress believes ``X-Forwarded-Proto`` from them (from any peer when they are
    several or a network: restauth checks the peer again and refuses a scheme header
    from anyone else) and leaves the other headers in place, so restauth reads the
    client's address from ``X-Forwarded-For`` by its own rule, as under gunicorn.
    """
    if not proxies:
        return {}
    networks = proxies.networks
    single = len(networks) == 1 and networks[0].num_addresses == 1
    return {
        "trusted_proxy": str(networks[0].network_address) if single else "*",
        "trusted_proxy_headers": {"x-forwarded-proto"},
        "clear_untrusted_proxy_headers": False,
    }


def run(
    app: WSGIApplication,
    *,
    host: str,
    port: int,
    threads: int = 8,
    trusted_proxies: TrustedProxies | None = None,
) -> None:
    """Serve ``app`` until interrupted. Raises :class:`UsageError` when it cannot listen.
    ``trusted_proxies``: the middleware's, so that waitress passes their headers on."""
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
        listener = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="restauth",
            **waitress_proxy_settings(trusted_proxies),
        )
    except OSError as error:
        raise cannot_listen(host, port, error) from None
    listening = getattr(listener, "effective_port", port)
    print(
        f"restauth: serving on http://{host}:{listening} (waitress, {threads} threads)",
        flush=True,
    )
    listener.run()
