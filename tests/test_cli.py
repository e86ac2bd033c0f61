"""The ``restauth`` command against real stores from a configuration file."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path

import pytest

from restauth import PasswordHasher, load_config
from restauth.cli import main
from restauth.tokens.base import TokenGrant
from tests.servers import environment, free_port, request, running

KEY = "k" * 32
GOOD = "horse battery\n"  # a password the policy accepts: the mistake is elsewhere


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "restauth.toml"
    path.write_text(
        "[restauth]\nrequire_https = false\n"
        "[users]\nkind = 'sqlite'\npath = 'auth.db'\nbcrypt_rounds = 4\n"
        "[tokens]\nkind = 'sqlite'\npath = 'auth.db'\n"
        "[[acl]]\npath = '/admin/**'\nroles = ['admin']\n"
        "[[acl]]\npath = '/**'\nroles = ['$authenticated']\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("RESTAUTH_SECRET_KEY", KEY)
    monkeypatch.setenv("RESTAUTH_CONFIG", str(path))
    return path


def run(
    argv: list[str], capsys: pytest.CaptureFixture[str], stdin: str = ""
) -> tuple[int, str, str]:
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(argv)
    finally:
        sys.stdin = sys.__stdin__
    out, err = capsys.readouterr()
    return code, out, err


def test_user_lifecycle(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["user", "add", "alice", "--role", "admin", "--password-stdin"], capsys, "key-wonder-1\n"
    )
    assert (code, out.strip()) == (0, "added alice with roles admin")
    assert run(["user", "add", "bob", "--password-stdin"], capsys, "key-builder-1\n")[0] == 0
    users = load_config(config).build_users()
    alice = users.get("alice")
    assert alice is not None
    assert PasswordHasher(rounds=4).verify("key-wonder-1", alice.password_hash)

    code, out, _ = run(["user", "list"], capsys)
    assert out.splitlines() == ["alice\tadmin", "bob\t"]

    assert run(["user", "roles", "bob", "--set", "user, editor"], capsys)[1].strip() == (
        "editor, user"
    )
    assert run(["user", "roles", "bob"], capsys)[1].strip() == "editor, user"

    code, out, _ = run(["user", "passwd", "alice", "--password-stdin"], capsys, "key-wonder-2\n")
    assert code == 0
    alice = users.get("alice")
    assert alice is not None
    assert PasswordHasher(rounds=4).verify("key-wonder-2", alice.password_hash)

    assert run(["user", "remove", "bob"], capsys)[0] == 0
    assert users.get("bob") is None


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["user", "add", "alice", "--password-stdin"], "again and again\n", "already exists"),
        (["user", "add", "bad:name", "--password-stdin"], GOOD, "must not contain ':'"),
        (["user", "add", "carol", "--password-stdin"], "\n", "empty password"),
        (["user", "add", "carol", "--password-stdin"], "tab\tpassphrase\n", "control characters"),
        (["user", "passwd", "nobody", "--password-stdin"], GOOD, "no such user: 'nobody'"),
        (["user", "remove", "nobody"], "", "no such user"),
        (["user", "roles", "nobody"], "", "no such user"),
        (["user", "roles", "alice", "--set", "a b"], "", "invalid role"),
    ],
)
def test_user_mistakes_are_one_line(
    config: Path, capsys: pytest.CaptureFixture[str], argv: list[str], stdin: str, message: str
) -> None:
    run(["user", "add", "alice", "--password-stdin"], capsys, "key-wonder-1\n")
    code, _, err = run(argv, capsys, stdin)
    assert code == 1
    assert err.startswith("restauth: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


def test_password_is_asked_twice_and_never_taken_from_argv(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = iter(["first-pw", "second-pw"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr("restauth.cli._has_terminal", lambda: True)
    code, _, err = run(["user", "add", "dave"], capsys)
    assert (code, err.strip()) == (1, "restauth: passwords do not match")
    with pytest.raises(SystemExit):
        main(["user", "add", "dave", "--password", "x"])


def test_token_list_and_revoke(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(["user", "add", "alice", "--password-stdin"], capsys, "key-wonder-1\n")
    run(["user", "add", "bob", "--password-stdin"], capsys, "key-builder-12\n")
    loaded = load_config(config)
    users, tokens = loaded.build_users(), loaded.build_tokens()
    assert tokens is not None
    alice, bob = users.get("alice"), users.get("bob")
    assert alice is not None
    assert bob is not None
    laptop = tokens.issue("alice", alice.stamp, client="laptop\x1b[2J")
    phone = tokens.issue("alice", alice.stamp, client="phone")
    other = tokens.issue("bob", bob.stamp)

    code, out, _ = run(["token", "list"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert [line.split("\t")[:3] for line in lines] == [
        ["alice", laptop.session, "login"],
        ["alice", phone.session, "login"],
        ["bob", other.session, "login"],
    ]
    assert lines[0].endswith("\tlaptop[2J")  # no escape sequence reaches the terminal
    for grant in (laptop, phone, other):
        assert grant.token not in out
        assert grant.token.partition(".")[0] not in out
    assert run(["token", "list", "bob"], capsys)[1].splitlines() == [lines[2]]

    ended = run(["token", "revoke", "alice", laptop.session], capsys)[1].strip()
    assert ended == f"ended session {laptop.session} of alice"
    assert not isinstance(tokens.authenticate(laptop.token), TokenGrant)
    assert isinstance(tokens.authenticate(phone.token), TokenGrant)
    code, _, err = run(["token", "revoke", "alice", laptop.session], capsys)
    assert code != 0
    assert "no live session" in err
    assert run(["token", "revoke", "alice"], capsys)[1].strip() == "ended 1 session of alice"
    assert not isinstance(tokens.authenticate(phone.token), TokenGrant)
    assert run(["token", "revoke", "alice"], capsys)[1].strip() == "ended 0 sessions of alice"
    assert isinstance(tokens.authenticate(other.token), TokenGrant)


def test_token_create_prints_a_service_token_once(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["user", "add", "ci-bot", "--password-stdin"], capsys, "key-robot-1\n")
    code, out, err = run(["token", "create", "ci-bot", "--label", "ci", "--ttl", "30d"], capsys)
    assert code == 0
    token = out.strip()
    assert "shown only now" in err
    assert token not in err
    loaded = load_config(config)
    tokens = loaded.build_tokens()
    assert tokens is not None
    grant = tokens.authenticate(token)
    assert isinstance(grant, TokenGrant)
    assert grant.valid_until == pytest.approx(grant.created + 30 * 86400, abs=5)
    (session,) = tokens.sessions("ci-bot")
    assert (session.kind, session.client, session.id) == ("service", "ci", grant.session)
    listed = run(["token", "list"], capsys)[1]
    assert "\tservice\t" in listed
    assert token not in listed
    run(["user", "passwd", "ci-bot", "--password-stdin"], capsys, "key-robot-2\n")
    assert run(["token", "list"], capsys)[1] == ""  # a password change ends it too


@pytest.mark.parametrize("ttl", ["0", "-1d", "soon", "11y", "4000d"])
def test_token_create_refuses_a_bad_ttl(
    config: Path, capsys: pytest.CaptureFixture[str], ttl: str
) -> None:
    run(["user", "add", "ci-bot", "--password-stdin"], capsys, "key-robot-1\n")
    code, out, err = run(["token", "create", "ci-bot", f"--ttl={ttl}"], capsys)
    assert code != 0
    assert out == ""
    assert "--ttl" in err


def test_token_commands_refuse_jwt_sessions_held_in_server_memory(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(["user", "add", "alice", "--password-stdin"], capsys, "key-wonder-1\n")
    text = config.read_text(encoding="utf-8").replace(
        "[tokens]\nkind = 'sqlite'\npath = 'auth.db'\n", "[tokens]\nkind = 'jwt'\n"
    )
    config.write_text(text, encoding="utf-8")
    for argv in (["token", "list"], ["token", "revoke", "alice"], ["token", "create", "alice"]):
        code, out, err = run(argv, capsys)
        assert code != 0
        assert out == ""
        assert 'revocation = "memory"' in err
    sqlite = text.replace("kind = 'jwt'\n", "kind = 'jwt'\nrevocation = 'sqlite'\n"
                          "revocation_path = 'revoked.db'\n")  # fmt: skip
    config.write_text(sqlite, encoding="utf-8")
    code, out, _ = run(["token", "create", "alice", "--label", "ci"], capsys)
    assert code == 0
    listed = run(["token", "list"], capsys)[1]
    assert "\tservice\t" in listed
    assert out.strip() not in listed
    assert run(["token", "revoke", "alice"], capsys)[1].strip() == "ended 1 session of alice"


def test_token_create_for_an_unknown_user(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["token", "create", "nobody"], capsys)
    assert code != 0
    assert out == ""
    assert "no such user" in err


def test_a_store_that_fails_on_first_use_is_one_line(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Building a store reads nothing (issue 16 item 1): a locked file or a schema from a
    newer restauth surfaces on the command's first store call, still as one line."""
    import sqlite3

    assert run(["user", "add", "alice", "--password-stdin"], capsys, "key-wonder-1\n")[0] == 0
    database = config.parent / "auth.db"
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE restauth_schema SET version = 99 WHERE component = 'users'")
    code, out, err = run(["user", "list"], capsys)
    assert (code, out) == (1, "")
    assert err.startswith("restauth: store unavailable: ")
    assert "schema version 99" in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_memory_stores_cannot_be_managed_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "memory.toml"
    path.write_text("", encoding="utf-8")
    code, _, err = run(["user", "list", "--config", str(path)], capsys)
    assert code == 1
    assert "[[users.accounts]]" in err
    code, _, err = run(["token", "list", "--config", str(path)], capsys)
    assert code == 1
    assert "inside the server process" in err


