"""``POST /tokens`` with ``Transfer-Encoding: chunked`` (issue 16 item 3).

gunicorn decodes the chunks and passes no ``CONTENT_LENGTH`` but ``wsgi.input_terminated``;
waitress buffers the body and sets ``CONTENT_LENGTH``. Before the fix gunicorn's chunked
login was never read: the right password got 401. Without a length and without
``wsgi.input_terminated`` the body's end cannot be known: 411, never a 500.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from restauth import AuthMiddleware, MemoryUserStore, PasswordHasher
from restauth.endpoints.login_body import MAX_LOGIN_BODY
from tests.conftest import echo_app
from tests.servers import request, serving

pytest.importorskip("gunicorn")
pytest.importorskip("waitress")

APP = """
from restauth import AuthMiddleware, MemoryUserStore, PasswordHasher

def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]

users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
users.add("alice", "wonderland-key-7")
application = AuthMiddleware(hello, users=users, require_https=False)
"""
LOGIN = json.dumps({"username": "alice", "password": "wonderland-key-7"}).encode()
JSON = {"Content-Type": "application/json"}


def pieces(body: bytes, size: int = 7) -> Iterator[bytes]:
    return iter([body[start : start + size] for start in range(0, len(body), size)])


@pytest.fixture(params=["gunicorn", "waitress"], scope="module")
def port(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    directory = tmp_path_factory.mktemp(request.param)
    (directory / "chunked_app.py").write_text(APP)
    with serving(request.param, "chunked_app:application", directory, workers=1) as server:
        yield server.port


def test_a_chunked_login_is_read(port: int) -> None:
    answer = request(port, "POST", "/tokens", JSON, pieces(LOGIN), chunked=True)
    assert answer.status == 200
    assert json.loads(answer.body)["token"]
    wrong = LOGIN.replace(b"wonderland-key-7", b"wrong-password")
    assert request(port, "POST", "/tokens", JSON, pieces(wrong), chunked=True).status == 401


def test_a_chunked_login_over_the_cap_is_413(port: int) -> None:
    padding = b" " * MAX_LOGIN_BODY
    answer = request(port, "POST", "/tokens", JSON, pieces(LOGIN + padding, 4096), chunked=True)
    assert answer.status == 413
    assert answer.headers["content-type"] == "application/problem+json"


def environ(body: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/tokens",
        "wsgi.url_scheme": "https",
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body),
        **extra,
    }


def status_of(environ: dict[str, Any]) -> str:
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    users.add("alice", "wonderland-key-7")
    seen: list[str] = []
    AuthMiddleware(echo_app, users=users)(environ, lambda status, headers: seen.append(status))
    return seen[0]


def test_in_process_the_terminated_input_is_read_under_the_cap() -> None:
    assert status_of(environ(LOGIN, **{"wsgi.input_terminated": True})) == "200 OK"
    big = LOGIN + b" " * MAX_LOGIN_BODY
    assert status_of(environ(big, **{"wsgi.input_terminated": True})).startswith("413")


def test_an_unterminated_body_of_unknown_length_is_411() -> None:
    assert status_of(environ(LOGIN)).startswith("411")  # reading on could block


def test_a_malformed_chunk_is_400_not_an_internal_error() -> None:
    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise ValueError("Invalid chunk size")  # what a server's own parser may raise

    assert status_of(environ(b"", **{"wsgi.input_terminated": True, "wsgi.input": Broken()})) == (
        "400 Bad Request"
    )
