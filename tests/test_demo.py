"""The bundled example server, run as a user would run it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import Demo, request, running_demo


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    with running_demo(tmp_path) as started:
        yield started


def test_demo_serves_the_whole_flow(demo: Demo) -> None:
    port, passwords = demo.server.port, demo.passwords
    assert request(port, "GET", "/health").status == 200
    assert request(port, "GET", "/api/notes").status == 401
    credentials = base64.b64encode(f"bob:{passwords['bob']}".encode()).decode()
    answer = request(port, "GET", "/api/notes", {"Authorization": f"Basic {credentials}"})
    assert answer.status == 200
    assert answer.json() == {"notes": []}
    bearer = {"Authorization": f"Bearer {answer.headers['Auth-Token']}"}
    assert request(port, "GET", "/api/admin/users", bearer).status == 403
    admin = base64.b64encode(f"alice:{passwords['alice']}".encode()).decode()
    admin_basic = {"Authorization": f"Basic {admin}"}
    assert request(port, "GET", "/api/admin/users", admin_basic).status == 200


def test_demo_keeps_its_sqlite_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with running_demo(tmp_path, "--data-dir", str(data)) as demo:
        port, passwords = demo.server.port, demo.passwords
        credentials = base64.b64encode(f"bob:{passwords['bob']}".encode()).decode()
        answer = request(port, "GET", "/api/notes", {"Authorization": f"Basic {credentials}"})
        assert answer.status == 200
        token = answer.headers["Auth-Token"]
    assert (data / "restauth-demo.db").stat().st_size > 0
    assert (data / "secret.key").stat().st_mode & 0o077 == 0
    with running_demo(tmp_path, "--data-dir", str(data)) as demo:
        port, new_passwords = demo.server.port, demo.passwords
        assert new_passwords["bob"] != passwords["bob"]
        # Same users, new passwords: the old password and the token issued under it are dead.
        bearer = {"Authorization": f"Bearer {token}"}
        assert request(port, "GET", "/api/notes", bearer).status == 401
        old_basic = {"Authorization": f"Basic {credentials}"}
        assert request(port, "GET", "/api/notes", old_basic).status == 401
        fresh = base64.b64encode(f"bob:{new_passwords['bob']}".encode()).decode()
        assert request(port, "GET", "/api/notes", {"Authorization": f"Basic {fresh}"}).status == 200