def test_check_config_prints_settings_with_secrets_masked(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["check-config", str(config)], capsys)
    assert code == 0
    settings = json.loads(out)
    assert settings["users"]["kind"] == "sqlite"
    assert settings["acl"][0]["path"] == "/admin/**"
    assert KEY not in out
    assert "********" in settings["tokens"]["secret_key"]


def test_check_config_errors_name_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[tokens]\nttl = 'soon'\n", encoding="utf-8")
    code, _, err = run(["check-config", str(path)], capsys)
    assert code == 1
    assert err.strip() == f"restauth: {path}: [tokens] ttl: expected a number, got a string"


def test_no_configuration_at_all(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RESTAUTH_CONFIG", raising=False)
    code, _, err = run(["user", "list"], capsys)
    assert code == 1
    assert "RESTAUTH_CONFIG is not set" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["user", "--help"],
        ["user", "add", "--help"],
        ["token", "revoke", "--help"],
        ["serve", "--help"],
        ["check-config", "--help"],
        ["demo", "--help"],
    ],
)
def test_help_everywhere(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "usage: restauth" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nomodule", "expected MODULE:CALLABLE"),
        ("no_such_module_x:app", "cannot import"),
        ("json:nothing", "has no nothing"),
        ("json:__doc__", "is not callable"),
    ],
)
def test_serve_refuses_a_bad_app(
    config: Path, capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    code, _, err = run(["serve", "--app", spec], capsys)
    assert code == 1
    assert message in err


@pytest.fixture
def server(config: Path) -> Iterator[int]:
    main_args = ["user", "add", "alice", "--role", "admin", "--password-stdin"]
    subprocess.run(
        [sys.executable, "-m", "restauth.cli", *main_args],
        input="key-wonder-1\n",
        text=True,
        check=True,
        env=os.environ.copy(),
    )
    port = free_port()
    argv = [sys.executable, "-m", "restauth.cli", "serve", "--port", str(port)]
    argv += ["--app", "restauth.serve:whoami"]
    with running(argv, cwd=config.parent, port=port, env=environment()):
        yield port


def test_serve_runs_the_app_behind_the_middleware(server: int) -> None:
    assert request(server, "GET", "/admin/x").status == 401
    credentials = b64encode(b"alice:key-wonder-1").decode()
    response = request(server, "GET", "/admin/x", {"Authorization": f"Basic {credentials}"})
    assert response.status == 200
    assert response.json()["userid"] == "alice"
    assert response.headers["Auth-Token"]
    assert response.headers["Server"] == "restauth"  # waitress ident=, not wsgiref


def test_serve_falls_back_to_threaded_wsgiref_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socketserver

    from restauth import serve

    served: list[object] = []

    class FakeServer:
        server_port = 1234

        def __enter__(self) -> FakeServer:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def serve_forever(self) -> None:
            served.append(self)

    def fake_make_server(host: str, port: int, app: object, server_class: type) -> FakeServer:
        assert issubclass(server_class, socketserver.ThreadingMixIn)
        assert app is serve.whoami
        return FakeServer()

    monkeypatch.setitem(sys.modules, "waitress", None)  # import waitress -> ImportError
    monkeypatch.setattr(serve, "make_server", fake_make_server)
    serve.run(serve.whoami, host="127.0.0.1", port=0)
    assert len(served) == 1
    captured = capsys.readouterr()
    assert "not meant for production" in captured.err
    assert "serving on http://127.0.0.1:1234" in captured.out
