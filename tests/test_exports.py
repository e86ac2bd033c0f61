"""Every name the README and the docs import from ``restauth`` is there (issue 16 item 15).

Names whose module needs an extra (PyJWT, redis, psycopg) are imported on first use, so
``import restauth`` works without the extras; a missing extra names the pip command.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import restauth

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "SECURITY.md"]
IMPORT = re.compile(r"from restauth import (?:\(([\w\s,]+)\)|([\w ,]+))")
DOTTED = re.compile(r"(?<![\w.])restauth\.([A-Z]\w+)")


def documented_names() -> set[str]:
    names: set[str] = set()
    for document in DOCUMENTS:
        text = document.read_text(encoding="utf-8")
        for parenthesised, one_line in IMPORT.findall(text):
            group = parenthesised or one_line
            names |= {name.strip() for name in group.split(",") if name.strip()}
        names |= set(DOTTED.findall(text))
    return names


def test_the_documents_name_some_imports() -> None:
    assert {"AuthMiddleware", "SQLiteUserStore"} <= documented_names()  # the scan works


@pytest.mark.parametrize("name", sorted(documented_names()))
def test_every_documented_name_is_importable(name: str) -> None:
    assert getattr(restauth, name) is not None


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("Throttle", "restauth.throttle.policy"),
        ("ThrottlePolicy", "restauth.throttle.policy"),
        ("CookieMode", "restauth.wire.cookies"),
        ("RedisTokenManager", "restauth.tokens.redis"),
        ("PostgresUserStore", "restauth.users.postgres"),
        ("PostgresTokenManager", "restauth.tokens.postgres"),
    ],
)
def test_names_from_submodules_are_exported(name: str, module: str) -> None:
    exported = getattr(restauth, name)
    assert exported.__module__ == module
    assert name in dir(restauth)


def test_the_optional_stores_are_imported_lazily() -> None:
    script = (
        "import sys, restauth\n"
        "heavy = ('redis', 'psycopg', 'psycopg_pool', 'jwt')\n"
        "assert not [m for m in heavy if m in sys.modules], sys.modules.keys()\n"
        "from restauth import RedisTokenManager, PostgresUserStore, PostgresTokenManager\n"
        "assert 'redis' in sys.modules and 'psycopg' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)


def test_a_missing_extra_names_the_pip_command() -> None:
    script = (
        "import sys\n"
        "sys.modules['psycopg'] = None  # as if the postgres extra were not installed\n"
        "for name in ('PostgresUserStore', 'PostgresTokenManager'):\n"
        "    try:\n"
        "        exec(f'from restauth import {name}')\n"
        "    except ImportError as error:\n"
        "        print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.count("pip install 'restauth[postgres]'") == 2


def test_star_import_has_no_optional_names() -> None:
    namespace: dict[str, object] = {}
    exec("from restauth import *", namespace)  # noqa: S102 - a fixed string
    assert {"Throttle", "ThrottlePolicy", "CookieMode"} <= namespace.keys()
    assert "RedisTokenManager" not in namespace  # would need the extra
    assert "PostgresTokenManager" not in namespace
