"""The README's code blocks, run as written (issue 16, item 10).

Every fenced block of README.md is read from the file itself, so README and tests cannot
drift: Python files are written under the name their first comment gives (``# app.py``),
TOML and HTML files likewise (``<!-- spa.html -->``), and ``$`` console commands are run
(servers in a subprocess, on a free port instead of 8000; ``/var/lib/myapp`` under a
temporary directory; the services' own addresses instead of ``db.internal``). ``curl``
lines are sent as curl would send them. The *Single-page app* page runs in Chromium in
tests/e2e/test_cors_browser.py, from :func:`spa_example`.
``test_every_block_is_accounted_for`` fails when a block is added without a test here.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from webtest import TestApp

from restauth import MemoryTokenManager, MemoryUserStore, PasswordHasher
from tests.conftest import echo_app
from tests.servers import Answer, basic, environment, free_port, request, running
from tests.services import postgres_dsn, redis_url

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BIN = Path(sys.executable).parent
KEY = "readme-key-" + "k" * 32
HTTPS = {"wsgi.url_scheme": "https"}

# Section -> the languages of its blocks, in order. The two Quick start commands create a
# virtualenv and install from the network: they are not run here (CI runs exactly them).
BLOCKS = {
    "Quick start": ["bash", "bash"],
    "Usage": ["python", "console"],
    "Accounts": ["python", "console"],
    "Storage and scaling out": [
        "python", "toml", "console", "console", "python", "toml", "console",
    ],
    "JWT": ["python"],
    "Use with Flask / Pyramid / Bottle": ["console", "python", "python", "python"],
    "Use with FastAPI / Starlette": ["console", "python"],
    "Roles and ACL rules, configuration file, command line": ["python", "bash"],
    "Single-page app on another origin": ["python", "html", "console"],
}  # fmt: skip


@dataclass(frozen=True)
class Block:
    language: str
    text: str

    def commands(self) -> list[str]:
        """The commands of a console block (``$ ...`` lines), without their comments."""
        lines = self.text.splitlines()
        if self.language == "console":
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        lines = [re.sub(r"\s{2,}#.*$", "", line).strip() for line in lines]
        return [line for line in lines if line]

    def filename(self) -> str:
        """The file a block is, named by its first line: ``# app.py``, ``<!-- spa.html -->``."""
        match = re.match(r"(?:# |<!-- )(\S+\.(?:py|toml|html))\b", self.text)
        assert match, self.text
        return match.group(1)


