"""``restauth.asgi.AuthMiddleware`` in front of Quart and Django's ASGI handler.

docs/asgi.md names both; these tests run the views its section "Quart and Django" shows
(the last test checks every line of that section's code is a line of these apps):

- **Quart**, in process (``httpx.ASGITransport``), and under a real uvicorn for its
  websocket: restauth's 401 and its challenge (the view never called), the public
  ``/health``, Basic ``POST /tokens`` then the token as ``Bearer`` (the view reads
  ``request.scope["restauth.identity"]``; restauth's ``Auth-Token`` headers joined to
  Quart's own ``Content-Type`` and an ``after_request`` header, each once), a POST body
  larger than restauth's own limit reaching the view intact, and a websocket route
  (``websocket.scope``) opened with the ``Authorization`` header and refused before
  ``accept`` without it (restauth's 401 where the server offers the
  ``websocket.http.response`` extension, as uvicorn does; a close without it).
- **Django** (``get_asgi_application()``, ``settings.configure`` in a module of its own, no
  database) under a real uvicorn, as it is deployed: the same HTTP checks, the view reading
  ``request.scope["restauth.identity"]`` on its ``ASGIRequest``, a header from a Django
  middleware beside restauth's, a body (with ``Content-Length``, and chunked) reaching an
  async view intact, and the lifespan Django does not speak answered by the adapter.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import re
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.servers import ROOT, Answer, Server, basic, environment, free_port, request, running
from tests.test_asgi_runtime import run

Message = MutableMapping[str, Any]

PASSWORD = "wonderland-key-7"
CHALLENGES = ['Basic realm="restauth", charset="UTF-8"', 'Bearer realm="restauth"']
BODY = bytes(range(256)) * 400  # 100 KiB of every byte value: above restauth's 16 KiB limit
ALICE = {"userid": "alice", "roles": ["admin", "user"]}

# The same module is imported in process and served by uvicorn. The views are the ones
# docs/asgi.md shows, plus the checks' own (the calls made, a body's digest).
QUART_APP = """
import hashlib

from quart import Quart, request, websocket

import restauth
from restauth.asgi import AuthMiddleware

quart_app = Quart(__name__)
calls = []  # the views that ran


@quart_app.get("/health")
async def health():
    return {"status": "ok"}


@quart_app.get("/whoami")
async def whoami():
    calls.append("whoami")
    who = request.scope["restauth.identity"]  # always set: /whoami is not public
    return {"userid": who.userid, "roles": sorted(who.roles)}


@quart_app.post("/echo")
async def echo():
    calls.append("echo")
    who = request.scope["restauth.identity"]
    body = await request.get_data()
    return {"userid": who.userid, "length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@quart_app.websocket("/live")
async def live():
    calls.append("live")
    who = websocket.scope["restauth.identity"]  # a refused handshake never gets here
    await websocket.accept()
    await websocket.send_json({"userid": who.userid, "roles": sorted(who.roles)})
    said = await websocket.receive()
    await websocket.send(f"{who.userid} said {said}")


@quart_app.after_request
async def framework_header(response):  # Quart's own header, beside restauth's
    response.headers["X-Framework"] = "quart"
    return response


users = restauth.MemoryUserStore(hasher=restauth.PasswordHasher(rounds=4))
users.add("alice", "wonderland-key-7", roles=["user", "admin"])
# Plain HTTP in these tests (httpx's http://testserver, uvicorn on 127.0.0.1).
app = AuthMiddleware(quart_app, users=users, public=["/health"], require_https=False)
"""

DJANGO_APP = """
import hashlib

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="django-behind-restauth-0123456789abcdef",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["127.0.0.1"],
    INSTALLED_APPS=[],
    MIDDLEWARE=[f"{__name__}.framework_header"],
)

from django.core.asgi import get_asgi_application
from django.http import JsonResponse
from django.urls import path

import restauth
from restauth.asgi import AuthMiddleware


def health(request):
    return JsonResponse({"status": "ok"})


