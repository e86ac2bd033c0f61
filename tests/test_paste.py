"""PasteDeploy: ``use = egg:restauth`` in an ``.ini`` pipeline, loaded with ``loadapp``."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from paste.deploy import loadapp
from webtest import TestApp

from restauth import AuthMiddleware, ConfigError
from restauth.passwords.hasher import PasswordHasher
from tests.conftest import basic, echo_app

HASH = PasswordHasher(rounds=4).hash("paste-password")


def make_app(global_conf: dict[str, str], **settings: str) -> Callable[..., Iterable[bytes]]:
    """The ``[app:main]`` of the test pipeline."""
    return echo_app


def write_pipeline(tmp_path: Path, *filter_settings: str) -> Path:
    ini = tmp_path / "app.ini"
    (tmp_path / "restauth.toml").write_text(
        textwrap.dedent(
            f"""
            [restauth]
            realm = "paste"
            public = ["/health"]
            [users]
            bcrypt_rounds = 4
            [[users.accounts]]
            userid = "carol"
            password_hash = "{HASH}"
            roles = ["editor"]
            [[acl]]
            path = "/edit/**"
            roles = ["editor"]
            """
        ),
        encoding="utf-8",
    )
    lines = [
        "[app:echo]",
        "use = call:tests.test_paste:make_app",
        "[filter:auth]",
        "use = egg:restauth",
        *filter_settings,
        "[pipeline:main]",
        "pipeline = auth echo",
    ]
    ini.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ini


def test_loadapp_builds_the_configured_pipeline(tmp_path: Path) -> None:
    ini = write_pipeline(tmp_path, "config = %(here)s/restauth.toml")
    app: Any = loadapp(f"config:{ini}")
    assert isinstance(app, AuthMiddleware)
    assert app.realm == "paste"
    client = TestApp(app)
    client.get("/health", status=200)
    client.get("/edit/page", status=401)
    response = client.get("/edit/page", headers={"Authorization": basic("carol", "paste-password")})
    assert response.json["userid"] == "carol"
    assert response.headers["Auth-Token"]


def test_other_settings_belong_in_the_toml_file(tmp_path: Path) -> None:
    ini = write_pipeline(tmp_path, "config = %(here)s/restauth.toml", "realm = nope")
    with pytest.raises(ConfigError, match="put realm in the TOML file"):
        loadapp(f"config:{ini}")


def test_a_broken_config_fails_at_load_time(tmp_path: Path) -> None:
    ini = write_pipeline(tmp_path, "config = %(here)s/missing.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        loadapp(f"config:{ini}")


def test_config_may_come_from_the_default_section(tmp_path: Path) -> None:
    ini = write_pipeline(tmp_path)
    text = ini.read_text(encoding="utf-8")
    ini.write_text("[DEFAULT]\nrestauth_config = %(here)s/restauth.toml\n" + text, "utf-8")
    app: Any = loadapp(f"config:{ini}")
    assert app.realm == "paste"
