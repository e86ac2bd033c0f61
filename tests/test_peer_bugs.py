"""Real bugs in peer libraries (K1-K18 of shared/research/security.md §3), each shown
impossible here. One test per bug, named after it; docs/hardening-tests.md says which
parts of a bug do not apply to restauth, and why.
"""

from __future__ import annotations

import ast
import base64
import io
import logging
import re
import sqlite3
import sys
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore, PasswordHasher
from restauth.passwords.cache import PasswordCache
from restauth.passwords.hasher import PREHASH_PREFIX
from restauth.tokens.sqlite import SQLiteTokenManager
from restauth.users.base import MAX_USERID_LENGTH

from .conftest import ALICE_PASSWORD, BOB_PASSWORD, basic, echo_app

SRC = Path(__file__).resolve().parent.parent / "src" / "restauth"
SECRET_KEY = "peer-bugs-secret-key-0123456789abc"


def app_for(users: Any, tokens: Any = None, **options: Any) -> TestApp:
    tokens = tokens if tokens is not None else MemoryTokenManager()
    options.setdefault("throttle", None)  # these tests fail many logins on purpose
    return TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens, **options))


# -- K1-K5: bcrypt's 72 bytes, timing and crashes ------------------------------------------

LONG = "é" * 36  # 72 bytes of UTF-8, 36 characters: the boundary Spring's test missed


def test_K1_spring_cve_2025_22228_no_match_on_a_shared_72_byte_prefix(
    hasher: PasswordHasher,
) -> None:
    users = MemoryUserStore(hasher=hasher)
    users.add("alice", LONG + "right")
    client = app_for(users)
    client.get("/", headers={"Authorization": basic("alice", LONG + "right")}, status=200)
    for wrong in (LONG + "wrong", LONG, LONG + "righ", LONG + "rightx"):
        client.get("/", headers={"Authorization": basic("alice", wrong)}, status=401)
    # A plain bcrypt hash made elsewhere (htpasswd -B) never matches past 72 bytes either.
    plain = bcrypt.hashpw((LONG).encode(), bcrypt.gensalt(4)).decode()
    assert not hasher.verify(LONG + "anything", plain)
    assert hasher.verify(LONG, plain)


@pytest.mark.parametrize(
    "password",
    [LONG + "x", "a" * 73, "密" * 64, "x" * 2000],  # past 72 bytes; past MAX_PASSWORD_LENGTH
    ids=["73-bytes-multibyte", "73-ascii", "64-cjk", "2000-chars"],
)
def test_K2_spring_cve_2025_22234_length_checks_keep_one_bcrypt_check(
    hasher: PasswordHasher, bcrypt_calls: list[bytes], password: str
) -> None:
    """The length guards must not skip bcrypt for anyone: unknown user or wrong password."""
    users = MemoryUserStore(hasher=hasher)
    users.add("alice", "short passphrase")
    client = app_for(users)
    for userid in ("alice", "ghost"):
        bcrypt_calls.clear()
        client.get("/", headers={"Authorization": basic(userid, password)}, status=401)
        assert len(bcrypt_calls) == 1, userid


@pytest.fixture(params=["memory", "sqlite"])
def any_users(
    request: pytest.FixtureRequest, hasher: PasswordHasher, tmp_path: Path
) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryUserStore(hasher=hasher)
        return
    from restauth.users.sqlite import SQLiteUserStore

    store = SQLiteUserStore(tmp_path / "users.db", hasher=hasher)
    yield store
    store.close()


def test_K3_spring_cve_2012_5055_unknown_user_costs_one_bcrypt_check(
    any_users: Any, bcrypt_calls: list[bytes]
) -> None:
    """Django's test_authentication_timing, deterministic: count the checks, not the time."""
    any_users.add("alice", ALICE_PASSWORD)
    client = app_for(any_users)
    attempts = [
        ("get", basic("alice", "wrong")),
        ("get", basic("ghost", "wrong")),
        ("login", ("alice", "wrong")),
        ("login", ("ghost", "wrong")),
    ]
    for kind, attempt in attempts:
        bcrypt_calls.clear()
        if kind == "get":
            client.get("/", headers={"Authorization": attempt}, status=401)
        else:
            userid, password = attempt
            client.post_json("/tokens", {"username": userid, "password": password}, status=401)
        assert len(bcrypt_calls) == 1, attempt
    dummy, real = bcrypt_calls[-1].decode(), any_users.get("alice").password_hash
    assert real.startswith(PREHASH_PREFIX)
    assert dummy[:7] == real[len(PREHASH_PREFIX) :][:7]  # "$2b$04$": the same cost


