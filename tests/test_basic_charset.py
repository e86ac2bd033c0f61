"""``basic_charset_fallback``: Basic credentials that are not UTF-8, read as Latin-1 on request
(issue 16 item 17).

Python ``requests`` encodes ``str`` credentials as Latin-1, so ``auth=("jose",
"contraseña")`` arrives as bytes that are not UTF-8; curl and httpie send UTF-8. The default
stays UTF-8 only (RFC 7617's ``charset="UTF-8"``); with the option, bytes that fail UTF-8 are
read as Latin-1, and only those: valid UTF-8 is always UTF-8.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from webtest import TestApp

from restauth import AuthMiddleware, ConfigError, MemoryUserStore, PasswordHasher, load_config
from restauth.options import Options
from restauth.wire.credentials import (
    BasicCredentials,
    Malformed,
    basic_userid,
    check_basic_fallback,
    parse_authorization,
)
from tests.conftest import echo_app
from tests.servers import serving

USERID, PASSWORD = "josé", "contraseña"


def header(userid: str, password: str, charset: str) -> str:
    return "Basic " + base64.b64encode(f"{userid}:{password}".encode(charset)).decode()


LATIN1 = header(USERID, PASSWORD, "latin-1")
UTF8 = header(USERID, PASSWORD, "utf-8")

# -- the parser -----------------------------------------------------------------------


def test_utf8_only_by_default() -> None:
    assert parse_authorization(LATIN1) is Malformed.BASIC
    assert parse_authorization(UTF8) == BasicCredentials(USERID, PASSWORD)


def test_latin1_when_asked_and_only_when_utf8_fails() -> None:
    assert parse_authorization(LATIN1, basic_fallback="latin-1") == BasicCredentials(
        USERID, PASSWORD
    )
    # Valid UTF-8 is never re-read as Latin-1 (that would give "josÃ©").
    assert parse_authorization(UTF8, basic_fallback="latin-1") == BasicCredentials(USERID, PASSWORD)


@pytest.mark.parametrize(
    "value",
    [
        "Basic " + base64.b64encode(b"alice:\x85pw").decode(),  # C1 control (NEL) in Latin-1
        "Basic " + base64.b64encode(b"\xe9").decode(),  # no colon
        "Basic " + base64.b64encode(b"alice\x00:\xe9").decode(),  # NUL in the userid
        "Basic " + base64.b64encode(b":\xe9").decode(),  # empty userid
        "Basic not*base64",
    ],
)
def test_the_fallback_keeps_every_other_rule(value: str) -> None:
    assert parse_authorization(value, basic_fallback="latin-1") is Malformed.BASIC


def test_the_fallback_is_for_basic_only() -> None:
    assert parse_authorization("Bearer caf\xe9", basic_fallback="latin-1") is Malformed.TOKEN


@pytest.mark.parametrize("alias", ["latin-1", "latin1", "ISO-8859-1", "iso8859_1", "L1"])
def test_latin1_aliases(alias: str) -> None:
    assert check_basic_fallback(alias) == "latin-1"


@pytest.mark.parametrize("wrong", ["utf-8", "cp1252", "ascii", "no-such-charset", "", 1])
def test_other_charsets_are_refused(wrong: object) -> None:
    with pytest.raises(ValueError, match="basic_charset_fallback"):
        check_basic_fallback(wrong)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="basic_charset_fallback"):
        Options.build(users=MemoryUserStore(), basic_charset_fallback=wrong)  # type: ignore[arg-type]


def test_basic_userid_for_the_outage_record() -> None:
    assert basic_userid(UTF8) == USERID
    assert basic_userid(LATIN1) is None
    assert basic_userid(LATIN1, fallback="latin-1") == USERID
    assert basic_userid("Token abc") is None
    assert basic_userid(None) is None


# -- the middleware and the configuration file -----------------------------------------


def middleware(**settings: object) -> AuthMiddleware:
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    users.add(USERID, PASSWORD)
    return AuthMiddleware(echo_app, users=users, throttle=None, **settings)  # type: ignore[arg-type]


def test_the_middleware_refuses_latin1_by_default() -> None:
    app = TestApp(middleware())
    app.get("/", headers={"Authorization": LATIN1}, status=401)
    assert app.get("/", headers={"Authorization": UTF8}).json["userid"] == USERID


def test_the_middleware_reads_latin1_when_asked() -> None:
    app = TestApp(middleware(basic_charset_fallback="latin-1"))
    for value in (LATIN1, UTF8):
        response = app.get("/", headers={"Authorization": value})
        assert response.json["userid"] == USERID
        assert response.headers["Auth-Token"]
    wrong = header(USERID, "contraseñas", "latin-1")
    app.get("/", headers={"Authorization": wrong}, status=401)


def test_the_configuration_file_key(tmp_path: Path) -> None:
    config = load_config({"restauth": {"basic_charset_fallback": "iso-8859-1"}})
    assert config.options["basic_charset_fallback"] == "iso-8859-1"
    assert config.describe()["restauth"]["basic_charset_fallback"] == "iso-8859-1"
    assert "basic_charset_fallback" not in load_config({}).options  # off unless written
    built = config.middleware(echo_app, users=MemoryUserStore())
    assert built.options.basic_charset_fallback == "latin-1"
    with pytest.raises(ConfigError, match=r"\[restauth\].*basic_charset_fallback"):
        load_config({"restauth": {"basic_charset_fallback": "cp1252"}})
    with pytest.raises(ConfigError, match=r"basic_charset_fallback: expected a string"):
        load_config({"restauth": {"basic_charset_fallback": True}})


# -- Python requests against a real server ---------------------------------------------

APP = """
from restauth import AuthMiddleware, MemoryUserStore, PasswordHasher

def whoami(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [environ["REMOTE_USER"].encode("utf-8")]

users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
users.add("josé", "contraseña")
strict = AuthMiddleware(whoami, users=users, require_https=False, throttle=None)
lenient = AuthMiddleware(
    whoami, users=users, require_https=False, throttle=None, basic_charset_fallback="latin-1"
)

def application(environ, start_response):
    lenient_path = environ["PATH_INFO"].startswith("/latin1")
    return (lenient if lenient_path else strict)(environ, start_response)
"""


@pytest.fixture(params=["waitress", "gunicorn"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    pytest.importorskip(request.param)
    (tmp_path / "charset_app.py").write_text(APP, encoding="utf-8")
    with serving(request.param, "charset_app:application", tmp_path, workers=1) as running:
        yield f"http://127.0.0.1:{running.port}"


def test_requests_with_a_str_password(server: str) -> None:
    requests = pytest.importorskip("requests")
    auth = (USERID, PASSWORD)  # str: requests encodes it as Latin-1
    assert requests.get(server + "/", auth=auth, timeout=30).status_code == 401
    response = requests.get(server + "/latin1/", auth=auth, timeout=30)
    assert response.status_code == 200
    assert response.content.decode("utf-8") == USERID
    # bytes: requests sends them as they are, so UTF-8 works with or without the option.
    utf8 = (USERID.encode(), PASSWORD.encode())
    assert requests.get(server + "/", auth=utf8, timeout=30).status_code == 200
    assert requests.get(server + "/latin1/", auth=utf8, timeout=30).status_code == 200
