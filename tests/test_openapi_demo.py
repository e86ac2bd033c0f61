"""A bounded schemathesis run against the demo itself (``restauth.demo``'s own app, its
SQLite stores and seeded users): no 5xx, and every answer of restauth's endpoints as the
document ``restauth openapi`` prints for the demo's settings describes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from restauth.demo.server import build_app, seed
from restauth.openapi import openapi
from restauth.passwords.hasher import PasswordHasher
from restauth.tokens.sqlite import SQLiteTokenManager
from restauth.users.sqlite import SQLiteUserStore
from tests.conftest import basic

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_schemathesis_against_the_demo(tmp_path: Path) -> None:
    database = tmp_path / "restauth-demo.db"
    users = SQLiteUserStore(database, hasher=PasswordHasher(rounds=4))  # the demo's, faster
    tokens = SQLiteTokenManager(database, 900, secret_key="demo-key-" + "k" * 32)
    passwords = seed(users)
    app = build_app(users, tokens=tokens)
    schema = schemathesis.openapi.from_dict(openapi(app.options))
    callers = [{}, *({"Authorization": basic(u, p)} for u, p in passwords.items())]
    failures: list[str] = []
    runs = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=15,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(
                case=operation.as_strategy(generation_mode=mode), caller=st.sampled_from(callers)
            )
            def run(case: Any, caller: dict[str, str]) -> None:
                nonlocal runs
                runs += 1
                response = case.call(app=app, headers=caller)
                try:
                    case.validate_response(response, checks=CHECKS, headers=caller)
                except Exception as error:
                    failures.append(f"{case.operation.label}: {error}")

            run()
    users.close()
    tokens.close()
    assert not failures, "\n\n".join(failures[:5])
    assert runs > 600
