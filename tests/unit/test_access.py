"""Path patterns and ``PublicPaths``: what anonymous callers may reach."""

from __future__ import annotations

import pytest

from restauth.access.paths import PublicPaths, compile_pattern, is_canonical


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/health", "/health", True),
        ("/health", "/health/", False),
        ("/health", "/healthz", False),
        ("/static/*", "/static/app.js", True),
        ("/static/*", "/static/js/app.js", False),
        ("/static/*", "/static", False),
        ("/static/**", "/static", True),
        ("/static/**", "/static/js/app.js", True),
        ("/static/**", "/staticx", False),
        ("/a/*/c", "/a/b/c", True),
        ("/a.b", "/aXb", False),  # dots are literal
        ("/", "/", True),
        ("/", "/x", False),
    ],
)
def test_pattern_matching(pattern: str, path: str, matches: bool) -> None:
    assert bool(compile_pattern(pattern).fullmatch(path)) is matches
    assert PublicPaths([pattern]).match(path) is matches


@pytest.mark.parametrize("pattern", ["health", "/a/**/b", "/a*", "/x/*.js", ""])
def test_malformed_patterns_name_themselves(pattern: str) -> None:
    with pytest.raises(ValueError, match="pattern"):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    "path",
    [
        "/static/../admin",
        "/static/./x",
        "/static//x",
        "/static/x;admin",
        "/static\\x",
        "static/x",
        "/static/%2e%2e/admin",  # encoded twice by the client: a second decode sees ".."
        "/static/%2E%2e/admin",
        "/static/..%2fadmin",
        "/static/x%3badmin",
        "/static/..%5Cadmin",
    ],
)
def test_non_canonical_paths_are_never_public(path: str) -> None:
    assert not is_canonical(path)
    assert not PublicPaths(["/static/**"]).match(path)


def test_a_percent_sign_alone_stays_canonical() -> None:
    assert is_canonical("/static/100%25-off.png")
    assert is_canonical("/static/caf%C3%A9")


def test_a_single_string_is_one_pattern() -> None:
    public = PublicPaths("/health")
    assert public.match("/health")
    assert bool(public)
    assert not PublicPaths([])
    assert not PublicPaths([]).match("/health")


def test_non_ascii_patterns_match_the_wsgi_form_of_the_path() -> None:
    """PEP 3333 servers put the path's UTF-8 bytes in PATH_INFO decoded as Latin-1."""
    wsgi_path = "/café/menu".encode().decode("latin-1")
    assert PublicPaths(["/café/menu"]).match(wsgi_path)
    assert PublicPaths(["/café/*"]).match(wsgi_path)
    assert not PublicPaths(["/café/menu"]).match("/cafe/menu")


def test_patterns_may_come_from_a_generator() -> None:
    public = PublicPaths(p for p in ["/health", "/static/**"])
    assert public.match("/health")
    assert public.match("/static/x")
