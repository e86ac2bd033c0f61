"""Who the client really is: its address, whether it spoke HTTPS, and its origin.

``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``X-Forwarded-Host`` are believed only
when the immediate peer (``REMOTE_ADDR``) is one of the configured trusted proxies;
from anyone else they are client-controlled text (ASVS 5.0 4.1.3). Where a proxy
appended to a list, the value the nearest (trusted) proxy added is the rightmost one.

Some servers rewrite ``wsgi.url_scheme`` themselves from such headers: gunicorn does for
peers in its ``forwarded_allow_ips`` (``127.0.0.1`` by default), so a client on the same
machine could claim HTTPS. A server that terminates TLS itself sends none of these
headers, so when one is present and the peer is not trusted here, ``wsgi.url_scheme``
is not believed either.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from restauth.errors import ConfigError
from restauth.wire.request import HeaderSet

if TYPE_CHECKING:
    from restauth.wire.request import Request

logger = logging.getLogger("restauth")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_DEFAULT_PORTS = {"http": ":80", "https": ":443"}
_MAX_VERDICTS = 1024
_FORWARDER_CLIENTS = 3  # different X-Forwarded-For clients that make a peer look like a proxy
_FORWARDERS_TRACKED = 64


class TrustedProxies:
    """A set of proxy addresses or networks (``"10.0.0.1"``, ``"10.0.0.0/8"``, ``"::1"``)."""

    def __init__(self, proxies: Iterable[str] = ()) -> None:
        if isinstance(proxies, str):
            proxies = [proxies]
        networks: list[Network] = []
        for proxy in proxies:
            try:
                networks.append(ipaddress.ip_network(proxy, strict=False))
            except ValueError:
                raise ConfigError(
                    f"trusted proxy {proxy!r} is not an IP address or network"
                ) from None
        self._networks = tuple(networks)
        self._forwarded: dict[str, set[str]] = {}  # untrusted peer -> clients it named
        self._warned_peers: set[str] = set()
        self._verdicts: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self._networks)

    @property
    def networks(self) -> tuple[Network, ...]:
        return self._networks

    def trusts(self, address: str | None) -> bool:
        """Whether ``address`` is one of the proxies. Asked on every request behind a
        proxy, so verdicts are remembered (parsing an address costs microseconds); the
        memory is cleared past :data:`_MAX_VERDICTS` addresses, as client-sent hops are
        asked about too."""
        if not self._networks or not address:
            return False
        verdict = self._verdicts.get(address)
        if verdict is None:
            if len(self._verdicts) >= _MAX_VERDICTS:
                self._verdicts.clear()
            verdict = self._verdicts[address] = self._judge(address)
        return verdict

    def _judge(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def client_address(self, request: Request) -> str:
        """The rightmost ``X-Forwarded-For`` hop that is not a trusted proxy, else the peer."""
        peer = request.peer or "unknown"
        if not self._networks:
            return peer  # no proxy trusted: nothing else to read
        forwarded = request.header("x-forwarded-for")
        if not forwarded or not self.trusts(peer):
            return peer
        for hop in reversed(forwarded.split(",")):
            hop = hop.strip()
            if not self.trusts(hop):
                return hop if _is_ip(hop) else peer
        return peer

    def warn_if_untrusted_forwarder(self, request: Request) -> None:
        """Warn about a peer that forwards for others but is not trusted. Behind a proxy
        left out of ``trusted_proxies`` every client has the proxy's address, so all of
        them share one failed-login counter, and one guesser gets them all throttled.
        Called when a password attempt fails or is throttled (what that counter is about).

        A peer counts as a proxy once its ``X-Forwarded-For`` has named
        :data:`_FORWARDER_CLIENTS` different clients (one client forging the header names
        one); each such peer is named once, and at most :data:`_FORWARDERS_TRACKED` peers
        are remembered, so no client can silence the warning or grow the memory."""
        forwarded = request.header("x-forwarded-for")
        peer = request.peer or "unknown"
        if forwarded is None or peer in self._warned_peers or self.trusts(peer):
            return
        clients = self._forwarded.get(peer)
        if clients is None:
            if len(self._forwarded) >= _FORWARDERS_TRACKED:
                self._forwarded.clear()
            clients = self._forwarded[peer] = set()
        clients.add(_rightmost(forwarded))
        if len(clients) < _FORWARDER_CLIENTS or len(self._warned_peers) >= _FORWARDERS_TRACKED:
            return
        self._warned_peers.add(peer)
        del self._forwarded[peer]
        logger.warning(
            "requests from %s carry X-Forwarded-For for several clients, but %s is not in "
            "trusted_proxies: if it is your proxy, every client behind it counts as %s, and "
            "all of them share one failed-login counter; add the proxy to trusted_proxies",
            peer,
            peer,
            peer,
        )

    def is_https(self, request: Request) -> bool:
        """Whether the client spoke HTTPS, as far as this server can know.

        A trusted proxy is believed through ``X-Forwarded-Proto`` or ``Forwarded: proto=``
        only: another scheme header may be the client's, passed on by a proxy that does
        not set it (nginx forwards ``X-Forwarded-Ssl`` untouched)."""
        if self._networks and self.trusts(request.peer):
            proto = request.header("x-forwarded-proto")
            if proto is not None:
                return _rightmost(proto).lower() == "https"
            forwarded = _forwarded_proto(request.header("forwarded"))
            if forwarded is not None:
                return forwarded == "https"
        if request.scheme != "https":
            return False
        if not request.has_any_header(_SCHEME_OR_FORWARDED):
            return True  # the common case, in one call
        return not _claims_scheme(request)  # the server may have rewritten it on a client's word

    def origin(self, request: Request) -> str:
        """This request's own origin (RFC 6454), as a browser would write it in ``Origin``."""
        scheme = "https" if self.is_https(request) else "http"
        forwarded = request.header("x-forwarded-host")
        trusted = forwarded and self.trusts(request.peer)
        host = _rightmost(forwarded) if forwarded and trusted else request.host
        return normalize_origin(f"{scheme}://{host}")


