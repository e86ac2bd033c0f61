"""The command line as a shell runs it: a subprocess, no terminal, a port someone else holds.

Each case was a traceback once (issue 16 item 13); a user mistake must be one line on
stderr and exit code 1.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import request

KEY = "k" * 32
CLI = [sys.executable, "-m", "restauth.cli"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A SQLite configuration, and a private TMPDIR: the demo's temporary directories
    land there, so a test can see exactly what the process left behind."""
    config = tmp_path / "restauth.toml"
    config.write_text(
        "[users]\nkind = 'sqlite'\npath = 'auth.db'\nbcrypt_rounds = 4\n"
        "[tokens]\nkind = 'sqlite'\npath = 'auth.db'\n",
        encoding="utf-8",
    )
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return {
        **os.environ,
        "RESTAUTH_CONFIG": str(config),
        "RESTAUTH_SECRET_KEY": KEY,
        "TMPDIR": str(tmp),
    }


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def assert_one_line(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("restauth: ")
    assert message in result.stderr


@pytest.mark.parametrize(
    "argv", [["user", "add", "carol"], ["user", "passwd", "carol"], ["hash-password"]]
)
@pytest.mark.parametrize("stdin", [subprocess.DEVNULL, "a-password\n"])
def test_no_terminal_says_use_password_stdin(
    env: dict[str, str], argv: list[str], stdin: object
) -> None:
    subprocess.run(
        [*CLI, "user", "add", "carol", "--password-stdin"],
        input="first-pw\n",
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [*CLI, *argv],
        stdin=stdin if stdin is subprocess.DEVNULL else None,
        input=stdin if isinstance(stdin, str) else None,
        text=True,
        env=env,
        capture_output=True,
        timeout=60,
        start_new_session=True,  # no controlling terminal for getpass to open
    )
    assert_one_line(result, "use --password-stdin")
    assert "a-password" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_busy_port_is_one_line(env: dict[str, str], busy_port: int, command: str) -> None:
    result = subprocess.run(
        [*CLI, command, "--port", str(busy_port)],
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert_one_line(result, f"cannot listen on 127.0.0.1:{busy_port}")
    # The demo made its temporary directory before it tried the port: gone again.
    assert list(Path(env["TMPDIR"]).iterdir()) == []


def test_serve_imports_the_app_from_the_current_directory(
    env: dict[str, str], tmp_path: Path, busy_port: int
) -> None:
    """gunicorn and waitress-serve import ``mod:app`` from where they were started. Run on a
    busy port: the import has happened (and worked) by the time the port is refused."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "restauth_cwd_app.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'cwd']\n",
        encoding="utf-8",
    )
    argv = ["serve", "--app", "restauth_cwd_app:app", "--port", str(busy_port)]
    result = subprocess.run(
        # The console script, as a user types it (its sys.path starts at bin/, not here).
        [str(Path(sys.executable).parent / "restauth"), *argv],
        cwd=project,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert "cannot import" not in result.stderr
    assert_one_line(result, "cannot listen on")


def start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_banner(process: subprocess.Popen[str]) -> dict[str, str]:
    assert process.stdout is not None
    lines = [process.stdout.readline() for _ in range(4)]
    url = re.search(r"(http://[^/\s]+)/", lines[0])
    data = re.search(r"^data: (\S+)/restauth-demo\.db ", lines[2])
    assert url, lines
    assert data, lines
    return {"url": url.group(1), "data_dir": data.group(1)}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_demo_removes_its_temporary_directory(env: dict[str, str], stop: signal.Signals) -> None:
    process = start(["demo", "--port", "0"], env)
    try:
        banner = read_banner(process)
        data_dir = Path(banner["data_dir"])
        assert data_dir.parent == Path(env["TMPDIR"])
        assert (data_dir / "secret.key").exists()
        port = int(banner["url"].rsplit(":", 1)[1])  # http://127.0.0.1:PORT
        assert request(port, "GET", "/health").status == 200
    finally:
        process.send_signal(stop)
        _, err = process.communicate(timeout=30)
    assert not data_dir.exists()
    assert list(Path(env["TMPDIR"]).iterdir()) == []
    assert err == ""  # on loopback: no warning, and no traceback on the way out


def test_demo_keeps_a_data_dir_it_was_given(env: dict[str, str], tmp_path: Path) -> None:
    kept = tmp_path / "kept"
    process = start(["demo", "--port", "0", "--data-dir", str(kept)], env)
    try:
        assert Path(read_banner(process)["data_dir"]) == kept
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert (kept / "secret.key").exists()
    assert (kept / "restauth-demo.db").exists()


def test_demo_on_a_public_interface_warns(env: dict[str, str]) -> None:
    process = start(["demo", "--host", "0.0.0.0", "--port", "0"], env)  # noqa: S104
    try:
        read_banner(process)
        assert process.stderr is not None
        warning = process.stderr.readline()
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert "warning: plain HTTP on 0.0.0.0" in warning
    assert "clear text" in warning


PUBLIC_HOSTS = ["0.0.0.0", "::", "192.168.1.5", "example.org"]  # noqa: S104 - only compared


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        *[(host, True) for host in ("127.0.0.1", "localhost", "::1", "[::1]")],
        *[(host, False) for host in PUBLIC_HOSTS],
    ],
)
def test_which_hosts_are_loopback(host: str, loopback: bool) -> None:
    from restauth.demo.server import is_loopback

    assert is_loopback(host) is loopback
