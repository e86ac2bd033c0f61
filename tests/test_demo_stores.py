"""The demo keeps its tokens where it says it does, and its favicon is public.

``restauth demo`` prints that its data is in SQLite; it once swapped an empty
``SQLiteTokenManager`` (false: it has ``__len__``) for a memory one, so ``restauth token
revoke`` could not reach a demo user's token (issue 16 item 14).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

from restauth.demo.server import build_app, open_stores
from restauth.tokens.memory import MemoryTokenManager
from tests.servers import request, running_demo


def test_build_app_keeps_an_empty_sqlite_token_manager(tmp_path: Path) -> None:
    users, tokens = open_stores(tmp_path)
    try:
        assert len(tokens) == 0
        assert not tokens  # the trap: an empty manager is false
        assert build_app(users, tokens=tokens).options.tokens is tokens
        assert isinstance(build_app(users).options.tokens, MemoryTokenManager)
    finally:
        users.close()
        tokens.close()


def test_token_revoke_logs_a_demo_user_out(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with running_demo(tmp_path, "--data-dir", str(data)) as demo:
        port, passwords = demo.server.port, demo.passwords
        credentials = base64.b64encode(f"bob:{passwords['bob']}".encode()).decode()
        answer = request(port, "GET", "/api/notes", {"Authorization": f"Basic {credentials}"})
        assert answer.status == 200
        bearer = {"Authorization": f"Bearer {answer.headers['Auth-Token']}"}
        assert request(port, "GET", "/api/notes", bearer).status == 200

        config = tmp_path / "restauth.toml"
        database = data / "restauth-demo.db"
        config.write_text(
            f"[users]\nkind = 'sqlite'\npath = '{database}'\n"
            f"[tokens]\nkind = 'sqlite'\npath = '{database}'\n",
            encoding="utf-8",
        )
        env = {
            **os.environ,
            "RESTAUTH_CONFIG": str(config),
            "RESTAUTH_SECRET_KEY": (data / "secret.key").read_text().strip(),
        }
        listed = subprocess.run(
            [sys.executable, "-m", "restauth.cli", "token", "list"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        userid, _session, kind, *_ = listed.stdout.split("\t")
        assert (userid, kind) == ("bob", "basic")  # the Basic request's session
        assert answer.headers["Auth-Token"] not in listed.stdout
        revoked = subprocess.run(
            [sys.executable, "-m", "restauth.cli", "token", "revoke", "bob"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert revoked.stdout.strip() == "ended 1 session of bob"
        assert request(port, "GET", "/api/notes", bearer).status == 401


def test_favicon_is_public_and_empty(tmp_path: Path) -> None:
    with running_demo(tmp_path) as demo:
        icon = request(demo.server.port, "GET", "/favicon.ico")
    assert icon.status == 204  # not 401: a page load logs no refusal
    assert icon.body == b""
    assert "WWW-Authenticate" not in icon.headers
    assert "max-age=86400" in icon.headers["Cache-Control"]
