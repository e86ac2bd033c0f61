"""``parse_authorization``: every header shape maps to credentials, ``None`` or a ``Malformed``."""

from __future__ import annotations

import base64

import pytest

from restauth.wire.credentials import (
    BasicCredentials,
    Malformed,
    TokenCredentials,
    is_b64token,
    parse_authorization,
)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def test_absent_header_is_anonymous() -> None:
    assert parse_authorization(None) is None


@pytest.mark.parametrize("value", ["Digest x=1", "Negotiate abc", "", "   ", "Basicx abc"])
def test_foreign_or_empty_schemes_are_anonymous(value: str) -> None:
    assert parse_authorization(value) is None


def test_basic_splits_at_the_first_colon() -> None:
    parsed = parse_authorization("Basic " + b64(b"alice:pa:ss"))
    assert parsed == BasicCredentials("alice", "pa:ss")


def test_basic_scheme_is_case_insensitive_and_tolerates_spaces() -> None:
    assert parse_authorization("bAsIc    " + b64(b"a:b")) == BasicCredentials("a", "b")


def test_basic_is_utf8_and_nfc_normalised() -> None:
    decomposed = "e\u0301"  # e + combining acute: NFC is é
    parsed = parse_authorization("Basic " + b64(f"{decomposed}:{decomposed}".encode()))
    assert parsed == BasicCredentials("\u00e9", "\u00e9")


def test_empty_password_is_parsed_and_left_to_the_store() -> None:
    assert parse_authorization("Basic " + b64(b"alice:")) == BasicCredentials("alice", "")


@pytest.mark.parametrize(
    "encoded",
    [
        "",  # scheme without credentials
        "not base64!",
        b64(b"alice:pw")[:-1],  # bad padding
        b64(b"alice:pw") + "\n",  # validate=True refuses stray characters
        b64(b"no-colon"),
        b64(b":password"),  # empty userid
        b64(b"ali\x00ce:pw"),  # NUL
        b64(b"alice:p\x00w"),
        b64(b"alice:p\x1bw"),  # escape
        b64(b"alice:p\x85w"),  # raw C1 byte: not UTF-8 at all
        b64("alice:p\u0085w".encode()),  # C1 control as UTF-8
        b64(b"\xff\xfe:pw"),  # not UTF-8
        "YWxpY2U6cHc=\u00e9",  # non-ASCII in the base64 text (Latin-1 decoded header)
    ],
)
def test_malformed_basic(encoded: str) -> None:
    assert parse_authorization("Basic " + encoded) is Malformed.BASIC


def test_two_basic_headers_joined_are_ambiguous() -> None:
    value = "Basic " + b64(b"a:b") + ", Basic " + b64(b"c:d")
    assert parse_authorization(value) is Malformed.AMBIGUOUS


@pytest.mark.parametrize("scheme", ["Token", "token", "Bearer", "BEARER"])
def test_token_schemes(scheme: str) -> None:
    parsed = parse_authorization(f"{scheme} abc.DEF-_~+/==")
    assert parsed == TokenCredentials("abc.DEF-_~+/==", scheme.lower())


@pytest.mark.parametrize("token", ["", "a b", "a=b", "tök", "a\x00b", "=abc"])
def test_malformed_tokens(token: str) -> None:
    assert parse_authorization(f"Bearer {token}") is Malformed.TOKEN


def test_two_bearer_headers_joined_are_ambiguous() -> None:
    assert parse_authorization("Bearer abc, Bearer def") is Malformed.AMBIGUOUS


def test_token_schemes_are_foreign_when_tokens_are_off() -> None:
    assert parse_authorization("Token abc", tokens_enabled=False) is None
    assert parse_authorization("Basic " + b64(b"a:b"), tokens_enabled=False) is not None


def test_size_limit_is_checked_before_decoding() -> None:
    huge = "Basic " + "A" * (64 * 1024)
    assert parse_authorization(huge) is Malformed.TOO_LARGE
    assert parse_authorization("Bearer " + "a" * 100, max_size=50) is Malformed.TOO_LARGE
    assert parse_authorization("Bearer " + "a" * 43, max_size=50) is not Malformed.TOO_LARGE


def test_reprs_hide_secrets() -> None:
    assert "s3cret" not in repr(BasicCredentials("alice", "s3cret"))
    assert "s3cret" not in repr(TokenCredentials("s3cret", "bearer"))


@pytest.mark.parametrize(
    ("value", "expected"), [("abc", True), ("a.b-c_d~e+f/g==", True), ("a b", False), ("", False)]
)
def test_is_b64token(value: str, expected: bool) -> None:
    assert is_b64token(value) is expected
