"""The ``Auth-Token*`` headers and their merge into the application's headers."""

from __future__ import annotations

from restauth.tokens.base import TokenGrant
from restauth.wire.token_headers import format_instant, merge_token_headers, token_headers

GRANT = TokenGrant("tok.mac", "al ice/\r\nX: y", "s", 0.0, 1_800_000_000.5, "session-1")


def test_format_instant_is_iso8601_utc_millis() -> None:
    assert format_instant(1_800_000_000.5) == "2027-01-15T08:00:00.500Z"
    assert format_instant(0) == "1970-01-01T00:00:00.000Z"


def test_location_percent_encodes_the_userid() -> None:
    headers = dict(token_headers(GRANT, "/tokens"))
    assert headers["Auth-Token"] == "tok.mac"
    assert headers["Auth-Token-Location"] == "/tokens/al%20ice%2F%0D%0AX%3A%20y"
    assert all("\r" not in v and "\n" not in v for v in headers.values())


def test_merge_replaces_owned_headers_and_merges_expose() -> None:
    app = [
        ("Content-Type", "text/plain"),
        ("auth-token", "forged"),
        ("Cache-Control", "public, max-age=60"),
        ("Pragma", "cache"),
        ("Access-Control-Expose-Headers", "X-Id, Auth-Token"),
    ]
    merged = merge_token_headers(app, token_headers(GRANT, "/tokens"))
    names = [name.lower() for name, _ in merged]
    assert names.count("auth-token") == 1
    assert dict(merged)["Auth-Token"] == "tok.mac"
    assert ("Cache-Control", "no-store") in merged
    assert ("Pragma", "no-cache") in merged
    assert names.count("cache-control") == 1
    expose = dict(merged)["Access-Control-Expose-Headers"]
    assert expose == "X-Id, Auth-Token, Auth-Token-Valid-Until, Auth-Token-Location"
    assert ("Content-Type", "text/plain") in merged
