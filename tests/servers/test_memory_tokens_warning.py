"""Memory tokens behind a server with several processes (issue 16 item 5).

With ``MemoryTokenManager`` under gunicorn ``-w 4``, 11 of 20 token requests got 401 and
nothing said why. The middleware now warns once, on its first request whose environ says
``wsgi.multiprocess``, and names the fix.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore, SQLiteTokenManager
from tests.conftest import echo_app
from tests.servers import request, serving, wait_until
from tests.storage.conftest import SECRET_KEY

APP = """
from restauth import AuthMiddleware, MemoryUserStore

def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]

application = AuthMiddleware(hello, users=MemoryUserStore(), require_https=False)
"""
FIX = "SQLiteTokenManager"


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "restauth"
        and r.levelno == logging.WARNING
        and "wsgi.multiprocess" in r.getMessage()
    ]


def call(app: AuthMiddleware, multiprocess: bool) -> None:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "wsgi.url_scheme": "https",
        "wsgi.multiprocess": multiprocess,
    }
    app(environ, lambda status, headers: None)


def test_memory_tokens_under_several_processes_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    app = AuthMiddleware(echo_app, users=MemoryUserStore(), tokens=MemoryTokenManager())
    for _ in range(3):
        call(app, multiprocess=True)
    [message] = warnings_in(caplog)
    assert FIX in message
    assert "RedisTokenManager" in message
    assert "Storage and scaling out" in message


def test_no_warning_for_one_process_or_shared_tokens(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    single = AuthMiddleware(echo_app, users=MemoryUserStore(), tokens=MemoryTokenManager())
    call(single, multiprocess=False)
    call(single, multiprocess=True)  # judged on the first request only: a server is one kind
    shared = AuthMiddleware(
        echo_app,
        users=MemoryUserStore(),
        tokens=SQLiteTokenManager(tmp_path / "t.db", secret_key=SECRET_KEY),
    )
    call(shared, multiprocess=True)
    none = AuthMiddleware(echo_app, users=MemoryUserStore(), tokens=None)
    call(none, multiprocess=True)
    assert warnings_in(caplog) == []


def test_gunicorn_workers_log_the_warning(tmp_path: Path) -> None:
    pytest.importorskip("gunicorn")
    (tmp_path / "memory_app.py").write_text(APP)
    with serving("gunicorn", "memory_app:application", tmp_path, workers=2) as server:
        for _ in range(20):
            assert request(server.port, "GET", "/").status == 401
        wait_until(lambda: FIX in server.log_text(), server, "the warning in the log")
        log = server.log_text()
    lines = [line for line in log.splitlines() if "wsgi.multiprocess" in line]
    assert 1 <= len(lines) <= 2  # once per worker that answered, never per request
    assert all(FIX in line for line in lines)
