"""Client address and scheme: X-Forwarded-* only from trusted proxies."""

from __future__ import annotations

from typing import Any

import pytest

from restauth.wire.forwarded import TrustedProxies as RealTrustedProxies

from .adapters import request_view

pytestmark = pytest.mark.usefixtures("adapter")  # every test: WSGI and ASGI adapters


def view(environ: Any) -> Any:
    return request_view(environ) if isinstance(environ, dict) else environ


class TrustedProxies(RealTrustedProxies):
    """The real class, asked with WSGI environ dicts (through the view of the adapter under
    test: the environ itself, or the scope an ASGI server would give for it)."""

    def client_address(self, environ: Any) -> str:  # type: ignore[override]
        return super().client_address(view(environ))

    def is_https(self, environ: Any) -> bool:  # type: ignore[override]
        return super().is_https(view(environ))

    def origin(self, environ: Any) -> str:  # type: ignore[override]
        return super().origin(view(environ))


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


SCHEME_CLAIMS = [
    {"HTTP_X_FORWARDED_PROTO": "https"},
    {"HTTP_X_FORWARDED_PROTOCOL": "ssl"},
    {"HTTP_X_FORWARDED_SCHEME": "https"},
    {"HTTP_X_FORWARDED_SSL": "on"},
    {"HTTP_FORWARDED": 'for=192.0.2.1;proto="https"'},
    {"HTTP_FRONT_END_HTTPS": "on"},
]


@pytest.mark.parametrize("claim", SCHEME_CLAIMS)
def test_a_scheme_the_server_may_have_rewritten_on_a_clients_word(claim: dict[str, str]) -> None:
    """gunicorn sets wsgi.url_scheme from X-Forwarded-Proto of peers in its
    forwarded_allow_ips (127.0.0.1 by default): we do not trust that peer, so not that."""
    rewritten = {"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "https", **claim}
    assert not TrustedProxies().is_https(rewritten)
    assert not TrustedProxies(["10.0.0.0/8"]).is_https(rewritten)
    # A server that terminates TLS itself sends none of these: its scheme is believed.
    assert TrustedProxies().is_https({"REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "https"})


def test_the_nearest_trusted_proxy_decides_the_scheme() -> None:
    proxies = TrustedProxies(["10.0.0.1"])
    peer = {"REMOTE_ADDR": "10.0.0.1"}
    # The client wrote the first value; the proxy appended what it saw.
    assert not proxies.is_https({**peer, "HTTP_X_FORWARDED_PROTO": "https, http"})
    assert proxies.is_https({**peer, "HTTP_X_FORWARDED_PROTO": "http,https"})
    assert proxies.is_https(
        {**peer, "HTTP_FORWARDED": "for=1.2.3.4;proto=http, for=5.6.7.8;proto=https"}
    )
    assert not proxies.is_https({**peer, "HTTP_FORWARDED": "proto=https, for=5.6.7.8;proto=http"})
    # The proxy's own header says http: a rewritten wsgi.url_scheme does not overrule it.
    assert not proxies.is_https(
        {**peer, "wsgi.url_scheme": "https", "HTTP_X_FORWARDED_PROTO": "http"}
    )
    assert proxies.is_https({**peer, "wsgi.url_scheme": "https"})
    # The proxy set no scheme header; the client's X-Forwarded-Ssl, passed on untouched,
    # may have made the server rewrite wsgi.url_scheme: not believed.
    for claim in SCHEME_CLAIMS[1:4] + SCHEME_CLAIMS[5:]:
        assert not proxies.is_https({**peer, "wsgi.url_scheme": "https", **claim})


def test_origin_of_a_request() -> None:
    proxies = TrustedProxies(["10.0.0.1"])
    direct = {
        "REMOTE_ADDR": "192.0.2.1",
        "wsgi.url_scheme": "https",
        "HTTP_HOST": "API.example:443",
    }
    assert proxies.origin(direct) == "https://api.example"
    assert (
        proxies.origin({**direct, "HTTP_X_FORWARDED_HOST": "evil.example"}) == "https://api.example"
    )
    plain = {
        "REMOTE_ADDR": "192.0.2.1",
        "wsgi.url_scheme": "http",
        "SERVER_NAME": "h",
        "SERVER_PORT": "8080",
    }
    assert proxies.origin(plain) == "http://h:8080"
    proxied = {
        "REMOTE_ADDR": "10.0.0.1",
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "backend:8000",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_FORWARDED_HOST": "spoofed.example, api.example",
    }
    assert proxies.origin(proxied) == "https://api.example"


def test_remembered_verdicts_are_the_computed_ones_and_stay_bounded() -> None:
    """``trusts`` remembers its verdicts (asked on every request behind a proxy); the
    memory never changes an answer, and hostile hops cannot grow it without bound."""
    from restauth.wire import forwarded

    proxies = TrustedProxies(["10.0.0.0/8", "::1"])
    samples = ["10.1.2.3", "10.1.2.3 ", "11.0.0.1", "::1", "::2", "nonsense", "10.0.0.1"]
    samples += [f"192.0.2.{i}" for i in range(forwarded._MAX_VERDICTS + 50)]
    for _ in range(2):  # the second pass answers from memory (where it was kept)
        for address in samples:
            assert proxies.trusts(address) == proxies._judge(address), address
    assert len(proxies._verdicts) <= forwarded._MAX_VERDICTS
    assert proxies.trusts("10.9.9.9")
    assert not proxies.trusts("192.0.2.1")
