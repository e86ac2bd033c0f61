"""Properties of the ``Authorization`` parser alone (cheap, so more examples)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from restauth.wire.credentials import (
    BasicCredentials,
    Malformed,
    TokenCredentials,
    check_credentials,
    parse_authorization,
)

from .strategies import World, authorizations, basic_of, latin1

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MANY = settings(max_examples=settings().max_examples * 5)


@MANY
@given(st.one_of(latin1(200), st.text(max_size=200), authorizations(World({"a": "x.y"}))))
def test_parser_never_raises_and_returns_clean_credentials(value: str | None) -> None:
    result = parse_authorization(value)
    assert result is None or isinstance(result, BasicCredentials | TokenCredentials | Malformed)
    if isinstance(result, BasicCredentials):
        assert result.userid
        assert ":" not in result.userid
        assert not _CONTROL.search(result.userid + result.password)
        assert repr(result).endswith("password=<hidden>)")
    if isinstance(result, TokenCredentials):
        assert result.token.isascii()
        assert " " not in result.token
        assert "," not in result.token


@MANY
@given(st.text(max_size=30).filter(lambda u: ":" not in u), st.text(max_size=30))
def test_a_login_body_is_judged_exactly_as_basic(userid: str, password: str) -> None:
    """The body's rule is Basic's: same credentials, or refused by both."""
    from_body = check_credentials(userid, password)
    try:
        header = basic_of(userid, password)
        (userid + password).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: Basic cannot even carry it
        assert from_body is Malformed.BASIC
        return
    assert parse_authorization(header) == from_body


@MANY
@given(st.text(max_size=40), st.text(max_size=40))
def test_what_enrolment_accepts_login_accepts(userid: str, password: str) -> None:
    """A user enrolled with a userid and password can always log in with them: enrolment
    is at least as strict as login (a C1 control once got through enrolment only)."""
    from restauth.passwords.hasher import check_password
    from restauth.users.base import check_userid

    try:
        canonical = check_userid(userid)
        check_password(password)
    except ValueError:
        return
    assert isinstance(check_credentials(canonical, password), BasicCredentials)
