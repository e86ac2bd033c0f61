"""``load_config`` / ``from_config``: a whole middleware from TOML, every mistake named."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from webtest import TestApp

from restauth import ConfigError, from_config, load_config
from restauth.passwords.hasher import PasswordHasher
from restauth.tokens.memory import MemoryTokenManager
from restauth.tokens.sqlite import SQLiteTokenManager
from restauth.users.memory import MemoryUserStore
from restauth.users.sqlite import SQLiteUserStore
from tests.conftest import basic, echo_app
from tests.services import postgres_dsn, redis_url

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "restauth.toml"
KEY = {"RESTAUTH_SECRET_KEY": "k" * 32}
ALICE_HASH = PasswordHasher(rounds=4).hash("wonderland-key-7")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "restauth.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_shipped_example_loads_and_builds(tmp_path: Path) -> None:
    copy = tmp_path / "restauth.toml"
    copy.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    middleware = from_config(echo_app, copy, environ=KEY)
    assert isinstance(middleware.users, SQLiteUserStore)
    assert isinstance(middleware.tokens, SQLiteTokenManager)
    assert not (tmp_path / "restauth-users.db").exists()  # building the stores reads nothing
    assert middleware.users.get("nobody") is None  # the first use opens the file, ...
    assert (tmp_path / "restauth-users.db").exists()  # ... relative to the file, not the cwd
    assert middleware.acl is not None
    assert len(middleware.acl) == 4  # "/", "/docs/**", "/users/{userid}/**", "/admin/**"
    assert middleware.realm == "example api"


def test_empty_file_means_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), environ={})
    middleware = config.middleware(echo_app)
    assert isinstance(middleware.users, MemoryUserStore)
    assert isinstance(middleware.tokens, MemoryTokenManager)
    assert middleware.acl is None
    assert middleware.require_https is True
    assert middleware.throttle is not None


def test_memory_accounts_acl_and_options_end_to_end(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        [restauth]
        realm = "conf"
        public = ["/health"]
        require_https = false
        tokens_path = "/auth/tokens"
        throttle = false

        [users]
        kind = "memory"
        bcrypt_rounds = 4
        [[users.accounts]]
        userid = "alice"
        password_hash = "{ALICE_HASH}"
        roles = ["admin"]

        [tokens]
        ttl = 60
        max_lifetime = 120

        [[acl]]
        path = "/admin/**"
        roles = ["admin"]
        """,
    )
    middleware = from_config(echo_app, path, environ={})
    assert middleware.throttle is None
    assert middleware.tokens is not None
    assert middleware.tokens.ttl == 60
    client = TestApp(middleware, extra_environ={"wsgi.url_scheme": "http"})
    client.get("/health", status=200)
    response = client.get(
        "/admin/x", headers={"Authorization": basic("alice", "wonderland-key-7")}, status=200
    )
    assert response.headers["Auth-Token-Location"] == "/auth/tokens/alice"
    assert response.json["roles"] == ["admin"]
    client.get("/other", headers={"Authorization": basic("alice", "wonderland-key-7")}, status=403)
    client.get("/admin/x", status=401)


def test_restauth_config_variable_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[restauth]\nrealm = "from env"\n')
    config = load_config(environ={"RESTAUTH_CONFIG": str(path)})
    assert config.options["realm"] == "from env"
    with pytest.raises(ConfigError, match="RESTAUTH_CONFIG is not set"):
        load_config(environ={})


