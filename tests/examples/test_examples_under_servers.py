"""Each framework example under a real server, run with the command its docstring gives.

gunicorn with two worker processes and waitress, started in a subprocess from the
repository root exactly as the docstring says (only the port differs); the passwords are
the ones the example prints at its first start. Then, over a real socket: Basic, the
token it answered with (``Token`` and ``Bearer``, whichever worker takes them), logout
with ``DELETE`` on the token's location, and the token refused afterwards. Issue 16,
item 11: neither ``gunicorn 'flask_app:create_app()'`` nor ``waitress-serve
flask_app:app`` could run before.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

from tests.servers import Server, basic, environment, free_port, request, running, wait_until

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FRAMEWORK = {"flask_app": "flask", "pyramid_app": "pyramid", "bottle_app": "bottle"}


def docstring_command(example: str, server: str) -> list[str]:
    """The example's own command line for ``server``, as its docstring writes it."""
    text = (ROOT / "examples" / f"{example}.py").read_text("utf-8")
    [line] = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(server + " ")]
    assert f"examples.{example}:app" in line
    assert "127.0.0.1:8000" in line
    return shlex.split(line)


def passwords(server: Server) -> dict[str, str]:
    """alice's and bob's passwords, from what the example printed when it added them."""

    def found() -> dict[str, str]:
        pattern = r"example user (\w+) \(roles [^)]*\) password (\S+)"
        return dict(re.findall(pattern, server.log_text()))

    wait_until(lambda: len(found()) == 2, server, "the example's two users")
    assert set(found()) == {"alice", "bob"}, server.log_text()
    return found()


@pytest.mark.parametrize("server", ["gunicorn", "waitress-serve"])
@pytest.mark.parametrize("example", list(FRAMEWORK))
def test_basic_token_and_logout_under_a_real_server(
    example: str, server: str, tmp_path: Path
) -> None:
    pytest.importorskip(FRAMEWORK[example])
    pytest.importorskip("gunicorn" if server == "gunicorn" else "waitress")
    if server == "gunicorn":
        assert docstring_command(example, server)[:3] == ["gunicorn", "-w", "2"]
    port = free_port()
    command = [
        arg.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        for arg in docstring_command(example, server)
    ]
    command[0] = str(BIN / command[0])
    env = environment(
        {
            "RESTAUTH_SECRET_KEY": "example-key-" + "k" * 32,
            "RESTAUTH_EXAMPLE_DB": str(tmp_path / "example.db"),
        }
    )
    with running(
        command, port=port, cwd=ROOT, env=env, log=tmp_path / "server.log"
    ) as running_server:
        assert request(port, "GET", "/health").json() == {"status": "ok"}
        secret = passwords(running_server)
        assert request(port, "GET", "/me").status == 401

        login = request(port, "GET", "/me", {"Authorization": basic("bob", secret["bob"])})
        assert login.status == 200
        assert login.json() == {"userid": "bob", "roles": ["user"], "mechanism": "basic"}
        token = login.headers["Auth-Token"]
        location = login.headers["Auth-Token-Location"]
        assert location == "/tokens/bob"

        # Several requests, so that both gunicorn workers see the token.
        for scheme in ("Token", "Bearer", "Token", "Bearer"):
            me = request(port, "GET", "/me", {"Authorization": f"{scheme} {token}"})
            assert me.status == 200
            assert me.json()["mechanism"] == "token"
            assert me.headers["Auth-Token"] == token
        admin = request(port, "GET", "/admin", {"Authorization": f"Token {token}"})
        assert admin.status == 403
        alice = request(port, "GET", "/admin", {"Authorization": basic("alice", secret["alice"])})
        assert alice.json() == {"message": "hello, administrator alice"}

        assert request(port, "DELETE", location, {"Authorization": f"Token {token}"}).status == 204
        for _ in range(4):
            assert request(port, "GET", "/me", {"Authorization": f"Token {token}"}).status == 401
