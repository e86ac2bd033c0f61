"""``restauth --version`` and ``restauth hash-password``."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

import restauth
from restauth import PasswordHasher
from restauth.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"restauth {restauth.__version__}"


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 1
    assert "usage: restauth" in capsys.readouterr().out


def test_hash_password_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse\n"))
    assert main(["hash-password", "--password-stdin", "--rounds", "4"]) == 0
    hashed = capsys.readouterr().out.strip()
    assert PasswordHasher(rounds=4).verify("correct horse", hashed)
    assert "correct horse" not in hashed
    assert hashed.startswith("$restauth-bcrypt-sha256$v2$$2b$04$")


def test_hash_password_argon2id(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse\n"))
    assert main(["hash-password", "--password-stdin", "--scheme", "argon2id"]) == 0
    hashed = capsys.readouterr().out.strip()
    assert hashed.startswith("$argon2id$")
    assert PasswordHasher().verify("correct horse", hashed)  # any scheme verifies it


def test_hash_password_with_getpass_twice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter(["one", "two"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr("restauth.cli._has_terminal", lambda: True)
    assert main(["hash-password", "--rounds", "4"]) == 1
    assert capsys.readouterr().err.strip() == "restauth: passwords do not match"


def test_hash_password_refuses_control_characters(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("tab\there\n"))
    assert main(["hash-password", "--password-stdin", "--rounds", "4"]) == 1
    assert "control characters" in capsys.readouterr().err


def test_console_script_runs_as_a_subprocess() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "restauth.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == f"restauth {restauth.__version__}"


def test_hash_password_applies_the_password_policy(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for weak, reason in (("short", "at least 8"), ("iloveyou12", "common")):
        monkeypatch.setattr(sys, "stdin", io.StringIO(weak + "\n"))
        assert main(["hash-password", "--password-stdin", "--rounds", "4"]) == 1
        captured = capsys.readouterr()
        assert reason in captured.err
        assert captured.out == ""