def test_keywords_override_the_file(tmp_path: Path) -> None:
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    middleware = from_config(echo_app, write(tmp_path, ""), environ={}, users=users, realm="x")
    assert middleware.users is users
    assert middleware.realm == "x"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[restauth]\ntll = 60\n", r"\[restauth\]: unknown key tll"),
        ("[tokens]\ntll = 60\nkind = 'memory'\n", r"\[tokens\]: unknown key tll"),
        ("[unknown]\n", "top level: unknown key unknown"),
        ("[restauth]\nrealm = 3\n", r"\[restauth\] realm: expected a string, got an integer"),
        ("[restauth]\npublic = '/x'\n", r"public: expected an array of strings"),
        ("[restauth]\npublic = ['/x', 2]\n", r"public: expected an array of strings, found"),
        ("[restauth]\nrequire_https = 'yes'\n", r"require_https: expected true or false"),
        ("[restauth]\nretry_after = true\n", r"retry_after: expected an integer, got a boolean"),
        ("[restauth]\nretry_after = 0\n", r"retry_after: must be at least 1"),
        ("[restauth]\nrealm = 'bad\"realm'\n", r"realm must be printable"),
        ("[restauth.throttle]\nwindow = -1\n", r"\[restauth.throttle\] window: must be a positive"),
        ("[restauth.throttle]\nwindw = 1\n", r"\[restauth.throttle\]: unknown key windw"),
        ("[restauth.cookie]\nsame_site = 'None'\n", r"same_site: must be one of Strict, Lax"),
        ("[restauth]\ncookie = 'yes'\n", r"\[restauth.cookie\]: expected a table"),
        ("[tokens]\nkind = 'mongo'\n", r"\[tokens\] kind: must be one of memory, sqlite"),
        ("[tokens]\nttl = inf\n", r"\[tokens\] ttl: must be a positive, finite number"),
        ("[tokens]\nttl = 'long'\n", r"\[tokens\] ttl: expected a number, got a string"),
        ("[tokens]\nsecret_key = 'abcdefghijklmnopq'\n", r"secret_key: secrets are never written"),
        ("[tokens]\nkind = 'sqlite'\n", r"secret_key_env: \$RESTAUTH_SECRET_KEY is not set"),
        ("[users]\nkind = 'sqlite'\n", r"\[users\] path: is required"),
        ("[users]\nbcrypt_rounds = 40\n", r"bcrypt_rounds: must be at most 31"),
        (
            "[users]\nkind = 'postgres'\ndsn = 'host=db'\npool_min_size = 5\npool_max_size = 2\n",
            r"pool_min_size: must not exceed pool_max_size",
        ),
        ("[users]\npool_max_size = 2\n", r"\[users\]: unknown key pool_max_size"),
        ("[users]\nkind = 'postgres'\n", r"\[users\] dsn: give exactly one of dsn or dsn_env"),
        (
            "[users]\nkind = 'postgres'\ndsn = 'postgresql://app:hunter2@db/app'\n",
            r"dsn: holds a password",
        ),
        (
            "[users]\nkind = 'postgres'\ndsn = 'host=db password=hunter2'\n",
            r"dsn: holds a password",
        ),
        ("[users]\nkind = 'postgres'\ndsn_env = 'NOPE_DSN'\n", r"dsn_env: \$NOPE_DSN is not set"),
        ("[[users.accounts]]\nuserid = 'a'\npassword = 'x'\n", r"never write a password"),
        ("[[users.accounts]]\nuserid = 'a'\npassword_hash = 'x'\n", r"must be a bcrypt hash"),
        ("[[acl]]\npath = '/a'\nroles = ['$admin']\n", r"acl\[0\]: unknown special role"),
        ("[[acl]]\npath = '/a'\n", r"acl\[0\]: missing key 'roles'"),
        ("acl = 3\n", r"acl: expected an array of tables"),
        ("[restauth\n", r"not valid TOML"),
    ],
)
def test_mistakes_name_their_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as error:
        load_config(path, environ={}).middleware(echo_app)
    assert str(error.value).startswith(str(path))
    assert "hunter2" not in str(error.value)


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_short_secret_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        load_config(write(tmp_path, ""), environ={"RESTAUTH_SECRET_KEY": "short"})