def test_K4_okta_long_userid_cannot_push_the_password_out_of_a_hash_or_cache_key(
    hasher: PasswordHasher,
) -> None:
    """Okta hashed userid+username+password with bcrypt; restauth hashes the password alone,
    and the password cache keys a length-prefixed digest of all three values."""
    userid = "u" * MAX_USERID_LENGTH
    users = MemoryUserStore(hasher=hasher)
    users.add(userid, "right password")
    client = app_for(users, password_cache=PasswordCache())
    client.get("/", headers={"Authorization": basic(userid, "right password")}, status=200)
    for wrong in ("wrong password", "", "right passwor", "right password "):
        client.get("/", headers={"Authorization": basic(userid, wrong)}, status=401)
    cache = PasswordCache()
    cache.add("ab", "c", "hash")
    assert not cache.hit("a", "bc", "hash")  # no ambiguity where one value ends


def test_K5_bcrypt_5_raises_instead_of_truncating_yet_restauth_never_500s(
    hasher: PasswordHasher,
) -> None:
    users = MemoryUserStore(hasher=hasher)
    users.add("alice", "horse battery")
    client = app_for(users)
    # bcrypt 5 raises on raw > 72 bytes
    for password in ("x" * 73, "horse battery\x00", LONG + "é"):
        client.get("/", headers={"Authorization": basic("alice", password)}, status=401)
    # A stored hash that is corrupt, or plain bcrypt with a NUL: bcrypt raises, we refuse.
    for stored in ("$2b$04$corrupt", "$2b$04$" + "\x00" * 53, PREHASH_PREFIX + "garbage"):
        assert hasher.verify("horse battery", stored) is False
    assert "passlib" not in sys.modules  # the library whose self-test broke on bcrypt 5
    assert int(version("bcrypt").split(".")[0]) >= 4


# -- K6-K9: tokens at rest and comparisons ------------------------------------------------


def test_K6_drf_token_store_holds_no_replayable_token(tmp_path: Path) -> None:
    """DRF stored tokens in plaintext: a database dump was a set of live tokens."""
    db = tmp_path / "tokens.db"
    tokens = SQLiteTokenManager(db, secret_key=SECRET_KEY)
    token = tokens.issue("alice", "stamp").token
    token_id, _, mac = token.partition(".")
    tokens.close()
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT * FROM restauth_tokens").fetchall()
    dump = repr(rows) + db.read_bytes().decode("latin-1")
    assert token_id in dump  # the store keeps the id ...
    assert mac not in dump  # ... never the MAC that makes it a token
    assert token not in dump
    replay = SQLiteTokenManager(db, secret_key=SECRET_KEY)
    assert replay.authenticate(token_id) is None  # the dumped id alone opens nothing
    assert replay.authenticate(token) is not None
    replay.close()
    other_key = SQLiteTokenManager(db, secret_key="another-key-0123456789abcdef")
    assert other_key.authenticate(token) is None  # nor does a forged MAC without the key
    other_key.close()


def test_K6_drf_redis_token_store_holds_no_replayable_token() -> None:
    import uuid

    import redis

    from restauth.tokens.redis import RedisTokenManager
    from tests.services import redis_url

    url, prefix = redis_url(), f"restauth-test:{uuid.uuid4().hex}:"
    tokens = RedisTokenManager(url, secret_key=SECRET_KEY, prefix=prefix)
    token = tokens.issue("alice", "stamp").token
    client = redis.Redis.from_url(url)
    keys: list[Any] = []
    try:
        keys = list(client.scan_iter(match=prefix + "*"))
        dump = repr(keys) + "".join(repr(client.dump(key)) for key in keys)
        assert keys
        assert token.partition(".")[2] not in dump
        assert tokens.authenticate(token.partition(".")[0]) is None
    finally:
        if keys:
            client.delete(*keys)
        client.close()
        tokens.close()


def test_K7_knox_token_secret_compared_with_compare_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """knox moved to a digest compared with compare_digest, never in the database."""
    from restauth.tokens import base

    compared: list[tuple[str, str]] = []
    real = base.hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(base.hmac, "compare_digest", spy)
    tokens = MemoryTokenManager()
    token = tokens.issue("alice", "stamp").token
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert tokens.authenticate(forged) is None
    assert tokens.authenticate(token) is not None
    assert [a for a, _ in compared] == [forged.partition(".")[2], token.partition(".")[2]]


