"""The configuration file and sessions (issue 17): ``[tokens] kind = "postgres"``,
``max_sessions`` for every kind that keeps sessions, and ``[restauth] admin_role``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from restauth import ConfigError, from_config, load_config
from restauth.cli import main
from restauth.tokens.base import DEFAULT_MAX_SESSIONS, TokenGrant
from tests.conftest import echo_app

KEY = {"RESTAUTH_SECRET_KEY": "k" * 32}
SECRET_DSN = "postgresql://app:hunter2@db.example/auth"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "restauth.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_postgres_tokens_from_config(tmp_path: Path, postgres_schema_dsn: str) -> None:
    path = write(
        tmp_path,
        """
        [tokens]
        kind = "postgres"
        dsn_env = "TOKENS_DSN"
        ttl = 600
        max_sessions = 3
        pool_min_size = 0
        pool_max_size = 2
        timeout = 2.5
        """,
    )
    config = load_config(path, environ={"TOKENS_DSN": postgres_schema_dsn, **KEY})
    tokens: Any = config.build_tokens()
    try:
        assert type(tokens).__name__ == "PostgresTokenManager"
        assert (tokens.ttl, tokens.max_sessions, tokens.database.timeout) == (600.0, 3, 2.5)
        grants = [tokens.issue("alice", "s") for _ in range(4)]
        assert isinstance(tokens.authenticate(grants[-1].token), TokenGrant)
        assert len(tokens.sessions("alice")) == 3  # the cap from the file
    finally:
        tokens.close()


def test_postgres_tokens_behind_a_middleware(tmp_path: Path, postgres_schema_dsn: str) -> None:
    path = write(tmp_path, '[tokens]\nkind = "postgres"\ndsn_env = "PG"\n')
    middleware = from_config(echo_app, path, environ={"PG": postgres_schema_dsn, **KEY})
    try:
        assert type(middleware.tokens).__name__ == "PostgresTokenManager"
        assert middleware.throttle is not None  # no PostgreSQL counters: in this process
        assert type(middleware.throttle.store).__name__ == "MemoryThrottleStore"
    finally:
        middleware.tokens.close()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind = 'postgres'\n", r"\[tokens\] dsn: give exactly one of dsn or dsn_env"),
        (
            "kind = 'postgres'\ndsn = 'host=db'\ndsn_env = 'PG'\n",
            r"\[tokens\] dsn: give exactly one of dsn or dsn_env",
        ),
        (f"kind = 'postgres'\ndsn = '{SECRET_DSN}'\n", r"\[tokens\] dsn: holds a password"),
        ("kind = 'postgres'\ndsn = 'host=db password=hunter2'\n", r"dsn: holds a password"),
        ("kind = 'postgres'\ndsn_env = 'NOPE_DSN'\n", r"dsn_env: \$NOPE_DSN is not set"),
        (
            "kind = 'postgres'\ndsn = 'host=db'\npool_min_size = 5\npool_max_size = 2\n",
            r"\[tokens\] pool_min_size: must not exceed pool_max_size",
        ),
        ("kind = 'sqlite'\npath = 't.db'\ndsn = 'host=db'\n", r"\[tokens\]: unknown key dsn"),
        ("kind = 'memory'\nmax_sessions = 0\n", r"\[tokens\] max_sessions: must be at least 1"),
        ("kind = 'memory'\nmax_sessions = '5'\n", r"max_sessions: expected an integer"),
        ("kind = 'memory'\nmax_sessions = 2.5\n", r"max_sessions: expected an integer"),
        ("kind = 'none'\nmax_sessions = 5\n", r"\[tokens\]: unknown key max_sessions"),
    ],
)
def test_mistakes_name_their_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "[tokens]\n" + text)
    with pytest.raises(ConfigError, match=message) as raised:
        load_config(path, environ=KEY)
    assert "hunter2" not in str(raised.value)


def test_postgres_tokens_need_the_secret_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[tokens]\nkind = 'postgres'\ndsn = 'host=db'\n")
    with pytest.raises(ConfigError, match=r"RESTAUTH_SECRET_KEY is not set; a postgres token"):
        load_config(path, environ={})


def test_describe_and_check_config_mask_the_dsn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        """
        [tokens]
        kind = "postgres"
        dsn_env = "TOKENS_DSN"
        max_sessions = 7
        """,
    )
    env = {"TOKENS_DSN": SECRET_DSN, **KEY}
    described = load_config(path, environ=env).describe()["tokens"]
    assert described["dsn"] == "postgresql://app:********@db.example/auth"
    assert described["dsn_from"] == "$TOKENS_DSN"
    assert (described["max_sessions"], described["pool_max_size"]) == (7, 10)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["tokens"]["dsn"] == "postgresql://app:********@db.example/auth"
    assert "hunter2" not in out
    assert "k" * 32 not in out


@pytest.mark.parametrize(
    ("kind", "lines"),
    [
        ("memory", ""),
        ("sqlite", "path = 'tokens.db'\n"),
        ("redis", "url = 'redis://127.0.0.1:1/0'\n"),  # built without connecting
        ("postgres", "dsn = 'host=127.0.0.1 port=1'\n"),
        ("jwt", ""),  # HS256 with the secret key; sessions in a memory revocation store
    ],
)
def test_max_sessions_reaches_every_stored_manager(tmp_path: Path, kind: str, lines: str) -> None:
    path = write(tmp_path, f"[tokens]\nkind = '{kind}'\n{lines}max_sessions = 4\n")
    config = load_config(path, environ=KEY)
    assert config.describe()["tokens"]["max_sessions"] == 4
    tokens: Any = config.build_tokens()
    assert tokens.max_sessions == 4
    tokens.close()
    default = load_config(write(tmp_path, f"[tokens]\nkind = '{kind}'\n{lines}"), environ=KEY)
    assert default.describe()["tokens"]["max_sessions"] == DEFAULT_MAX_SESSIONS
    tokens = default.build_tokens()
    assert tokens.max_sessions == DEFAULT_MAX_SESSIONS
    tokens.close()


def test_admin_role(tmp_path: Path) -> None:
    path = write(tmp_path, "[restauth]\nadmin_role = 'support'\n")
    config = load_config(path, environ={})
    assert config.options["admin_role"] == "support"
    assert config.describe()["restauth"]["admin_role"] == "support"
    assert from_config(echo_app, path, environ={}).options.admin_role == "support"
    unset = load_config(write(tmp_path, "[restauth]\nrealm = 'x'\n"), environ={})
    assert "admin_role" not in unset.options
    assert from_config(echo_app, unset.source, environ={}).options.admin_role is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("''", r"\[restauth\]: admin_role must be a role name"),
        ("'  '", r"\[restauth\]: admin_role must be a role name"),
        ("true", r"\[restauth\] admin_role: expected a string, got a boolean"),
        ("['admin']", r"\[restauth\] admin_role: expected a string, got an array"),
    ],
)
def test_a_bad_admin_role_is_refused(tmp_path: Path, value: str, message: str) -> None:
    path = write(tmp_path, f"[restauth]\nadmin_role = {value}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})
