"""The middleware's own replies: problem bodies, challenges, and the no-challenge switch."""

from __future__ import annotations

import json

import pytest

from restauth.middleware import EnvironRequest
from restauth.wire.responses import Challenges, problem, unavailable, wants_no_challenge


def test_problem_bodies_are_rfc9457_and_not_cached() -> None:
    reply = problem(401)
    body = json.loads(reply.body)
    assert body == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "Valid credentials are required.",
    }
    headers = dict(reply.headers)
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["Content-Length"] == str(len(reply.body))
    assert headers["Cache-Control"] == "no-store"
    assert reply.status == "401 Unauthorized"


def test_challenges_per_realm() -> None:
    challenges = Challenges("my api", tokens_enabled=True)
    values = [v for n, v in challenges.unauthorized.headers if n == "WWW-Authenticate"]
    assert values == ['Basic realm="my api", charset="UTF-8"', 'Bearer realm="my api"']
    assert ("WWW-Authenticate", 'Bearer realm="my api", error="invalid_token"') in (
        challenges.invalid_token.headers
    )
    assert challenges.bad_request.status.startswith("400")
    assert challenges.too_large.status.startswith("431")
    basic_only = Challenges("r", tokens_enabled=False)
    assert [n for n, _ in basic_only.unauthorized.headers].count("WWW-Authenticate") == 1


@pytest.mark.parametrize("realm", ["", 'say "hi"', "back\\slash", "new\nline", "caf\u00e9"])
def test_realm_that_would_break_the_header_is_refused(realm: str) -> None:
    with pytest.raises(ValueError, match="realm"):
        Challenges(realm, tokens_enabled=True)


def test_without_challenge_keeps_status_and_body() -> None:
    reply = Challenges("r", tokens_enabled=True).unauthorized
    bare = Challenges.without_challenge(reply)
    assert bare.status == reply.status
    assert bare.body == reply.body
    assert all(name != "WWW-Authenticate" for name, _ in bare.headers)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"HTTP_NO_AUTH_CHALLENGE": ""}, True),
        ({"QUERY_STRING": "noauthchallenge"}, True),
        ({"QUERY_STRING": "a=1&noauthchallenge=yes"}, True),
        ({"QUERY_STRING": "xnoauthchallenge=1"}, False),
        ({"QUERY_STRING": "q=noauthchallenge"}, False),
        ({}, False),
    ],
)
def test_wants_no_challenge(environ: dict[str, object], expected: bool) -> None:
    assert wants_no_challenge(EnvironRequest(environ)) is expected  # type: ignore[arg-type]


def test_unavailable_says_when_to_retry() -> None:
    reply = unavailable(7)
    assert reply.status.startswith("503")
    assert ("Retry-After", "7") in reply.headers
