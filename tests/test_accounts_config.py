"""``[accounts]`` and ``[password_policy]`` in the configuration file, and the policy on the
command line: every key read, every mistake named, the middleware built from them works."""

from __future__ import annotations

import io
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from webtest import TestApp

from restauth import Accounts, ConfigError, MemoryUserStore, PasswordPolicy, load_config
from restauth.cli import main
from restauth.notify.console import ConsoleNotifier
from restauth.notify.smtp import SMTPNotifier
from tests.conftest import basic, echo_app

KEY = {"RESTAUTH_SECRET_KEY": "k" * 32}
PASSWORD = "a long enough passphrase"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "restauth.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_every_accounts_key_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [restauth]
        require_https = false
        admin_role = "admin"
        [users]
        kind = "sqlite"
        path = "auth.db"
        bcrypt_rounds = 4
        [accounts]
        registration = "verify"
        path = "/accounts"
        default_roles = ["reader"]
        notifier = "console"
        reset_ttl = 600
        verify_ttl = 7200
        requests_per_address = 7
        window = 120
        page_size = 20
        max_page_size = 100
        [accounts.console]
        reset_url = "http://127.0.0.1:8000/#reset={token}"
        verify_url = "http://127.0.0.1:8000/#verify={token}"
        [password_policy]
        min_length = 12
        common = true
        min_score = 2
        """,
    )
    config = load_config(path, environ=KEY)
    middleware = config.middleware(echo_app)
    accounts = middleware.options.accounts
    assert isinstance(accounts, Accounts)
    assert (accounts.registration, accounts.path) == ("verify", "/accounts")
    assert accounts.default_roles == frozenset({"reader"})
    assert (accounts.reset_ttl, accounts.verify_ttl, accounts.window) == (600, 7200, 120)
    assert (accounts.requests_per_address, accounts.page_size, accounts.max_page_size) == (
        7,
        20,
        100,
    )
    assert isinstance(accounts.notifier, ConsoleNotifier)
    assert middleware.users.policy == PasswordPolicy(min_length=12, common=True, min_score=2)
    described = config.describe()
    assert described["accounts"]["registration"] == "verify"
    assert described["password_policy"]["min_length"] == 12
    client = TestApp(middleware)
    short = client.post_json("/accounts", {"username": "a@example.org", "password": "short pass"},
                             status=400)  # fmt: skip
    assert "12" in short.json["detail"]


def test_open_registration_from_a_file_end_to_end(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [restauth]
        require_https = false
        [users]
        kind = "sqlite"
        path = "auth.db"
        bcrypt_rounds = 4
        [accounts]
        registration = "open"
        """,
    )
    client = TestApp(load_config(path, environ=KEY).middleware(echo_app))
    client.post_json("/users", {"username": "alice", "password": PASSWORD}, status=201)
    client.get("/", headers={"Authorization": basic("alice", PASSWORD)}, status=200)
    client.post_json("/users/password-reset", {"username": "alice"}, status=405)  # no notifier