def test_secret_key_env_names_another_variable(tmp_path: Path) -> None:
    path = write(
        tmp_path, "[tokens]\nkind = 'sqlite'\npath = 't.db'\nsecret_key_env = 'APP_TOKEN_KEY'\n"
    )
    config = load_config(path, environ={"APP_TOKEN_KEY": "z" * 20})
    assert config.tokens.secret_key == "z" * 20
    assert "z" * 20 not in str(config.describe())
    assert "z" * 20 not in repr(config)


def test_mapping_source(tmp_path: Path) -> None:
    config = load_config({"restauth": {"realm": "dict"}}, environ={})
    assert config.options["realm"] == "dict"


def test_describe_masks_every_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        """
        [users]
        kind = "postgres"
        dsn_env = "DSN"
        [tokens]
        kind = "redis"
        url_env = "REDIS"
        """,
    )
    env = {"DSN": "postgresql://app:hunter2@db/app", "REDIS": "redis://:swordfish@r:6379/0", **KEY}
    described = str(load_config(path, environ=env).describe())
    for secret in ("hunter2", "swordfish", "k" * 32):
        assert secret not in described
    assert "postgresql://app:********@db/app" in described


def test_redis_tokens_from_config(tmp_path: Path) -> None:
    url = redis_url()
    path = write(tmp_path, f"[tokens]\nkind = 'redis'\nurl = '{url}'\nprefix = 'cfgtest:'\n")
    middleware = from_config(echo_app, path, environ=KEY)
    from restauth.throttle.redis import RedisThrottleStore

    assert type(middleware.tokens).__name__ == "RedisTokenManager"
    assert middleware.throttle is not None
    assert isinstance(middleware.throttle.store, RedisThrottleStore)  # shared by all nodes
    grant = middleware.tokens.issue("cfg-user", "stamp")  # type: ignore[union-attr]
    assert middleware.tokens.authenticate(grant.token) is not None  # type: ignore[union-attr]
    middleware.tokens.revoke("cfg-user")  # type: ignore[union-attr]


def test_postgres_users_from_config(tmp_path: Path) -> None:
    dsn = postgres_dsn()
    path = write(
        tmp_path,
        "[users]\nkind = 'postgres'\ndsn_env = 'PG'\nbcrypt_rounds = 4\n"
        "pool_min_size = 0\npool_max_size = 3\ntimeout = 2.5\n",
    )
    config = load_config(path, environ={"PG": dsn})
    assert config.describe()["users"]["pool_max_size"] == 3
    users: Any = config.build_users()
    try:
        assert type(users).__name__ == "PostgresUserStore"
        assert users.timeout == 2.5
        users.get("nobody-here")
    finally:
        users.close()


def test_challenge_off_never_sends_www_authenticate(tmp_path: Path) -> None:
    path = write(tmp_path, "[restauth]\nchallenge = false\n")
    client = TestApp(from_config(echo_app, path, environ={}))
    response = client.get("/private", status=401)
    assert "WWW-Authenticate" not in response.headers
    response = client.get("/private", headers={"Authorization": "Bearer a b"}, status=400)
    assert "WWW-Authenticate" not in response.headers
    with_challenge = TestApp(from_config(echo_app, write(tmp_path, ""), environ={}))
    assert with_challenge.get("/private", status=401).headers.getall("WWW-Authenticate")


def test_password_cache_settings(tmp_path: Path) -> None:
    on = from_config(echo_app, write(tmp_path, ""), environ={})
    assert on.options.password_cache is not None
    off = from_config(echo_app, write(tmp_path, "[restauth]\npassword_cache = false\n"), environ={})
    assert off.options.password_cache is None
    tuned = from_config(
        echo_app,
        write(tmp_path, "[restauth.password_cache]\nttl = 30\nmax_entries = 5\n"),
        environ={},
    )
    assert tuned.options.password_cache is not None
    assert (tuned.options.password_cache.ttl, tuned.options.password_cache.max_entries) == (30.0, 5)
    with pytest.raises(ConfigError, match=r"\[restauth.password_cache\]: unknown key size"):
        load_config(write(tmp_path, "[restauth.password_cache]\nsize = 5\n"), environ={})


