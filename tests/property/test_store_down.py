"""With a store made to fail, hostile requests get 503 at worst, and never get in.

The user store, the token store or the throttle's counters raise on every call (as
:class:`restauth.StoreUnavailable`, or as an unexpected error); a 5xx is then allowed
only as 503 with ``Retry-After``, and no identity ever reaches the application.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore, PasswordHasher
from restauth.errors import StoreUnavailable
from restauth.throttle.policy import MemoryThrottleStore, Throttle

from .conftest import Calls, Records, Target
from .strategies import PUBLIC, USERS, HostileRequest, requests
from .test_hostile_requests import anonymous_may_pass, call, check_headers, check_secrets


class Switch:
    """Which stores are down right now, and how they fail."""

    down: frozenset[str] = frozenset()
    error: type[Exception] = StoreUnavailable

    def guard(self, store: str) -> None:
        if store in self.down:
            raise self.error(f"{store} is down")


class Failing:
    """Wraps a store; every method raises while the switch says the store is down."""

    def __init__(self, inner: Any, name: str, switch: Switch) -> None:
        self._inner, self._name, self._switch = inner, name, switch

    def __getattr__(self, attribute: str) -> Any:
        value = getattr(self._inner, attribute)
        if not callable(value):
            return value

        def guarded(*args: Any, **kwargs: Any) -> Any:
            self._switch.guard(self._name)
            return value(*args, **kwargs)

        return guarded


@pytest.fixture(scope="module")
def failing() -> tuple[Target, Switch]:
    switch = Switch()
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    for userid, password in USERS.items():
        users.add(userid, password)
    inner_tokens = MemoryTokenManager()
    tokens = Failing(inner_tokens, "tokens", switch)
    tokens.ttl, tokens.max_lifetime = inner_tokens.ttl, inner_tokens.max_lifetime
    throttle = Throttle(store=Failing(MemoryThrottleStore(), "throttle", switch))  # type: ignore[arg-type]
    calls = Calls()
    middleware = AuthMiddleware(
        calls.app,
        users=Failing(users, "users", switch),
        tokens=tokens,
        public=PUBLIC,
        throttle=throttle,
    )
    target = Target("failing", middleware, calls, users, inner_tokens)
    target.refresh()
    return target, switch


@given(
    data=st.data(),
    down=st.sets(st.sampled_from(["users", "tokens", "throttle"]), min_size=1),
    error=st.sampled_from([StoreUnavailable, RuntimeError, OSError, ValueError]),
)
def test_a_failing_store_is_503_and_never_lets_anyone_in(
    failing: tuple[Target, Switch],
    log_records: Records,
    data: st.DataObject,
    down: set[str],
    error: type[Exception],
) -> None:
    target, switch = failing
    switch.down = frozenset()
    target.refresh()
    request = data.draw(requests(target.world), label="request")
    switch.down, switch.error = frozenset(down), error
    try:
        before = len(log_records.texts)
        response, identity, called = call(target, request)
    finally:
        switch.down = frozenset()
    status, headers, _ = response
    code = int(status[:3])
    assert code < 500 or code == 503, status
    check_headers(headers)
    if code == 503:
        assert any(name == "Retry-After" for name, _ in headers)
    assert identity is None, identity
    if called:
        assert anonymous_may_pass(request), request
    elif not is_preflight(request):  # a preflight's 204 (with Allow) grants nothing
        assert not 200 <= code < 300, status
    check_secrets(target, request, response, log_records.texts[before:])


def is_preflight(request: HostileRequest) -> bool:
    """A CORS preflight, answered without asking any store (issue 18)."""
    names = {name.lower() for name in request.headers}
    return request.method == "OPTIONS" and "access-control-request-method" in names
