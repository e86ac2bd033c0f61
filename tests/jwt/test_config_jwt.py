"""JWT from the TOML file: ``[tokens] kind = "jwt"`` and ``[[bearer]]`` providers with an ACL."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from webtest import TestApp

from restauth import ConfigError, from_config, load_config
from restauth.passwords.hasher import PasswordHasher
from restauth.tokens.jwt import JWTTokenManager
from tests.conftest import FakeClock, basic, echo_app
from tests.jwt.conftest import JWKSServer
from tests.jwt.test_bearer import AUDIENCE, ISSUER, IdP

SECRET = "s" * 40
HASH = PasswordHasher(rounds=4).hash("dora-password")
ACCOUNTS = f"""
[users]
bcrypt_rounds = 4
[[users.accounts]]
userid = "dora"
password_hash = "{HASH}"
roles = ["staff"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "restauth.toml"
    path.write_text(textwrap.dedent(text) + ACCOUNTS, encoding="utf-8")
    return path


def pem(key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def test_hs256_tokens_and_shared_revocation_across_two_nodes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [tokens]
        kind = "jwt"
        ttl = 600
        revocation = "sqlite"
        revocation_path = "revoked.db"
        """,
    )
    env = {"RESTAUTH_SECRET_KEY": SECRET}
    node_a = TestApp(from_config(echo_app, path, environ=env))
    node_b = TestApp(from_config(echo_app, path, environ=env))
    assert isinstance(node_a.app.tokens, JWTTokenManager)
    token = node_a.get("/", headers={"Authorization": basic("dora", "dora-password")}).headers[
        "Auth-Token"
    ]
    assert token.count(".") == 2
    auth = {"Authorization": f"Bearer {token}"}
    assert node_b.get("/", headers=auth).json["userid"] == "dora"
    node_a.delete("/tokens/dora", headers=auth, status=204)
    node_b.get("/", headers=auth, status=401)
    assert (tmp_path / "revoked.db").exists()


def test_private_key_file_and_rotation(tmp_path: Path) -> None:
    old = ed25519.Ed25519PrivateKey.generate()
    new = ed25519.Ed25519PrivateKey.generate()
    pem(old, tmp_path / "old.pem")
    pem(new, tmp_path / "new.pem")
    old_path = write(tmp_path, '[tokens]\nkind = "jwt"\nprivate_key_file = "old.pem"\n')
    old_node = TestApp(from_config(echo_app, old_path, environ={}))
    token = old_node.get("/", headers={"Authorization": basic("dora", "dora-password")}).headers[
        "Auth-Token"
    ]
    new_path = write(
        tmp_path,
        '[tokens]\nkind = "jwt"\nprivate_key_file = "new.pem"\nold_key_files = ["old.pem"]\n',
    )
    new_node = TestApp(from_config(echo_app, new_path, environ={}))
    response = new_node.get("/", headers={"Authorization": f"Bearer {token}"})
    assert response.json["userid"] == "dora"
    assert response.headers["Auth-Token"] != token  # re-signed under the new key
    described = load_config(new_path, environ={}).describe()["tokens"]
    assert described["signing_key"].endswith("new.pem")


@pytest.mark.parametrize(
    ("tokens", "env", "message"),
    [
        ('kind = "jwt"', {}, r"secret_key_env: \$RESTAUTH_SECRET_KEY is not set"),
        ('kind = "jwt"', {"RESTAUTH_SECRET_KEY": "x" * 20}, "at least 32 bytes for HS256"),
        ('kind = "jwt"\nrevocation = "mongo"', {"RESTAUTH_SECRET_KEY": SECRET}, "revocation"),
        (
            'kind = "jwt"\nold_secret_key_envs = ["OLD"]',
            {"RESTAUTH_SECRET_KEY": SECRET},
            r"\$OLD is not set",
        ),
        (
            'kind = "jwt"\nrevocation = "redis"\nrevocation_url = "redis://:pw@r/0"',
            {"RESTAUTH_SECRET_KEY": SECRET},
            "holds a password",
        ),
        (
            'kind = "jwt"\nrevocation = "redis"\nrevocation_url = "redis://r/0?password=pw"',
            {"RESTAUTH_SECRET_KEY": SECRET},
            "revocation_url: holds a password",
        ),
    ],
)
def test_jwt_mistakes_name_their_key(
    tmp_path: Path, tokens: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        load_config(write(tmp_path, f"[tokens]\n{tokens}\n"), environ=env)
    assert "pw" not in str(error.value).replace(str(tmp_path), "")


def test_revocation_url_with_a_password_comes_from_the_environment(tmp_path: Path) -> None:
    """Issue 14 item 19: the env-var path keeps working, and the printout masks the secret."""
    text = '[tokens]\nkind = "jwt"\nrevocation = "redis"\nrevocation_url_env = "REVOKED"\n'
    env = {"RESTAUTH_SECRET_KEY": SECRET, "REVOKED": "redis://r/0?password=swordfish"}
    config = load_config(write(tmp_path, text), environ=env)
    assert config.tokens.jwt is not None
    assert config.tokens.jwt.revocation_url == env["REVOKED"]
    assert "swordfish" not in str(config.describe()) + repr(config)


@pytest.mark.parametrize(
    "url",
    [
        "https://reader:hunter2@idp.example/jwks",
        "https://idp.example/jwks?password=hunter2",
        "https://idp.example/jwks?PassWord=hunter2",
    ],
)
def test_a_jwks_url_with_a_password_is_refused(tmp_path: Path, url: str) -> None:
    """Issue 14 item 19: every URL in the file, the provider's key set's too."""
    text = f'[[bearer]]\njwks_url = "{url}"\nissuer = "i"\naudience = "a"\n'
    with pytest.raises(ConfigError, match=r"\[\[bearer\]\] #0 jwks_url: holds a password") as error:
        load_config(write(tmp_path, text), environ={})
    assert "hunter2" not in str(error.value)


def test_unreadable_or_bad_key_files_are_config_errors(tmp_path: Path) -> None:
    path = write(tmp_path, '[tokens]\nkind = "jwt"\nprivate_key_file = "absent.pem"\n')
    with pytest.raises(ConfigError, match="cannot read"):
        from_config(echo_app, path, environ={})
    (tmp_path / "bad.pem").write_text("-----BEGIN PRIVATE KEY-----\nnope\n", encoding="utf-8")
    path = write(tmp_path, '[tokens]\nkind = "jwt"\nprivate_key_file = "bad.pem"\n')
    with pytest.raises(ConfigError, match=r"\[tokens\]"):
        from_config(echo_app, path, environ={})


def test_idp_tokens_from_config_meet_the_acl(
    tmp_path: Path, jwks_server: JWKSServer, rsa_private: rsa.RSAPrivateKey
) -> None:
    """An IdP-signed token's roles (Keycloak's realm_access.roles) are what ACL rules check."""
    idp = IdP(jwks_server, FakeClock(time.time()), rsa_private)
    path = write(
        tmp_path,
        f"""
        [[bearer]]
        jwks_url = "{jwks_server.url}"
        issuer = "{ISSUER}"
        audience = "{AUDIENCE}"
        roles_claim = "realm_access.roles"
        allow_insecure_loopback = true

        [[acl]]
        path = "/articles/**"
        methods = ["GET"]
        roles = ["reader"]

        [[acl]]
        path = "/articles/**"
        methods = ["PUT"]
        roles = ["editor"]
        """,
    )
    client = TestApp(from_config(echo_app, path, environ={}))
    reader = {"Authorization": "Bearer " + idp.token(realm_access={"roles": ["reader"]})}
    response = client.get("/articles/1", headers=reader)
    assert response.json["userid"] == "carol"
    assert response.json["mechanism"] == "jwt"
    client.put("/articles/1", headers=reader, status=403)
    editor = {"Authorization": "Bearer " + idp.token(realm_access={"roles": ["editor"]})}
    client.put("/articles/1", headers=editor, status=200)
    client.get("/articles/1", status=401)
    wrong_audience = {"Authorization": "Bearer " + idp.token(aud="another-api")}
    response = client.get("/articles/1", headers=wrong_audience, status=401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_bearer_rows_are_checked(tmp_path: Path) -> None:
    path = write(tmp_path, '[[bearer]]\njwks_url = "http://idp.example/jwks"\nissuer = "i"\n')
    with pytest.raises(ConfigError, match=r"\[\[bearer\]\] #0 audience: is required"):
        load_config(path, environ={})
    path = write(
        tmp_path,
        '[[bearer]]\njwks_url = "http://idp.example/jwks"\nissuer = "i"\naudience = "a"\n',
    )
    with pytest.raises(ConfigError, match="https"):
        from_config(echo_app, path, environ={})


def test_build_passes_the_session_cap(tmp_path: Path) -> None:
    from restauth.config.jwt import build_jwt_manager
    from restauth.tokens.base import DEFAULT_MAX_SESSIONS

    env = {"RESTAUTH_SECRET_KEY": SECRET}
    spec = load_config(write(tmp_path, '[tokens]\nkind = "jwt"\n'), environ=env).tokens.jwt
    assert spec is not None
    capped = build_jwt_manager(spec, ttl=600, max_lifetime=3600, secret_key=SECRET, max_sessions=3)
    assert capped.max_sessions == 3
    default = build_jwt_manager(spec, ttl=600, max_lifetime=3600, secret_key=SECRET)
    assert default.max_sessions == DEFAULT_MAX_SESSIONS
