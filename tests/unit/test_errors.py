"""One exception root: every exception class restauth defines is a RestauthError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import restauth
from restauth import (
    ConfigError,
    MissingSecretKey,
    RestauthError,
    StoreUnavailable,
    UnknownUser,
    UserExists,
)
from restauth.errors import UsageError

# Running these starts something (``python -m restauth.demo``); they define nothing.
SKIPPED = {"restauth.demo.__main__"}


def all_modules() -> list[ModuleType]:
    modules = [restauth]
    for info in pkgutil.walk_packages(restauth.__path__, "restauth."):
        if info.name not in SKIPPED:
            modules.append(importlib.import_module(info.name))
    return modules


def exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class whose home is a restauth module, by qualified name."""
    found: dict[str, type[BaseException]] = {}
    for module in all_modules():
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__.startswith("restauth"):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_the_walk_sees_the_whole_package() -> None:
    names = {module.__name__ for module in all_modules()}
    assert {"restauth.cli", "restauth.users.postgres", "restauth.tokens.jwt"} <= names
    assert len(names) > 40


def test_every_exception_is_a_restauth_error() -> None:
    found = exception_classes()
    assert len(found) >= 7  # the root and the six below it, at least
    strays = sorted(name for name, cls in found.items() if not issubclass(cls, RestauthError))
    assert strays == []


def test_every_exception_lives_in_errors() -> None:
    """One module is the hierarchy (itsdangerous's exc.py); the others re-export."""
    assert {cls.__module__ for cls in exception_classes().values()} == {"restauth.errors"}


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (ConfigError, ValueError),
        (MissingSecretKey, ValueError),
        (UserExists, ValueError),
        (UnknownUser, KeyError),
        (StoreUnavailable, Exception),
        (UsageError, Exception),
    ],
)
def test_old_except_clauses_still_catch(cls: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(cls, RestauthError)
    with pytest.raises(builtin):
        raise cls("x")


def test_old_import_paths_still_work() -> None:
    from restauth.cli import UsageError as cli_usage_error
    from restauth.config import ConfigError as config_error
    from restauth.config.loader import ConfigError as loader_config_error
    from restauth.config.schema import ConfigError as schema_config_error
    from restauth.tokens import MissingSecretKey as tokens_missing_key
    from restauth.tokens.base import MissingSecretKey as base_missing_key
    from restauth.users import UserExists as users_user_exists
    from restauth.users.sql import UserExists as sql_user_exists

    assert config_error is loader_config_error is schema_config_error is ConfigError
    assert tokens_missing_key is base_missing_key is MissingSecretKey
    assert users_user_exists is sql_user_exists is UserExists
    assert cli_usage_error is UsageError