def normalize_origin(origin: str) -> str:
    """Lower-case, without the scheme's default port: ``https://a.example:443`` is
    ``https://a.example``. ``null`` and anything unparsable stay as they are (no match)."""
    origin = origin.strip().lower()
    scheme, sep, _ = origin.partition("://")
    default = _DEFAULT_PORTS.get(scheme)
    if sep and default and origin.endswith(default):
        return origin[: -len(default)]
    return origin


def _rightmost(values: str) -> str:
    return values.rpartition(",")[2].strip()


def _forwarded_proto(header: str | None) -> str | None:
    """``proto`` of the last element of an RFC 7239 ``Forwarded`` header, if it has one."""
    if not header or "proto=" not in header.lower():
        return None
    for pair in _rightmost(header).split(";"):
        name, _, value = pair.partition("=")
        if name.strip().lower() == "proto":
            return value.strip().strip('"').lower()
    return None


# Headers a proxy (or a client posing as one) uses to tell the original scheme: the ones
# gunicorn's secure_scheme_headers and werkzeug's ProxyFix read.
SCHEME_HEADERS = HeaderSet(
    "x-forwarded-proto",
    "x-forwarded-protocol",
    "x-forwarded-scheme",
    "x-forwarded-ssl",
    "x-url-scheme",
    "front-end-https",
)


_SCHEME_OR_FORWARDED = HeaderSet(*SCHEME_HEADERS.names, "forwarded")


def _claims_scheme(request: Request) -> bool:
    if request.has_any_header(SCHEME_HEADERS):
        return True
    forwarded = request.header("forwarded")
    return forwarded is not None and "proto=" in forwarded.lower()


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
