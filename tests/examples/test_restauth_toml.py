"""``examples/restauth.toml`` end to end, as its opening comments say to try it.

The shipped file, unchanged, in a fresh directory: ``restauth user add`` for an admin and a
user, ``restauth serve`` in a subprocess (waitress), and the requests the comments list,
over plain HTTP on 127.0.0.1. Issue 16, item 12: everyone used to get 403 there.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import Server, basic, environment, free_port, request, running

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "restauth.toml"
RESTAUTH = str(Path(sys.executable).parent / "restauth")
KEY = {"RESTAUTH_SECRET_KEY": "example-key-" + "k" * 32}
PASSWORDS = {"alice": "wonderland: correct horse", "bob": "builder: battery staple"}

# What each path in the file's comments answers to each caller (None: no credentials).
EXPECTED = {
    "/": {"alice": 200, "bob": 200, None: 401},
    "/admin/stats": {"alice": 200, "bob": 403, None: 401},
    "/users/bob/notes": {"alice": 403, "bob": 200, None: 401},
    "/docs/intro": {"alice": 200, "bob": 200, None: 200},
}


def commented(prefix: str) -> list[str]:
    """The trial commands in the file's comments that start with ``prefix``."""
    lines = EXAMPLE.read_text("utf-8").splitlines()
    return [
        line.removeprefix("#").split("#")[0].strip()
        for line in lines
        if line.startswith("#   " + prefix)
    ]


def prepare(directory: Path, text: str) -> dict[str, str]:
    """The file in ``directory`` and its users added as the comments say; the environment."""
    (directory / "restauth.toml").write_text(text, "utf-8")
    env = environment(KEY)
    adds = commented("restauth user add")
    assert adds == [
        "restauth user add alice --role admin --config restauth.toml",
        "restauth user add bob --config restauth.toml",
    ]
    for command in adds:
        argv = [RESTAUTH, *command.split()[1:], "--password-stdin"]
        userid = argv[3]
        done = subprocess.run(
            argv, cwd=directory, env=env, input=PASSWORDS[userid] + "\n", text=True,
            capture_output=True, check=False, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"added {userid}")
    return env


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pytest.importorskip("waitress")
    directory = tmp_path_factory.mktemp("toml")
    env = prepare(directory, EXAMPLE.read_text("utf-8"))
    [serve] = commented("restauth serve")
    assert serve == "restauth serve --config restauth.toml"
    port = free_port()
    argv = [RESTAUTH, *serve.split()[1:], "--port", str(port)]
    with running(argv, port=port, cwd=directory, env=env) as server:
        yield server


def test_the_comments_list_the_paths_tested_here() -> None:
    urls = [re.search(r"http://127\.0\.0\.1:8080(\S*)", line) for line in commented("curl")]
    assert [u.group(1) for u in urls if u] == list(EXPECTED)
    assert "require_https = false" in EXAMPLE.read_text("utf-8")


@pytest.mark.parametrize("path", list(EXPECTED))
def test_each_caller_gets_what_the_comments_say(served: Server, path: str) -> None:
    for userid, status in EXPECTED[path].items():
        headers = {} if userid is None else {"Authorization": basic(userid, PASSWORDS[userid])}
        answer = request(served.port, "GET", path, headers)
        assert answer.status == status, (userid, path, answer.body)
        if status == 200 and path == "/":
            assert answer.json()["userid"] == userid


def test_public_paths_are_open(served: Server) -> None:
    assert request(served.port, "GET", "/health").status == 200
    assert request(served.port, "GET", "/static/app.css").status == 200


def test_token_then_logout(served: Server) -> None:
    login = request(served.port, "GET", "/", {"Authorization": basic("bob", PASSWORDS["bob"])})
    token = login.headers["Auth-Token"]
    assert login.headers["Auth-Token-Location"] == "/tokens/bob"
    me = request(served.port, "GET", "/", {"Authorization": f"Token {token}"})
    assert me.status == 200
    assert me.json()["mechanism"] == "token"
    gone = request(served.port, "DELETE", "/tokens/bob", {"Authorization": f"Token {token}"})
    assert gone.status == 204
    assert request(served.port, "GET", "/", {"Authorization": f"Token {token}"}).status == 401


PRODUCTION_APP = """
from restauth import from_config
from restauth.serve import whoami

application = from_config(whoami, "restauth.toml")
"""


def test_production_settings_refuse_plain_http(tmp_path: Path) -> None:
    """What the comments say to change for production does what they say: plain HTTP is
    refused, the TLS proxy named in trusted_proxies is believed (gunicorn, as in the
    README's *Behind a proxy*)."""
    pytest.importorskip("gunicorn")
    text = EXAMPLE.read_text("utf-8").replace("require_https = false", "require_https = true")
    env = prepare(tmp_path, text.replace("trusted_proxies = []", 'trusted_proxies = ["127.0.0.1"]'))
    (tmp_path / "prod_app.py").write_text(PRODUCTION_APP, "utf-8")
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}"]
    argv += ["--forwarded-allow-ips", "127.0.0.1", "prod_app:application"]
    with running(argv, port=port, cwd=tmp_path, env=environment(env, tmp_path)):
        alice = {"Authorization": basic("alice", PASSWORDS["alice"])}
        assert request(port, "GET", "/", alice).status == 403  # plain HTTP
        proxied = {**alice, "X-Forwarded-Proto": "https"}  # as the TLS proxy on 127.0.0.1
        assert request(port, "GET", "/", proxied).status == 200


def from_peer(port: int, peer: str, headers: dict[str, str]) -> int:
    """The status of ``GET /`` sent from the loopback address ``peer`` (127.0.0.x)."""
    return request(port, "GET", "/", headers, source=peer).status


def test_restauth_serve_behind_a_trusted_tls_proxy(tmp_path: Path) -> None:
    """``restauth serve`` (waitress) passes the trusted proxy's ``X-Forwarded-Proto`` on:
    by default waitress deletes it, and every credential would get 403 behind TLS."""
    pytest.importorskip("waitress")
    text = EXAMPLE.read_text("utf-8").replace("require_https = false", "require_https = true")
    env = prepare(tmp_path, text.replace("trusted_proxies = []", 'trusted_proxies = ["127.0.0.1"]'))
    port = free_port()
    argv = [RESTAUTH, "serve", "--config", "restauth.toml", "--port", str(port)]
    with running(argv, port=port, cwd=tmp_path, env=env):
        alice = {"Authorization": basic("alice", PASSWORDS["alice"])}
        proxied = {**alice, "X-Forwarded-Proto": "https"}
        assert from_peer(port, "127.0.0.1", alice) == 403  # plain HTTP
        assert from_peer(port, "127.0.0.1", proxied) == 200  # the proxy says TLS
        assert from_peer(port, "127.0.0.2", proxied) == 403  # anyone else saying so is not believed
