"""Who the client really is: its address and whether it spoke HTTPS.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only when the immediate
peer (``REMOTE_ADDR``) is one of the configured trusted proxies; from anyone else
they are client-controlled text (ASVS 5.0 4.1.3).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
                raise ValueError(
                    f"trusted proxy {proxy!r} is not an IP address or network"
                ) from None
        self._networks = tuple(networks)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def trusts(self, address: str | None) -> bool:
        if not self._networks or not address:
            return False
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self._networks)

    def client_address(self, environ: dict[str, Any]) -> str:
        """The rightmost ``X-Forwarded-For`` hop that is not a trusted proxy, else the peer."""
        peer = str(environ.get("REMOTE_ADDR") or "unknown")
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if not forwarded or not self.trusts(peer):
            return peer
        for hop in reversed(forwarded.split(",")):
            hop = hop.strip()
            if not self.trusts(hop):
                return hop if _is_ip(hop) else peer
        return peer

    def is_https(self, environ: dict[str, Any]) -> bool:
        if environ.get("wsgi.url_scheme") == "https":
            return True
        proto = environ.get("HTTP_X_FORWARDED_PROTO")
        if proto is None or not self.trusts(environ.get("REMOTE_ADDR")):
            return False
        return str(proto).split(",")[0].strip().lower() == "https"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
