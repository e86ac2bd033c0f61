"""The bundled example server, run as a user would run it."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def demo() -> Iterator[tuple[str, dict[str, str]]]:
    with running_demo() as started:
        yield started


@contextlib.contextmanager
def running_demo(*extra: str) -> Iterator[tuple[str, dict[str, str]]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "restauth.demo", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        url_line = process.stdout.readline()
        users_line = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", url_line)
        assert match, url_line
        passwords = dict(re.findall(r"(\w+) \([^)]*\) password (\S+?)[;\s]", users_line + " "))
        assert set(passwords) == {"alice", "bob"}, users_line
        yield f"http://127.0.0.1:{match.group(1)}", passwords
    finally:
        process.terminate()
        process.wait(timeout=10)


def fetch(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_demo_serves_the_whole_flow(demo: tuple[str, dict[str, str]]) -> None:
    base, passwords = demo
    assert fetch(base + "/health", {})[0] == 200
    assert fetch(base + "/api/notes", {})[0] == 401
    credentials = base64.b64encode(f"bob:{passwords['bob']}".encode()).decode()
    status, headers, body = fetch(base + "/api/notes", {"Authorization": f"Basic {credentials}"})
    assert status == 200
    assert json.loads(body) == {"notes": []}
    token = headers["Auth-Token"]
    assert fetch(base + "/api/admin/users", {"Authorization": f"Bearer {token}"})[0] == 403
    admin = base64.b64encode(f"alice:{passwords['alice']}".encode()).decode()
    assert fetch(base + "/api/admin/users", {"Authorization": f"Basic {admin}"})[0] == 200


def test_demo_keeps_its_sqlite_data_dir(tmp_path: Path) -> None:
    with running_demo("--data-dir", str(tmp_path)) as (base, passwords):
        credentials = base64.b64encode(f"bob:{passwords['bob']}".encode()).decode()
        status, headers, _ = fetch(base + "/api/notes", {"Authorization": f"Basic {credentials}"})
        assert status == 200
        token = headers["Auth-Token"]
    assert (tmp_path / "restauth-demo.db").stat().st_size > 0
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0
    with running_demo("--data-dir", str(tmp_path)) as (base, new_passwords):
        assert new_passwords["bob"] != passwords["bob"]
        # Same users, new passwords: the old password and the token issued under it are dead.
        assert fetch(base + "/api/notes", {"Authorization": f"Bearer {token}"})[0] == 401
        assert fetch(base + "/api/notes", {"Authorization": f"Basic {credentials}"})[0] == 401
        fresh = base64.b64encode(f"bob:{new_passwords['bob']}".encode()).decode()
        assert fetch(base + "/api/notes", {"Authorization": f"Basic {fresh}"})[0] == 200