def test_K8_restheart_tokens_are_shared_by_all_nodes_and_revoked_everywhere(
    tmp_path: Path, users: MemoryUserStore
) -> None:
    """RESTHeart's token cache was per node; here a token store is shared, so a token from
    node A works on node B, and a logout on B ends it on A at once (ASVS 5.0 7.4.1)."""
    db = tmp_path / "tokens.db"
    node_a = app_for(users, SQLiteTokenManager(db, secret_key=SECRET_KEY))
    node_b = app_for(users, SQLiteTokenManager(db, secret_key=SECRET_KEY))
    token = node_a.post_json("/tokens", {"username": "alice", "password": ALICE_PASSWORD}).json[
        "token"
    ]
    assert len(base64.urlsafe_b64decode(token.partition(".")[0] + "==")) * 8 >= 128
    node_b.get("/", headers={"Authorization": f"Bearer {token}"}, status=200)
    node_b.delete("/tokens/alice", headers={"Authorization": f"Bearer {token}"}, status=204)
    node_a.get("/", headers={"Authorization": f"Bearer {token}"}, status=401)


# Comparisons with == that K9's scan found and that compare no secret.
_REVIEWED_EQUALITIES = {
    ("cli.py", "getpass.getpass('Repeat password: ') != password"),  # local prompt
    ("__init__.py", "path == self.tokens_path"),  # configuration (restauth/endpoints)
    ("gate.py", "key == name"),  # a query parameter name
    ("gate.py", "key != name"),
    ("sessions.py", "key == name"),  # a query parameter name (restauth/endpoints)
    ("jwt.py", "header.get('typ') != TOKEN_TYPE"),  # a public header field
    ("recovery.py", "purpose == PASSWORD_RESET"),  # a purpose's public name
    # both read from the same request: is the lookup done ahead this request's (restauth.lookups)
    ("authenticator.py", "credentials.token != looked_up.token"),
}
_SECRET_NAME = re.compile(r"password|passwd|token|mac|secret|digest|hash|key|credential", re.I)


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript | ast.Call):
        return _name(node.value if isinstance(node, ast.Subscript) else node.func)
    return None


def test_K9_flask_httpauth_no_secret_is_compared_with_equals() -> None:
    """Flask-HTTPAuth #82, flower #1131, fastapi #807: ``==`` on secrets leaks timing.

    Every ``==``/``!=`` between two non-constant values whose names suggest a secret must
    be on the reviewed list above; secrets go through ``hmac.compare_digest`` or bcrypt.
    """
    found = set()
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Compare):
                continue
            if not any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                continue
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) for o in operands):
                continue
            if any(_SECRET_NAME.search(_name(o) or "") for o in operands):
                found.add((path.name, ast.unparse(node)))
    assert found - _REVIEWED_EQUALITIES == set()
    assert "compare_digest" in (SRC / "tokens" / "base.py").read_text(encoding="utf-8")


# -- K10-K13: hostile headers: crashes, logs, leaks ----------------------------------------

K10_HEADERS = [
    "Basic \xff\xfe",  # werkzeug #1816: non-ASCII in the header
    "Basic YWxpY2U",  # bad padding (binascii.Error)
    "Basic YWxpY2U=",  # no colon: "alice"
    "Basic //79",  # bad UTF-8 after decoding (UnicodeDecodeError)
    "Basic YWxpY2U6cHc=\x00",  # trailing NUL
    "Basic ===",
    "Basic",
    "Basic ",
    "Token \xe9t\xe9",  # DRF #4089: invalid token bytes
    "Token a b",  # DRF #2928: spaces
    "Bearer",
    "Bearer ====",
    "Bearer a,Bearer b",
]


@pytest.mark.parametrize("value", K10_HEADERS)
def test_K10_werkzeug_flask_drf_malformed_credentials_are_4xx_never_500(
    client: TestApp, value: str
) -> None:
    response = client.get("/", headers={"Authorization": value}, expect_errors=True)
    assert response.status_int in (400, 401), response.status


def _records_of(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.getMessage()} {vars(r)!r}" for r in caplog.records)


