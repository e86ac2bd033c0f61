"""Client address and scheme: X-Forwarded-* only from trusted proxies."""

from __future__ import annotations

import pytest

from restauth.forwarded import TrustedProxies


def test_without_proxies_the_peer_is_the_client() -> None:
    proxies = TrustedProxies()
    environ = {"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}
    assert proxies.client_address(environ) == "192.0.2.1"
    assert not proxies.is_https({"REMOTE_ADDR": "192.0.2.1", "HTTP_X_FORWARDED_PROTO": "https"})
    assert proxies.is_https({"wsgi.url_scheme": "https"})


def test_rightmost_untrusted_hop_behind_trusted_proxies() -> None:
    proxies = TrustedProxies(["10.0.0.0/8", "::1"])
    environ = {
        "REMOTE_ADDR": "10.0.0.2",
        "HTTP_X_FORWARDED_FOR": "1.1.1.1, 203.0.113.5, 10.0.0.9",  # first hop is client-chosen
    }
    assert proxies.client_address(environ) == "203.0.113.5"
    assert (
        proxies.client_address({"REMOTE_ADDR": "::1", "HTTP_X_FORWARDED_FOR": "2001:db8::1"})
        == "2001:db8::1"
    )
    junk = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "not-an-ip\r\n"}
    assert proxies.client_address(junk) == "10.0.0.2"
    assert proxies.is_https({"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_PROTO": "HTTPS"})
    assert not proxies.is_https({"REMOTE_ADDR": "10.1.2.3", "HTTP_X_FORWARDED_PROTO": "http"})


def test_bad_proxy_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="trusted proxy"):
        TrustedProxies(["proxy.local"])