@pytest.mark.parametrize(
    ("table", "line"),
    [
        ("tokens", "kind = 'redis'\nurl = 'redis://r:6379/0?password=hunter2'"),
        ("tokens", "kind = 'redis'\nurl = 'redis://r:6379/0?db=1&PASSWORD=hunter2'"),
        ("tokens", "kind = 'redis'\nurl = 'redis://r:6379/0?pass%77ord=hunter2'"),
        ("tokens", "kind = 'redis'\nurl = 'redis://:hunter2@r:6379/0'"),
        ("tokens", "kind = 'redis'\nurl = 'rediss://default:hunter2@r:6379/0'"),
        ("tokens", "kind = 'redis'\nurl = 'unix:///run/redis.sock?password=hunter2'"),
        ("tokens", "kind = 'redis'\nurl = 'redis://:hunter2@[::1'"),
        ("users", "kind = 'postgres'\ndsn = 'postgresql://app:hunter2@db/app'"),
        ("users", "kind = 'postgres'\ndsn = 'postgresql://app@db/app?password=hunter2'"),
        ("users", "kind = 'postgres'\ndsn = 'postgres://db/app?sslmode=require&Password=hunter2'"),
        ("users", "kind = 'postgres'\ndsn = 'host=db user=app password=hunter2'"),
        ("users", "kind = 'postgres'\ndsn = \"host=db password = 'hunter2'\""),
    ],
)
def test_a_password_in_any_url_or_dsn_is_refused(tmp_path: Path, table: str, line: str) -> None:
    """Issue 14 item 19: in the userinfo, the query (any case or encoding) or a libpq keyword."""
    path = write(tmp_path, f"[{table}]\n{line}\n")
    key = "url" if table == "tokens" else "dsn"
    with pytest.raises(ConfigError, match=rf"\[{table}\] {key}: holds a password") as error:
        load_config(path, environ=KEY)
    assert "hunter2" not in str(error.value)


@pytest.mark.parametrize(
    ("table", "line"),
    [
        ("tokens", "kind = 'redis'\nurl = 'redis://r:6379/0?db=1'"),
        ("tokens", "kind = 'redis'\nurl = 'redis://app@r:6379/0'"),  # a user name alone
        ("users", "kind = 'postgres'\ndsn = 'postgresql://app@db/app?passfile=/etc/pgpass'"),
        ("users", "kind = 'postgres'\ndsn = 'host=db user=app passfile=/etc/pgpass'"),
    ],
)
def test_a_url_or_dsn_without_a_password_is_fine(tmp_path: Path, table: str, line: str) -> None:
    load_config(write(tmp_path, f"[{table}]\n{line}\n"), environ=KEY)


def test_a_password_from_the_environment_is_used_and_masked(tmp_path: Path) -> None:
    """Issue 14 item 19: the ``*_env`` path keeps working, whatever form the password takes."""
    path = write(
        tmp_path,
        "[users]\nkind = 'postgres'\ndsn_env = 'DSN'\n[tokens]\nkind = 'redis'\nurl_env = 'R'\n",
    )
    for dsn, url in [
        ("postgresql://app@db/app?password=hunter2&sslmode=require", "redis://r/0?password=zebra1"),
        ("host=db password='hunter2 with spaces' user=app", "redis://:zeb@ra2@r:6379/0"),
    ]:
        config = load_config(path, environ={"DSN": dsn, "R": url, **KEY})
        assert (config.users.dsn, config.tokens.url) == (dsn, url)
        described = str(config.describe())
        for secret in ("hunter2", "spaces", "zebra1", "zeb", "ra2"):
            assert secret not in described, secret
        assert "sslmode=require" in described or "user=app" in described