def test_smtp_notifier_from_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [accounts]
        registration = "verify"
        notifier = "smtp"
        [accounts.smtp]
        host = "mail.example.org"
        port = 587
        sender = "accounts@example.org"
        username = "mailer"
        password_env = "SMTP_PASSWORD"
        reset_url = "https://app.example.org/reset#token={token}"
        """,
    )
    config = load_config(path, environ={"SMTP_PASSWORD": "hunter2-smtp"})
    middleware = config.middleware(echo_app)
    notifier = middleware.options.accounts.notifier
    assert isinstance(notifier, SMTPNotifier)
    assert "hunter2-smtp" not in repr(notifier)
    assert "hunter2-smtp" not in repr(config.describe())


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[accounts]\nregistration = "everyone"', "registration"),
        ('[accounts]\nregistration = "verify"', "notifier"),
        ('[accounts]\nnotifer = "smtp"', "notifer"),
        ('[accounts]\nnotifier = "smtp"', "smtp"),
        ('[accounts]\nnotifier = "pigeon"', "notifier"),
        ('[accounts]\npath = "users"', "path"),
        ('[accounts]\npath = "/tokens"', "overlaps"),
        ("[accounts]\nreset_ttl = -1", "reset_ttl"),
        ("[accounts]\npage_size = 0", "page_size"),
        ('[accounts]\n[accounts.smtp]\nhost = "x"', "smtp"),
        ('[accounts]\nnotifier = "smtp"\n[accounts.smtp]\nhost = "m.example"\nsender = "a@b.c"\n'
         'password = "x"', "password"),
        ('[accounts]\nnotifier = "smtp"\n[accounts.smtp]\nhost = "m.example"\n'
         'sender = "a@b.c"\n[accounts.console]\nreset_url = "x{token}"', "console"),
        ('[accounts]\npath = "/us ers"', "path"),
        ('[accounts]\npath = "/users?x=1"', "path"),
        ("[password_policy]\nmin_length = 0", "min_length"),
        ("[password_policy]\nmin_score = 9", "min_score"),
        ("[password_policy]\nlength = 9", "length"),
    ],
)  # fmt: skip
def test_mistakes_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config(write(tmp_path, text), environ=KEY).middleware(echo_app)


def test_accounts_need_a_store_that_keeps_accounts() -> None:
    class Lookup:
        def get(self, userid: str) -> Any:
            return None

    from restauth import AuthMiddleware

    with pytest.raises(ConfigError, match="AccountStore"):
        AuthMiddleware(echo_app, users=Lookup(), accounts=Accounts("open"))


def test_the_command_line_applies_the_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        """
        [users]
        kind = "sqlite"
        path = "auth.db"
        bcrypt_rounds = 4
        [password_policy]
        min_length = 10
        """,
    )
    monkeypatch.setenv("RESTAUTH_CONFIG", str(path))

    def run(argv: list[str], stdin: str) -> int:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return main(argv)

    assert run(["user", "add", "alice", "--password-stdin"], "1q2w3e4r5t\n") == 1
    assert "common" in capsys.readouterr().err
    assert run(["user", "add", "alice", "--password-stdin"], "nine char\n") == 1
    assert "at least 10" in capsys.readouterr().err
    assert run(["user", "add", "alice", "--password-stdin"], "alice in chains\n") == 1
    assert run(["user", "add", "alice", "--password-stdin"], PASSWORD + "\n") == 0
    assert run(["user", "passwd", "alice", "--password-stdin"], "password\n") == 1
    err = capsys.readouterr().err
    assert "password" in err
    assert "Traceback" not in err


def test_the_outbox_runs_off_the_request_thread() -> None:
    """A reset request touches no store on the request's thread: the answer cannot tell a
    known user from an unknown one by the work it did."""
    calls: list[tuple[str, str]] = []

    class Watched(MemoryUserStore):
        def get(self, userid: str) -> Any:
            calls.append((threading.current_thread().name, userid))
            return super().get(userid)

    users = Watched()
    users.add("alice", PASSWORD)
    sent: list[str] = []
    from restauth import AuthMiddleware

    middleware = AuthMiddleware(
        echo_app,
        users=users,
        require_https=False,
        accounts=Accounts("open", notifier=lambda u, p, t: sent.append(u)),
    )
    client = TestApp(middleware)
    for name in ("alice", "nobody"):
        client.post_json("/users/password-reset", {"username": name}, status=202)
    assert middleware.pipeline.endpoints.accounts is not None
    middleware.pipeline.endpoints.accounts.context.outbox.join()
    assert {thread for thread, _ in calls} == {"restauth-outbox"}
    assert [userid for _, userid in calls] == ["alice", "nobody"]
    assert sent == ["alice"]


def test_the_command_line_keeps_emails_and_disables_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        """
        [restauth]
        require_https = false
        [users]
        kind = "sqlite"
        path = "auth.db"
        bcrypt_rounds = 4
        [tokens]
        kind = "sqlite"
        path = "auth.db"
        """,
    )
    monkeypatch.setenv("RESTAUTH_CONFIG", str(path))
    monkeypatch.setenv("RESTAUTH_SECRET_KEY", "k" * 32)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    argv = ["user", "add", "alice", "--email", "alice@example.org", "--password-stdin"]
    assert main(argv) == 0
    middleware = load_config(path, environ={"RESTAUTH_SECRET_KEY": "k" * 32}).middleware(echo_app)
    client = TestApp(middleware)
    token = client.post("/tokens", headers={"Authorization": basic("alice", PASSWORD)}).json[
        "token"
    ]
    assert middleware.users.get("alice").email == "alice@example.org"
    capsys.readouterr()
    assert main(["user", "disable", "alice"]) == 0
    assert "sessions have ended" in capsys.readouterr().out
    client.get("/", headers={"Authorization": f"Bearer {token}"}, status=401)
    client.get("/", headers={"Authorization": basic("alice", PASSWORD)}, status=401)
    assert main(["user", "list"]) == 0
    assert capsys.readouterr().out == "alice\t\t(disabled)\n"
    assert main(["user", "enable", "alice"]) == 0
    client.get("/", headers={"Authorization": basic("alice", PASSWORD)}, status=200)
    assert main(["user", "disable", "nobody"]) == 1
    assert "no such user" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["user", "add", "bob", "--email", "not-an-address", "--password-stdin"]) == 1
    assert "email" in capsys.readouterr().err


def test_hash_password_reads_the_configured_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[password_policy]\nmin_length = 20\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))  # 24 characters
    assert main(["hash-password", "--password-stdin", "--rounds", "4", "--config", str(path)]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("nineteen characters\n"))
    assert main(["hash-password", "--password-stdin", "--rounds", "4", "--config", str(path)]) == 1
    assert "at least 20" in capsys.readouterr().err
    monkeypatch.setenv("RESTAUTH_CONFIG", str(path))
    monkeypatch.setattr(sys, "stdin", io.StringIO("nineteen characters\n"))
    assert main(["hash-password", "--password-stdin", "--rounds", "4"]) == 1