def test_K11_gunicorn_logging_never_raises_on_non_utf8_credentials(
    client: TestApp, caplog: pytest.LogCaptureFixture
) -> None:
    """gunicorn's access logger crashed decoding Basic credentials that were not UTF-8."""
    caplog.set_level(logging.DEBUG, logger="restauth")
    handler = logging.StreamHandler(io.TextIOWrapper(io.BytesIO(), encoding="ascii"))
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logging.getLogger("restauth").addHandler(handler)
    raised: list[BaseException] = []
    handler.handleError = lambda record: raised.append(sys.exc_info()[1])  # type: ignore[method-assign,assignment]
    try:
        hostile = [b"\xff\xfe:pw", "jörg\r\nFAKE:pw".encode(), "ユーザー:pw".encode(), b"a\x00:b"]
        for raw in hostile:
            value = "Basic " + base64.b64encode(raw).decode()
            client.get("/", headers={"Authorization": value}, status=401)
        client.get("/", headers={"Authorization": basic("ユーザー\u2028x", "pw")}, status=401)
    finally:
        logging.getLogger("restauth").removeHandler(handler)
        handler.stream.close()
    assert raised == []  # even an ASCII-only log stream gets escaped, one-line records
    assert all("\n" not in r.getMessage() for r in caplog.records)


class ExplodingUsers:
    """A user store whose driver error message quotes the query's parameters."""

    def get(self, userid: str) -> None:
        raise ValueError(f"cannot look up {userid!r} with password {ALICE_PASSWORD!r}")


def test_K12_pass_culture_credentials_never_ride_an_exception_into_logs(
    client: TestApp, caplog: pytest.LogCaptureFixture
) -> None:
    """A UnicodeDecodeError carried raw credential bytes into Sentry (pass-culture #3068)."""
    caplog.set_level(logging.DEBUG)
    secret = "hunter2-" + "s3cr3t"
    raw = b"alice:\xff" + secret.encode()
    client.get(
        "/", headers={"Authorization": "Basic " + base64.b64encode(raw).decode()}, status=401
    )
    exploding = app_for(ExplodingUsers())
    exploding.get("/", headers={"Authorization": basic("alice", secret)}, status=503)
    text = _records_of(caplog)
    assert secret not in text
    assert ALICE_PASSWORD not in text  # only the exception's type is logged
    assert not any(r.exc_info for r in caplog.records)


def test_K13_tiddlyweb_empty_user_and_password_never_reach_the_store(
    hasher: PasswordHasher,
) -> None:
    """A browser cached ``Basic Og==`` (":") and tiddlyweb crashed later, in the store."""
    looked_up: list[str] = []

    class SpyUsers(MemoryUserStore):
        def get(self, userid: str) -> Any:
            looked_up.append(userid)
            return super().get(userid)

    users = SpyUsers(hasher=hasher)
    users.add("alice", "horse battery")
    client = app_for(users)
    for value in (
        "Basic Og==",
        basic("", "horse battery"),
        "Basic " + base64.b64encode(b":horse battery").decode(),
    ):
        response = client.get("/", headers={"Authorization": value}, status=401)
        assert any(c.startswith("Basic") for c in response.headers.getall("WWW-Authenticate"))
    assert looked_up == []
    client.get("/", headers={"Authorization": basic("alice", "")}, status=401)
    client.post_json("/tokens", {"username": "", "password": ""}, status=400)
    assert looked_up == ["alice"]


# -- K14-K18: identity, paths and status codes ---------------------------------------------


DOTLESS_MIKE = "m\u0131ke"  # LATIN SMALL LETTER DOTLESS I
FULLWIDTH_MIKE = "\uff4d\uff49\uff4b\uff45"


def test_K14_django_cve_2019_19844_no_unicode_case_mapping_collision(
    hasher: PasswordHasher,
) -> None:
    """``m\\u0131ke`` (dotless i) is not ``mike``, nor is ``MIKE``: userids compare exactly."""
    users = MemoryUserStore(hasher=hasher)
    users.add("mike", "owner's password")
    users.add(DOTLESS_MIKE, "attacker's password")  # a different account, never a merge
    client = app_for(users)
    auth = {"Authorization": basic(DOTLESS_MIKE, "attacker's password")}
    assert client.get("/", headers=auth).json["userid"] == DOTLESS_MIKE
    for userid in (DOTLESS_MIKE, "MIKE", "Mike", "m\u0130ke", FULLWIDTH_MIKE):
        client.get("/", headers={"Authorization": basic(userid, "owner's password")}, status=401)
    token = client.post_json("/tokens", {"username": "mike", "password": "owner's password"})
    auth = {"Authorization": f"Token {token.json['token']}"}
    client.get("/tokens/m%C4%B1ke", headers=auth, status=403)
    client.get("/tokens/MIKE", headers=auth, status=403)