def blocks(section: str) -> list[Block]:
    text = README.read_text("utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else len(text)]
    return [Block(lang, code) for lang, code in re.findall(r"```(\w+)\n(.*?)```", body, re.S)]


def test_every_block_is_accounted_for() -> None:
    text = README.read_text("utf-8")
    found = {}
    for section in re.findall(r"^## (.+)$", text, re.M):
        languages = [b.language for b in blocks(section)]
        if languages:
            found[section] = languages
    assert found == BLOCKS


def curl(port: int, command: str, **replace: str) -> Answer:
    """Send what ``curl [-i] [-u user[:password]] [-H h]... [-X method] [--json J] URL``
    would send. ``replace`` fills placeholders (``<token>``) and a password curl would ask for."""
    for placeholder, value in replace.items():
        command = command.replace(f"<{placeholder}>", value)
    argv = shlex.split(command)
    assert argv[0] == "curl"
    method, headers, url = "GET", {"User-Agent": "curl/8"}, ""
    body, explicit = None, False
    words = iter(argv[1:])
    for word in words:
        if word == "-i":
            continue
        if word == "-X":
            method, explicit = next(words), True
        elif word == "--json":  # curl 7.82: the body, its type, and POST unless -X says
            body = next(words).encode()
            headers["Content-Type"] = headers["Accept"] = "application/json"
            method = method if explicit else "POST"
        elif word == "-H":
            name, _, value = next(words).partition(": ")
            headers[name] = value
        elif word == "-u":
            userid, colon, password = next(words).partition(":")
            headers["Authorization"] = basic(userid, password if colon else replace["password"])
        else:
            assert not word.startswith("-"), word
            url = word
    path = "/" + url.split("://")[-1].split("/", 1)[1] if "/" in url.split("://")[-1] else "/"
    assert re.search(r"(localhost|127\.0\.0\.1):8000", url), url
    return request(port, method, path, headers, body)


def restauth_user_add(command: str, password: str, cwd: Path, env: dict[str, str]) -> None:
    """``restauth user add ...`` as written, with the password on a pipe (--password-stdin)."""
    argv = shlex.split(command)
    assert argv[:3] == ["restauth", "user", "add"], command
    done = subprocess.run(
        [str(BIN / "restauth"), *argv[1:], "--password-stdin"],
        cwd=cwd, env=env, input=password + "\n", text=True, capture_output=True,
        check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"added {argv[3]}")


def exported(command: str) -> dict[str, str]:
    """What an ``export NAME=...`` line sets, evaluated by the shell as written."""
    assert command.startswith("export ")
    names = re.findall(r"(\w+)=", command)
    script = command + "; " + "; ".join(f'printf "%s\\0" "${n}"' for n in names)
    done = subprocess.run(["bash", "-c", script], capture_output=True, check=True, text=True)
    return dict(zip(names, done.stdout.split("\0")[:-1], strict=True))


def server_argv(command: str, port: int, host: str = "127.0.0.1:8000") -> list[str]:
    argv = [word.replace(host, f"127.0.0.1:{port}") for word in shlex.split(command)]
    assert f"127.0.0.1:{port}" in " ".join(argv), command
    argv[0] = str(BIN / argv[0])
    return argv


# -- Usage --------------------------------------------------------------------------


def test_usage(tmp_path: Path) -> None:
    code, console = blocks("Usage")
    assert code.filename() == "app.py"
    port = free_port()
    (tmp_path / "app.py").write_text(code.text.replace("8000", str(port)), "utf-8")
    start, *curls = console.commands()
    assert start == "python3 app.py &"
    with running([sys.executable, "app.py"], port=port, cwd=tmp_path, env=environment({})):
        health = curl(port, curls[0])
        assert (health.status, health.body) == (200, b"ok")  # public, anonymous: no 500
        login = curl(port, curls[1])
        assert (login.status, login.body) == (200, b"hello alice, roles ['admin', 'user']")
        token = login.headers["Auth-Token"]
        for command in curls[2:4]:  # Bearer, token as the Basic password
            answer = curl(port, command, token=token)
            assert (answer.status, answer.body) == (200, login.body)
        laptop = curl(port, curls[4])  # a login: a session of its own
        assert laptop.status == 200
        other = json.loads(laptop.body)["token"]
        assert other != token
        sessions = json.loads(curl(port, curls[5], token=token).body)["sessions"]
        assert [(s["kind"], s["client"], s["current"]) for s in sessions] == [
            ("basic", "curl/8", True),  # curl's own User-Agent, as this helper sends it
            ("login", "laptop", False),
        ]
        assert curl(port, curls[6], token=token).status == 204  # log out: this session
        assert curl(port, curls[2], token=token).status == 401
        assert curl(port, curls[2], token=other).status == 200  # the laptop's is alive
        assert curl(port, curls[7]).status == 204  # log out everywhere
        assert curl(port, curls[2], token=other).status == 401
    assert len(curls) == 8


# -- Accounts ----------------------------------------------------------------------


def test_accounts(tmp_path: Path) -> None:
    code, console = blocks("Accounts")
    assert code.filename() == "accounts_app.py"
    port = free_port()
    (tmp_path / "accounts_app.py").write_text(code.text.replace("8000", str(port)), "utf-8")
    start, *curls = console.commands()
    assert start == "python3 accounts_app.py &"
    assert len(curls) == 8
    argv = [sys.executable, "accounts_app.py"]
    with running(argv, port=port, cwd=tmp_path, env=environment({})) as server:
        registered = curl(port, curls[0])
        assert (registered.status, registered.headers["Location"]) == (201, "/users/alice")
        weak = curl(port, curls[1])
        assert weak.status == 400
        assert "common" in json.loads(weak.body)["detail"]
        profile = json.loads(curl(port, curls[2]).body)
        assert (profile["userid"], profile["verified"]) == ("alice", True)
        assert curl(port, curls[3]).status == 204
        assert curl(port, curls[4]).status == 202
        link = re.compile(r"/reset#token=([A-Za-z0-9_-]+)")
        deadline = time.monotonic() + 10
        while not link.search(server.log_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        found = link.search(server.log_text())
        assert found, server.log_text()
        assert curl(port, curls[5], token=found.group(1)).status == 204
        page = json.loads(curl(port, curls[6]).body)
        assert [user["userid"] for user in page["users"]] == ["alice", "root"]
        disabled = curl(port, curls[7])
        assert (disabled.status, json.loads(disabled.body)["disabled"]) == (200, True)
        fresh = request(port, "GET", "/", {"Authorization": basic("alice", "a fresh passphrase")})
        assert fresh.status == 401


# -- Storage and scaling out: one machine, SQLite -------------------------------------


MYAPP = """
def app(environ, start_response):
    identity = environ.get("restauth.identity")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [(identity.userid if identity else "anonymous").encode()]
"""


def test_sqlite_recipe_with_gunicorn_behind_a_proxy(tmp_path: Path) -> None:
    code, toml, console, trial, *_ = blocks("Storage and scaling out")
    var = str(tmp_path / "var" / "lib" / "myapp")

    def here(text: str) -> str:
        return text.replace("/var/lib/myapp", var)

    (tmp_path / code.filename()).write_text(here(code.text), "utf-8")
    (tmp_path / toml.filename()).write_text(here(toml.text), "utf-8")
    (tmp_path / "myapp.py").write_text(MYAPP, "utf-8")
    mkdir, export, add, gunicorn = console.commands()
    assert mkdir == "mkdir -p /var/lib/myapp"
    subprocess.run(shlex.split(here(mkdir)), cwd=tmp_path, check=True)
    env = environment(exported(export), tmp_path)
    assert len(env["RESTAUTH_SECRET_KEY"]) >= 32
    restauth_user_add(here(add), "wonderland-key-7", tmp_path, env)
    port = free_port()
    assert gunicorn.startswith("gunicorn -w 4 ")
    with running(server_argv(gunicorn, port), port=port, cwd=tmp_path, env=env):
        [try_it] = trial.commands()
        password = {"password": "wonderland-key-7"}
        answer = curl(port, try_it, **password)
        assert (answer.status, answer.body) == (200, b"alice")
        plain = curl(port, try_it.replace("-H 'X-Forwarded-Proto: https'", ""), **password)
        assert plain.status == 403  # what the README warns about: plain HTTP
        token = {"Authorization": f"Token {answer.headers['Auth-Token']}"}
        proxied = {**token, "X-Forwarded-Proto": "https"}
        for _ in range(8):  # every worker knows the token (the same SQLite file)
            assert request(port, "GET", "/", proxied).body == b"alice"
        assert request(port, "GET", "/", token).status == 403
        assert request(port, "DELETE", "/tokens/alice", proxied).status == 204
        for _ in range(4):
            assert request(port, "GET", "/", proxied).status == 401


# -- Storage and scaling out: several nodes, PostgreSQL and Redis ---------------------


def test_postgres_and_redis_recipe_on_two_nodes(tmp_path: Path) -> None:
    services = {"MYAPP_USERS_DSN": postgres_dsn(), "MYAPP_REDIS_URL": redis_url()}
    *_, code, toml, console = blocks("Storage and scaling out")

    def here(text: str) -> str:
        return text.replace("10.0.0.2", "127.0.0.1")

    (tmp_path / code.filename()).write_text(here(code.text), "utf-8")
    (tmp_path / toml.filename()).write_text(toml.text, "utf-8")
    (tmp_path / "myapp.py").write_text(MYAPP, "utf-8")
    dsn, url, key, add, gunicorn = console.commands()
    assert set(exported(dsn)) | set(exported(url)) == set(services)
    assert set(exported(key)) == {"RESTAUTH_SECRET_KEY"}
    env = environment({**services, "RESTAUTH_SECRET_KEY": KEY}, tmp_path)
    userid = f"alice-{time.time_ns()}"  # the shared test database may hold an alice already
    assert " alice " in add
    restauth_user_add(add.replace(" alice ", f" {userid} "), "wonderland-key-7", tmp_path, env)
    one, two = free_port(), free_port()
    try:
        with (
            running(server_argv(here(gunicorn), one, "0.0.0.0:8000"), port=one, cwd=tmp_path,
                    env=env, log=tmp_path / "one.log"),
            running(server_argv(here(gunicorn), two, "0.0.0.0:8000"), port=two, cwd=tmp_path,
                    env=env, log=tmp_path / "two.log"),
        ):  # fmt: skip
            https = {"X-Forwarded-Proto": "https"}
            login = request(
                one, "GET", "/", {**https, "Authorization": basic(userid, "wonderland-key-7")}
            )
            assert (login.status, login.body) == (200, userid.encode())
            token = {**https, "Authorization": f"Token {login.headers['Auth-Token']}"}
            assert request(two, "GET", "/", token).body == userid.encode()
            assert request(two, "DELETE", f"/tokens/{userid}", token).status == 204
            assert request(one, "GET", "/", token).status == 401
    finally:
        subprocess.run(
            [str(BIN / "restauth"), "user", "remove", userid, "--config", toml.filename()],
            cwd=tmp_path, env=env, capture_output=True, check=False, timeout=60,
        )  # fmt: skip


# -- JWT ------------------------------------------------------------------------------


def test_jwt_block() -> None:
    pytest.importorskip("jwt")
    [code] = blocks("JWT")
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    users.add("alice", "wonderland-key-7")
    names: dict[str, Any] = {
        "app": echo_app,
        "users": users,
        "secret": KEY,
        "redis_url": redis_url(),
    }
    exec(compile(code.text, "README.md#JWT", "exec"), names)  # noqa: S102 - the README's own code
    client = TestApp(names["application"], extra_environ=HTTPS)
    login = client.post_json("/tokens", {"username": "alice", "password": "wonderland-key-7"})
    token = login.json["token"]
    assert token.count(".") == 2  # a JWT
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/", headers=bearer).json["mechanism"] == "token"
    client.delete("/tokens/alice", headers=bearer, status=204)
    client.get("/", headers=bearer, status=401)


# -- Use with Flask / Pyramid / Bottle ------------------------------------------------


def test_framework_commands_are_the_examples_tested_ones() -> None:
    """The README's commands are the docstrings' ones, which tests/examples runs."""
    console = blocks("Use with Flask / Pyramid / Bottle")[0]
    export, *servers = console.commands()
    assert export.startswith("export RESTAUTH_SECRET_KEY=")
    assert len(servers) == 2
    docstring = (ROOT / "examples" / "flask_app.py").read_text("utf-8")
    for command in servers:
        assert command in docstring


@pytest.fixture
def stores() -> dict[str, Any]:
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    users.add("alice", "wonderland-key-7", roles=["admin"])
    return {"users": users, "tokens": MemoryTokenManager()}


def test_flask_block(stores: dict[str, Any]) -> None:
    pytest.importorskip("flask")
    code = blocks("Use with Flask / Pyramid / Bottle")[1]
    stores["__name__"] = "readme_flask"  # Flask(__name__) needs a module name
    exec(compile(code.text, "README.md#Flask", "exec"), stores)  # noqa: S102
    client = TestApp(stores["app"], extra_environ=HTTPS)
    client.get("/me", status=401)
    me = client.get("/me", headers={"Authorization": basic("alice", "wonderland-key-7")})
    assert me.json == {"userid": "alice", "roles": ["admin"]}


@pytest.mark.parametrize("framework", ["pyramid", "bottle"])
def test_pyramid_and_bottle_blocks(stores: dict[str, Any], framework: str) -> None:
    pytest.importorskip(framework)
    index = {"pyramid": 2, "bottle": 3}[framework]
    code = blocks("Use with Flask / Pyramid / Bottle")[index]
    from restauth import AuthMiddleware

    names: dict[str, Any] = {**stores, "AuthMiddleware": AuthMiddleware}
    if framework == "pyramid":
        from pyramid.config import Configurator

        config = Configurator()
        config.add_route("me", "/me")
        config.add_view(
            lambda request: {"userid": request.environ["restauth.identity"].userid},
            route_name="me",
            renderer="json",
        )
        names["config"] = config
    else:
        import bottle

        bottle_app = bottle.Bottle()
        bottle_app.get("/me")(
            lambda: {"userid": bottle.request.environ["restauth.identity"].userid}
        )
        names["bottle_app"] = bottle_app
    exec(compile(code.text, f"README.md#{framework}", "exec"), names)  # noqa: S102
    client = TestApp(names["app"], extra_environ=HTTPS)
    client.get("/me", status=401)
    me = client.get("/me", headers={"Authorization": basic("alice", "wonderland-key-7")})
    assert me.json == {"userid": "alice"}


def test_asgi_commands_are_the_examples_tested_ones() -> None:
    console = blocks("Use with FastAPI / Starlette")[0]
    export, server = console.commands()
    assert export.startswith("export RESTAUTH_SECRET_KEY=")
    assert server in (ROOT / "examples" / "fastapi_app.py").read_text("utf-8")
    assert server.replace("fastapi_app", "starlette_app") in (
        ROOT / "examples" / "starlette_app.py"
    ).read_text("utf-8")


def test_fastapi_block(stores: dict[str, Any]) -> None:
    import httpx

    code = blocks("Use with FastAPI / Starlette")[1]
    exec(compile(code.text, "README.md#FastAPI", "exec"), stores)  # noqa: S102
    app = stores["app"]

    async def calls() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://localhost") as client:
            anonymous = await client.get("/me")
            alice = await client.get(
                "/me", headers={"Authorization": basic("alice", "wonderland-key-7")}
            )
            docs = await client.get("/openapi.json")
            return [anonymous, alice, docs]

    from tests.adapters import run_async  # not in this thread: Playwright may run a loop here

    anonymous, alice, docs = run_async(calls())
    assert anonymous.status_code == 401
    assert (alice.status_code, alice.json()) == (200, {"userid": "alice"})
    assert "auth-token" in alice.headers
    assert docs.status_code == 200


# -- Roles and ACL rules, configuration file, command line ----------------------------


@pytest.fixture
def configured(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The bash block's first three lines, run in a fresh directory."""
    bash = blocks("Roles and ACL rules, configuration file, command line")[1]
    copy, export, add, check, _serve = bash.commands()
    assert copy == "cp examples/restauth.toml ."
    # As written, from the clone (the example's own path made absolute: cwd is tmp_path).
    subprocess.run(
        shlex.split(copy.replace("examples/", f"{ROOT}/examples/")), cwd=tmp_path, check=True
    )
    assert export == "export RESTAUTH_CONFIG=restauth.toml RESTAUTH_SECRET_KEY=..."
    env = environment({**exported(export), "RESTAUTH_SECRET_KEY": KEY}, tmp_path)
    restauth_user_add(add, "wonderland-key-7", tmp_path, env)
    done = subprocess.run(
        [str(BIN / "restauth"), *shlex.split(check)[1:]],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "example api" in done.stdout
    return tmp_path, env


def test_configuration_block_from_config(
    configured: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, env = configured
    code = blocks("Roles and ACL rules, configuration file, command line")[0]
    monkeypatch.chdir(directory)
    monkeypatch.setenv("RESTAUTH_SECRET_KEY", env["RESTAUTH_SECRET_KEY"])
    names: dict[str, Any] = {"app": echo_app}
    exec(compile(code.text, "README.md#from_config", "exec"), names)  # noqa: S102
    client = TestApp(names["application"])
    assert client.get("/", headers={"Authorization": basic("alice", "wonderland-key-7")}).json[
        "roles"
    ] == ["admin"]


def test_configuration_block_restauth_serve(configured: tuple[Path, dict[str, str]]) -> None:
    directory, env = configured
    serve = blocks("Roles and ACL rules, configuration file, command line")[1].commands()[-1]
    assert serve == "restauth serve --app myproject.wsgi:app"
    (directory / "myproject").mkdir()
    (directory / "myproject" / "__init__.py").write_text("", "utf-8")
    (directory / "myproject" / "wsgi.py").write_text(MYAPP, "utf-8")
    port = free_port()
    argv = [str(BIN / "restauth"), *shlex.split(serve)[1:], "--port", str(port)]
    with running(argv, port=port, cwd=directory, env=env):
        answer = request(port, "GET", "/", {"Authorization": basic("alice", "wonderland-key-7")})
        assert (answer.status, answer.body) == (200, b"alice")
        assert request(port, "GET", "/").status == 401


# -- Single-page app on another origin ------------------------------------------------

SPA = "Single-page app on another origin"


@dataclass(frozen=True)
class Spa:
    """The section's example as :func:`spa_example` wrote it: the password of its user and
    its two servers' commands (the API's, the page's)."""

    password: str
    api_command: list[str]
    page_command: list[str]


def spa_example(directory: Path, api: int, page: int) -> Spa:
    """The section's ``spa_api.py`` and ``spa.html`` written in ``directory``, as they are
    but for the ports: the API on ``api`` instead of 8000, the page's origin on ``page``
    instead of 8001 (in the allowed origin, the page's API URL and ``http.server``'s port).
    """
    code, html, console = blocks(SPA)
    assert (code.filename(), html.filename()) == ("spa_api.py", "spa.html")
    ports = {"8000": str(api), "8001": str(page)}
    assert re.findall(r"\b800[01]\b", code.text) == ["8001", "8000"]  # the origin, the bind
    python = re.sub(r"\b800[01]\b", lambda port: ports[port[0]], code.text)
    assert re.findall(r"\b800[01]\b", html.text) == ["8000"]  # API = "http://127.0.0.1:8000"
    page_text = html.text.replace('"http://127.0.0.1:8000"', f'"http://127.0.0.1:{api}"')
    assert page_text != html.text
    (directory / "spa_api.py").write_text(python, "utf-8")
    (directory / "spa.html").write_text(page_text, "utf-8")
    start_api, serve_page = console.commands()
    assert start_api == "python3 spa_api.py &"
    assert serve_page == "python3 -m http.server 8001"
    password = re.search(r'users\.add\("alice", "([^"]+)"', code.text)
    assert password, code.text
    return Spa(
        password[1],
        [sys.executable, "spa_api.py"],
        [sys.executable, "-m", "http.server", str(page)],
    )


def test_spa_api_answers_the_allowed_origin_only(tmp_path: Path) -> None:
    """The API of the section as a browser would call it (headers only; Chromium runs the
    page in tests/e2e/test_cors_browser.py)."""
    api, page = free_port(), free_port()
    spa = spa_example(tmp_path, api, page)
    allowed = {"Origin": f"http://localhost:{page}"}
    with running(spa.api_command, port=api, cwd=tmp_path, env=environment({})):
        preflight = request(
            api, "OPTIONS", "/tokens",
            {**allowed, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type,no-auth-challenge"},
        )  # fmt: skip
        assert preflight.status == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == allowed["Origin"]
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        body = json.dumps({"username": "alice", "password": spa.password}).encode()
        json_type = {"Content-Type": "application/json", "No-Auth-Challenge": "true"}
        login = request(api, "POST", "/tokens", {**allowed, **json_type}, body)
        assert login.status == 200
        assert login.headers["Access-Control-Allow-Origin"] == allowed["Origin"]
        assert "Auth-Token" in login.headers["Access-Control-Expose-Headers"]
        assert login.headers["Auth-Token"] == login.json()["token"]
        bearer = {**allowed, "Authorization": f"Bearer {login.json()['token']}"}
        assert request(api, "GET", "/", bearer).json() == {"userid": "alice", "roles": ["user"]}
        refused = request(api, "GET", "/", {**allowed, "No-Auth-Challenge": "true"})
        assert refused.status == 401
        assert "WWW-Authenticate" not in refused.headers
        assert refused.headers["Access-Control-Allow-Origin"] == allowed["Origin"]
        other = {"Origin": f"http://127.0.0.1:{page}"}
        assert "Access-Control-Allow-Origin" not in request(api, "GET", "/", other).headers
        assert request(api, "DELETE", "/tokens/alice", bearer).status == 204
        assert request(api, "GET", "/", bearer).status == 401