def framework_header(get_response):  # Django's own header, beside restauth's
    def middleware(request):
        response = get_response(request)
        response["X-Framework"] = "django"
        return response

    return middleware


def whoami(request):
    who = request.scope["restauth.identity"]  # always set: /whoami is not public
    return JsonResponse({"userid": who.userid, "roles": sorted(who.roles)})


async def echo(request):
    who = request.scope["restauth.identity"]
    body = request.body
    return JsonResponse(
        {"userid": who.userid, "length": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    )


urlpatterns = [path("health", health), path("whoami", whoami), path("echo", echo)]

users = restauth.MemoryUserStore(hasher=restauth.PasswordHasher(rounds=4))
users.add("alice", "wonderland-key-7", roles=["user", "admin"])
# Plain HTTP in these tests (uvicorn on 127.0.0.1).
app = AuthMiddleware(get_asgi_application(), users=users, public=["/health"], require_https=False)
"""


def uvicorn(module: str, port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port)]


@contextlib.contextmanager
def serving(source: str, module: str, directory: Path) -> Iterator[Server]:
    """``module:app`` (written from ``source`` into ``directory``) under uvicorn."""
    pytest.importorskip("uvicorn")
    (directory / f"{module}.py").write_text(source)
    port = free_port()
    with running(
        uvicorn(f"{module}:app", port),
        cwd=directory,
        port=port,
        env=environment({}, directory),
        log=directory / "uvicorn.log",
    ) as server:
        yield server


def digest(body: bytes) -> dict[str, object]:
    return {"userid": "alice", "length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- Quart, in process ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def quart_module(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """QUART_APP imported in this process (not in ``sys.modules``: every test file may
    have its own)."""
    pytest.importorskip("quart")
    path = tmp_path_factory.mktemp("quart") / "quart_site.py"
    path.write_text(QUART_APP)
    spec = importlib.util.spec_from_file_location("quart_site", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def quart(quart_module: ModuleType) -> ModuleType:
    quart_module.calls.clear()
    return quart_module


def in_process(
    app: Any, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> httpx.Response:
    """One request to ``app`` through ``httpx.ASGITransport``, on a loop of its own."""

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.request(method, path, headers=headers, content=body)

    return run(send)


def quart_token(quart: ModuleType) -> str:
    login = in_process(quart.app, "POST", "/tokens", {"Authorization": basic("alice", PASSWORD)})
    assert login.status_code == 200, login.text
    assert login.json()["userid"] == "alice"
    token: str = login.json()["token"]
    assert login.headers["Auth-Token"] == token
    return token


def test_quart_anonymous_gets_restauths_challenge_and_the_view_never_runs(
    quart: ModuleType,
) -> None:
    for method, path in (("GET", "/whoami"), ("POST", "/echo")):
        answer = in_process(quart.app, method, path, body=BODY if method == "POST" else b"")
        assert answer.status_code == 401
        assert answer.headers.get_list("WWW-Authenticate") == CHALLENGES
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.json()["status"] == 401
    assert quart.calls == []


def test_quart_health_is_public(quart: ModuleType) -> None:
    answer = in_process(quart.app, "GET", "/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_quart_basic_login_then_bearer_reaches_the_view_with_both_headers(
    quart: ModuleType,
) -> None:
    token = quart_token(quart)
    answer = in_process(quart.app, "GET", "/whoami", bearer(token))
    assert answer.status_code == 200, answer.text
    assert answer.json() == ALICE
    assert quart.calls == ["whoami"]
    # restauth's headers joined to Quart's own, each once
    assert answer.headers.get_list("Content-Type") == ["application/json"]
    assert answer.headers.get_list("X-Framework") == ["quart"]
    assert answer.headers.get_list("Auth-Token") == [token]
    assert answer.headers["Auth-Token-Valid-Until"].endswith("Z")
    assert int(answer.headers["Content-Length"]) == len(answer.content)


def test_quart_gets_the_post_body_intact(quart: ModuleType) -> None:
    token = quart_token(quart)
    headers = {**bearer(token), "Content-Type": "application/octet-stream"}
    answer = in_process(quart.app, "POST", "/echo", headers, BODY)
    assert answer.status_code == 200, answer.text
    assert answer.json() == digest(BODY)
    basic_auth = {"Authorization": basic("alice", PASSWORD), "Content-Type": "text/plain"}
    answer = in_process(quart.app, "POST", "/echo", basic_auth, b"hello, quart")
    assert answer.status_code == 200, answer.text
    assert answer.json() == digest(b"hello, quart")


def websocket_scope(path: str, headers: dict[str, str], *, extension: bool) -> Message:
    raw = [(b"host", b"testserver")]
    raw += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    scope: Message = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "subprotocols": [],
    }
    if extension:
        scope["extensions"] = {"websocket.http.response": {}}
    return scope


def websocket_in_process(app: Any, scope: Message) -> list[Message]:
    """A handshake to ``app`` on a loop of its own, then one text message from the client
    once accepted, then the client goes away: what the application sent."""

    async def talk() -> list[Message]:
        sent: list[Message] = []
        incoming: list[Message] = [
            {"type": "websocket.connect"},
            {"type": "websocket.receive", "text": "hello"},
        ]
        done = anyio.Event()

        async def receive() -> Message:
            if incoming:
                return incoming.pop(0)
            await done.wait()
            return {"type": "websocket.disconnect", "code": 1000}

        async def send(message: Message) -> None:
            sent.append(message)
            if message["type"] in {"websocket.close", "websocket.http.response.body"}:
                done.set()

        with anyio.fail_after(10):
            await app(scope, receive, send)
        return sent

    return run(talk)


def test_quart_websocket_opens_with_the_authorization_header(quart: ModuleType) -> None:
    token = quart_token(quart)
    scope = websocket_scope("/live", bearer(token), extension=False)
    sent = websocket_in_process(quart.app, scope)
    assert sent[0]["type"] == "websocket.accept"
    assert json.loads(sent[1]["text"]) == ALICE
    assert sent[2]["text"] == "alice said hello"
    assert sent[-1]["type"] == "websocket.close"
    assert quart.calls == ["live"]


@pytest.mark.parametrize("extension", [True, False], ids=["http.response", "close"])
def test_quart_websocket_without_credentials_is_refused_before_accept(
    quart: ModuleType, extension: bool
) -> None:
    for headers in ({}, bearer("not-a-token"), {"Authorization": basic("alice", "wrong")}):
        sent = websocket_in_process(
            quart.app, websocket_scope("/live", headers, extension=extension)
        )
        if extension:
            assert [message["type"] for message in sent] == [
                "websocket.http.response.start",
                "websocket.http.response.body",
            ]
            assert sent[0]["status"] == 401
        else:
            assert sent == [{"type": "websocket.close", "code": 1008}]
    assert quart.calls == []


# -- Quart's websocket under uvicorn ----------------------------------------------------------


@pytest.fixture(scope="module")
def quart_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pytest.importorskip("quart")
    with serving(QUART_APP, "quart_site", tmp_path_factory.mktemp("quart_uvicorn")) as server:
        yield server


def test_quart_websocket_under_uvicorn(quart_server: Server) -> None:
    port = quart_server.port
    login = request(port, "POST", "/tokens", {"Authorization": basic("alice", PASSWORD)})
    assert login.status == 200, login.body
    token = login.json()["token"]
    url = f"ws://127.0.0.1:{port}/live"
    with connect(url, additional_headers=bearer(token), open_timeout=10) as websocket:
        assert json.loads(websocket.recv(timeout=10)) == ALICE
        websocket.send("hello")
        assert websocket.recv(timeout=10) == "alice said hello"
    for headers in ({}, bearer("not-a-token")):
        with (
            pytest.raises(InvalidStatus) as refused,
            connect(url, additional_headers=headers, open_timeout=10),
        ):
            pass
        assert refused.value.response.status_code == 401
        challenges = refused.value.response.headers.get_all("WWW-Authenticate")
        assert "Bearer" in " ".join(challenges)
    # and its HTTP, the same as in process
    assert request(port, "GET", "/whoami").status == 401
    whoami = request(port, "GET", "/whoami", bearer(token))
    assert (whoami.status, whoami.json()) == (200, ALICE)
    assert "Traceback" not in quart_server.log_text()


# -- Django under uvicorn ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def django_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pytest.importorskip("django")
    with serving(DJANGO_APP, "django_site", tmp_path_factory.mktemp("django")) as server:
        yield server


@pytest.fixture(scope="module")
def django_token(django_server: Server) -> str:
    login = request(
        django_server.port, "POST", "/tokens", {"Authorization": basic("alice", PASSWORD)}
    )
    assert login.status == 200, login.body
    assert login.json()["userid"] == "alice"
    token: str = login.json()["token"]
    assert login.headers["Auth-Token"] == token
    return token


def test_django_anonymous_gets_restauths_challenge(django_server: Server) -> None:
    for method, path in (("GET", "/whoami"), ("POST", "/echo")):
        answer = request(django_server.port, method, path)
        assert answer.status == 401
        assert answer.headers.get_all("WWW-Authenticate") == CHALLENGES
        assert answer.headers["Content-Type"] == "application/problem+json"
    wrong = request(django_server.port, "GET", "/whoami", {"Authorization": basic("alice", "x")})
    assert wrong.status == 401


def test_django_health_is_public(django_server: Server) -> None:
    answer = request(django_server.port, "GET", "/health")
    assert (answer.status, answer.json()) == (200, {"status": "ok"})


def test_django_bearer_reaches_the_view_with_both_headers(
    django_server: Server, django_token: str
) -> None:
    answer: Answer = request(django_server.port, "GET", "/whoami", bearer(django_token))
    assert answer.status == 200, answer.body
    assert answer.json() == ALICE
    assert answer.headers.get_all("Content-Type") == ["application/json"]
    assert answer.headers.get_all("X-Framework") == ["django"]
    assert answer.headers.get_all("Auth-Token") == [django_token]
    assert answer.headers["Auth-Token-Valid-Until"].endswith("Z")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_django_gets_the_post_body_intact(
    django_server: Server, django_token: str, chunked: bool
) -> None:
    headers = {**bearer(django_token), "Content-Type": "application/octet-stream"}
    if not chunked:
        headers["Content-Length"] = str(len(BODY))
    pieces = [BODY[at : at + 4096] for at in range(0, len(BODY), 4096)]
    answer = request(
        django_server.port, "POST", "/echo", headers, pieces if chunked else BODY, chunked=chunked
    )
    assert answer.status == 200, answer.body
    assert answer.json() == digest(BODY)


def test_django_lifespan_is_answered_and_nothing_failed(django_server: Server) -> None:
    """Django's handler raises on a lifespan scope; the adapter answers it instead."""
    log = django_server.log_text()
    assert "Application startup complete." in log
    assert "Traceback" not in log
    assert "unsupported" not in log


# -- docs/asgi.md shows these apps ------------------------------------------------------------


def code_lines(text: str) -> set[str]:
    """The lines of ``text`` without comments, blank lines and ``...`` placeholders."""
    lines = {re.sub(r"(^|\s+)#.*$", "", line).strip() for line in text.splitlines()}
    return {line for line in lines if line and "..." not in line}


@pytest.mark.parametrize(("block", "source"), [(0, QUART_APP), (1, DJANGO_APP)])
def test_the_docs_section_shows_what_these_tests_run(block: int, source: str) -> None:
    """Every line of the section's code, but the stores it leaves to the reader (``...``),
    is a line of the app these tests run."""
    text = (ROOT / "docs" / "asgi.md").read_text("utf-8")
    section = text[text.index("\n## Quart and Django\n") :]
    assert "\n## " not in section[1:], "the section is the last one"
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    assert code_lines(blocks[block]) - code_lines(source) == set()
    assert re.search(r'app = AuthMiddleware\(\w+.*, public=\["/health"\]\)', blocks[block])