def test_K15_spotify_compatibility_characters_refused_at_enrolment(
    hasher: PasswordHasher,
) -> None:
    """``ᴮᴵᴳᴮᴵᴿᴰ`` became ``BIGBIRD`` under Spotify's non-idempotent canonicalisation."""
    users = MemoryUserStore(hasher=hasher)
    users.add("BIGBIRD", "big bird's password")
    with pytest.raises(ValueError, match="NFKC"):
        users.add("ᴮᴵᴳᴮᴵᴿᴰ", "attacker's password")
    client = app_for(users)
    client.get("/", headers={"Authorization": basic("ᴮᴵᴳᴮᴵᴿᴰ", "big bird's password")}, status=401)
    client.post_json(
        "/tokens", {"username": "ᴮᴵᴳᴮᴵᴿᴰ", "password": "big bird's password"}, status=401
    )


def test_K16_webob_cve_2024_42353_no_open_redirect_through_token_location(
    hasher: PasswordHasher,
) -> None:
    """WebOb turned ``//evil`` in Location into an open redirect; a userid is always encoded."""
    users = MemoryUserStore(hasher=hasher)
    users.add("//evil.example", "horse battery")
    users.add("/\\evil.example/..", "horse battery")
    client = app_for(users)
    for userid in ("//evil.example", "/\\evil.example/.."):
        response = client.get(
            "/", headers={"Authorization": basic(userid, "horse battery")}, status=200
        )
        location = response.headers["Auth-Token-Location"]
        assert location.startswith("/tokens/%2F")
        assert "//" not in location
        assert "\\" not in location
        assert "/.." not in location
    major, minor, patch = (int(x) for x in version("webob").split(".")[:3])
    assert (major, minor, patch) >= (1, 8, 8)


@pytest.mark.parametrize(
    "path",
    [
        "/public/..;/admin",
        "/public/../admin",
        "/public;/../admin",
        "/public/;/admin",
        "//public/../admin",
        "/public/./../admin",
        "/public/%252e%252e/admin",  # PATH_INFO "/public/%2e%2e/admin": encoded twice
        "/public/%252E%252E/admin",
        "/public/..%252fadmin",
        "/public/%253b/admin",
        "/public/..%255cadmin",
        "/public\\..\\admin",
    ],
)
def test_K17_shiro_path_normalisation_cannot_reach_a_protected_path_anonymously(
    users: MemoryUserStore, path: str
) -> None:
    """Shiro's filter and router disagreed on ``;`` and ``..``: a non-canonical path is never
    public, and ``/tokens/<id>`` names exactly one user."""
    client = app_for(users, public=["/public/**"])
    client.get(path, status=401)
    client.get("/public/page", status=200)
    auth = {"Authorization": basic("bob", BOB_PASSWORD)}
    for other in ("/tokens/bob;x", "/tokens/x/../bob", "/tokens/bob/", "/roles/bob;jsessionid=1"):
        response = client.get(other, headers=auth, expect_errors=True)
        assert response.status_int in (403, 404), (other, response.status)


def test_K18_drf_401_or_403_never_depends_on_the_scheme_order(client: TestApp) -> None:
    """DRF's status came from the first authenticator's challenge; ours is a fixed matrix."""
    token = client.post_json("/tokens", {"username": "bob", "password": BOB_PASSWORD}).json["token"]
    for auth in (basic("bob", BOB_PASSWORD), f"Token {token}", f"Bearer {token}"):
        response = client.get("/tokens/alice", headers={"Authorization": auth}, status=403)
        assert "WWW-Authenticate" not in response.headers
    for auth in (None, basic("bob", "wrong"), basic("nobody", "x"), "Digest x=1"):
        headers = {"Authorization": auth} if auth else {}
        response = client.get("/tokens/alice", headers=headers, status=401)
        challenges = response.headers.getall("WWW-Authenticate")
        assert [c.split()[0] for c in challenges] == ["Basic", "Bearer"]
    response = client.get("/", headers={"Authorization": "Bearer nope.nope"}, status=401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
