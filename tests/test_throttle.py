"""Brute-force throttling: counted per userid and address, backoff, no permanent lockout."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from webtest import TestApp

from restauth import MemoryTokenManager, MemoryUserStore
from restauth.errors import StoreUnavailable
from restauth.throttle.policy import MemoryThrottleStore, Rule, Throttle, ThrottlePolicy

from .adapters import AuthMiddleware
from .conftest import ALICE_PASSWORD, FakeClock, basic, echo_app

pytestmark = pytest.mark.usefixtures("adapter")  # every test: WSGI and ASGI adapters


@pytest.fixture
def throttle(clock: FakeClock) -> Throttle:
    return Throttle(clock=clock)


@pytest.fixture
def client(users: MemoryUserStore, tokens: MemoryTokenManager, throttle: Throttle) -> TestApp:
    return TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens, throttle=throttle))


def fail(client: TestApp, userid: str = "alice", address: str = "192.0.2.1") -> int:
    env = {"REMOTE_ADDR": address}
    response = client.get(
        "/",
        headers={"Authorization": basic(userid, "wrong")},
        extra_environ=env,
        expect_errors=True,
    )
    return int(response.status_int)


def test_backoff_after_the_threshold_even_for_the_right_password(
    client: TestApp, clock: FakeClock
) -> None:
    assert [fail(client) for _ in range(5)] == [401] * 5
    right = {"Authorization": basic("alice", ALICE_PASSWORD)}
    response = client.get(
        "/", headers=right, extra_environ={"REMOTE_ADDR": "192.0.2.1"}, status=429
    )
    assert response.headers["Retry-After"] == "1"
    assert response.content_type == "application/problem+json"
    assert "WWW-Authenticate" not in response.headers
    clock.advance(1.01)
    assert client.get("/", headers=right).json["userid"] == "alice"  # success resets
    assert fail(client) == 401


def test_delay_doubles_and_is_capped_per_user(client: TestApp, clock: FakeClock) -> None:
    for _ in range(5):
        fail(client)
    delays = []
    for _ in range(9):
        clock.advance(120)  # past any delay: one more failure each time
        assert fail(client, address=f"198.51.100.{_}") == 401
        response = client.get(
            "/",
            headers={"Authorization": basic("alice", "x")},
            status=429,
            extra_environ={"REMOTE_ADDR": "203.0.113.9"},
        )
        delays.append(int(response.headers["Retry-After"]))
    assert delays == [2, 4, 8, 16, 32, 60, 60, 60, 60]


def test_counter_is_forgotten_after_a_quiet_window(client: TestApp, clock: FakeClock) -> None:
    for _ in range(5):
        fail(client)
    clock.advance(901)
    assert fail(client) == 401


def test_unknown_user_is_throttled_exactly_like_a_known_one(client: TestApp) -> None:
    known = [fail(client, "alice", f"192.0.2.{i}") for i in range(7)]
    unknown = [fail(client, "nobody", f"192.0.2.{i}") for i in range(7)]
    assert known == unknown == [401] * 5 + [429] * 2


def test_throttled_attempt_costs_no_bcrypt(
    client: TestApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(5):
        fail(client)
    calls = []
    monkeypatch.setattr(
        "restauth.passwords.hasher.bcrypt.checkpw", lambda *a: calls.append(a) or False
    )
    assert fail(client) == 429
    assert calls == []


def test_per_address_counter_covers_many_userids(client: TestApp) -> None:
    statuses = [fail(client, f"user{i}", "192.0.2.50") for i in range(21)]
    assert statuses == [401] * 20 + [429]
    assert fail(client, "user99", "192.0.2.51") == 401  # another address is not affected


def test_refused_tokens_are_never_counted(
    client: TestApp, tokens: MemoryTokenManager, users: MemoryUserStore
) -> None:
    """Issue 16 item 2: a stale client replaying a logged-out token from one address must
    not lock out the valid tokens and the logins that share the address."""
    env = {"REMOTE_ADDR": "192.0.2.77"}
    token = tokens.issue("alice", users.get("alice").stamp).token  # type: ignore[union-attr]
    tokens.revoke("alice")  # logged out: the token is stale
    for _ in range(100):
        client.get("/", headers={"Authorization": f"Token {token}"}, extra_environ=env, status=401)
        client.get("/", headers={"Authorization": "Bearer abc.def"}, extra_environ=env, status=401)
    live = tokens.issue("alice", users.get("alice").stamp).token  # type: ignore[union-attr]
    client.get("/", headers={"Authorization": f"Token {live}"}, extra_environ=env, status=200)
    right = {"Authorization": basic("alice", ALICE_PASSWORD)}
    client.get("/", headers=right, extra_environ=env, status=200)
    assert fail(client, "bob", "192.0.2.77") == 401  # the address has no count at all


def test_a_valid_token_is_never_refused_by_the_address_throttle(
    client: TestApp, tokens: MemoryTokenManager, users: MemoryUserStore
) -> None:
    address = "192.0.2.78"
    assert [fail(client, f"user{i}", address) for i in range(21)] == [401] * 20 + [429]
    token = tokens.issue("alice", users.get("alice").stamp).token  # type: ignore[union-attr]
    env = {"REMOTE_ADDR": address}
    for header in (f"Token {token}", f"Bearer {token}", basic("alice", token)):
        client.get("/", headers={"Authorization": header}, extra_environ=env, status=200)
    assert fail(client, "carol", address) == 429  # passwords from there still wait


def test_login_endpoint_is_throttled(client: TestApp) -> None:
    for _ in range(5):
        client.post_json("/tokens", {"username": "alice", "password": "x"}, status=401)
    response = client.post_json(
        "/tokens", {"username": "alice", "password": ALICE_PASSWORD}, status=429
    )
    assert int(response.headers["Retry-After"]) >= 1


def test_userid_is_canonicalised_before_counting(client: TestApp) -> None:
    for _ in range(5):
        fail(client, "jos\u00e9")
    assert fail(client, "jose\u0301") == 429  # the same userid after NFC


def test_token_as_password_failures_count_for_the_userid(client: TestApp) -> None:
    for _ in range(5):
        client.get("/", headers={"Authorization": basic("alice", "abc.def")}, status=401)
    client.get("/", headers={"Authorization": basic("alice", "abc.def")}, status=429)


def test_forwarded_for_counts_only_behind_a_trusted_proxy(
    users: MemoryUserStore, throttle: Throttle
) -> None:
    app = AuthMiddleware(echo_app, users=users, throttle=throttle, trusted_proxies=["10.0.0.0/8"])
    client = TestApp(app)

    def attempt(peer: str, forwarded: str) -> int:
        return int(
            client.get(
                "/",
                headers={
                    "Authorization": basic(f"u{forwarded}{peer}", "x"),
                    "X-Forwarded-For": forwarded,
                },
                extra_environ={"REMOTE_ADDR": peer},
                expect_errors=True,
            ).status_int
        )

    # Behind the trusted proxy each forwarded client has its own counter ...
    assert [attempt("10.0.0.1", f"192.0.2.{i}") for i in range(25)] == [401] * 25
    # ... while a direct client cannot escape its counter by inventing X-Forwarded-For.
    statuses = [attempt("198.51.100.7", f"192.0.2.{i}") for i in range(21)]
    assert statuses == [401] * 20 + [429]


def forwarding_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "trusted_proxies" in r.getMessage()]


def test_one_warning_when_an_untrusted_peer_forwards_for_its_clients(
    users: MemoryUserStore, throttle: Throttle, caplog: pytest.LogCaptureFixture
) -> None:
    """All traffic from a proxy left out of trusted_proxies shares the proxy's counter:
    say so once, naming the peer and the setting (issue 16 item 2)."""
    client = TestApp(AuthMiddleware(echo_app, users=users, throttle=throttle))
    wrong = {"Authorization": basic("alice", "x")}

    def through_proxy(forwarded_for: str, headers: dict[str, str]) -> None:
        environ = {"REMOTE_ADDR": "10.9.8.7", "HTTP_X_FORWARDED_FOR": forwarded_for}
        client.get("/", headers=headers, extra_environ=environ, status=401)

    with caplog.at_level(logging.WARNING, logger="restauth"):
        for number in range(5):
            through_proxy(f"192.0.2.{number}", {"Authorization": "Token abc.def"})
        assert forwarding_warnings(caplog) == []  # tokens are not counted: nothing to say
        through_proxy("192.0.2.1", wrong)
        through_proxy("192.0.2.2", {"Authorization": basic("bob", "x")})
        assert forwarding_warnings(caplog) == []  # two clients: not yet a proxy
        for number in range(3, 9):
            through_proxy(f"192.0.2.{number}", {"Authorization": basic(f"u{number}", "x")})
    (warning,) = forwarding_warnings(caplog)
    assert "10.9.8.7" in warning
    assert "192.0.2" not in warning  # the forwarded values are the client's: never echoed


def test_a_client_forging_forwarded_for_cannot_use_up_the_warning(
    users: MemoryUserStore, throttle: Throttle, caplog: pytest.LogCaptureFixture
) -> None:
    client = TestApp(AuthMiddleware(echo_app, users=users, throttle=throttle))
    with caplog.at_level(logging.WARNING, logger="restauth"):
        forged = {"REMOTE_ADDR": "198.51.100.9", "HTTP_X_FORWARDED_FOR": "203.0.113.1"}
        for number in range(10):  # one client, one forged value: no proxy, no warning
            attempt = {"Authorization": basic(f"u{number}", "x")}
            client.get("/", headers=attempt, extra_environ=forged, status=401)
        assert forwarding_warnings(caplog) == []
        for number in range(3):  # the real proxy, met afterwards, is still named
            proxied = {"REMOTE_ADDR": "10.9.8.7", "HTTP_X_FORWARDED_FOR": f"192.0.2.{number}"}
            attempt = {"Authorization": basic(f"v{number}", "x")}
            client.get("/", headers=attempt, extra_environ=proxied, status=401)
    (warning,) = forwarding_warnings(caplog)
    assert "10.9.8.7" in warning


def test_no_forwarding_warning_for_a_trusted_proxy_or_a_direct_client(
    users: MemoryUserStore, throttle: Throttle, caplog: pytest.LogCaptureFixture
) -> None:
    app = AuthMiddleware(echo_app, users=users, throttle=throttle, trusted_proxies=["10.0.0.0/8"])
    client = TestApp(app)
    with caplog.at_level(logging.WARNING, logger="restauth"):
        trusted = {"REMOTE_ADDR": "10.9.8.7", "HTTP_X_FORWARDED_FOR": "192.0.2.1"}
        client.get(
            "/", headers={"Authorization": basic("alice", "x")}, extra_environ=trusted, status=401
        )
        client.get("/", headers={"Authorization": basic("alice", "x")}, status=401)
    assert "trusted_proxies" not in caplog.text


def test_throttle_can_be_turned_off(users: MemoryUserStore) -> None:
    client = TestApp(AuthMiddleware(echo_app, users=users, throttle=None))
    for _ in range(30):
        client.get("/", headers={"Authorization": basic("alice", "x")}, status=401)


def test_memory_store_is_bounded() -> None:
    store = MemoryThrottleStore(max_entries=100)
    policy = ThrottlePolicy()
    for i in range(1000):
        store.admit([Rule(f"u:{i}", 5, 60)], 0.0, policy)
    assert len(store.get_many([f"u:{i}" for i in range(1000)])) == 1000
    assert sum(c is not None for c in store.get_many([f"u:{i}" for i in range(1000)])) == 100


def test_policy_is_configurable(clock: FakeClock) -> None:
    throttle = Throttle(ThrottlePolicy(user_threshold=2, base_delay=10), clock=clock)
    assert throttle.begin("bob", None).wait == 0
    assert throttle.check("bob", None) == (0, True)
    assert throttle.begin("bob", None).wait == 0
    assert throttle.check("bob", None) == (10, True)
    assert throttle.begin("bob", None).wait == 10  # refused, not counted
    throttle.success("bob")
    assert throttle.check("bob", None) == (0, False)


# -- counted before the check (issue 14, item 3) ----------------------------------------------
# The concurrent tests, against every store, are in tests/storage/test_throttle_concurrency.py.


def test_own_successful_logins_never_count(client: TestApp) -> None:
    right = {"Authorization": basic("alice", ALICE_PASSWORD)}
    for _ in range(4):
        assert fail(client) == 401
        for _ in range(10):  # each success resets the userid and is taken back from the address
            client.get("/", headers=right, extra_environ={"REMOTE_ADDR": "192.0.2.1"}, status=200)
    for i in range(15):  # the address has 4 failures, not 44 attempts: 16 more are let in
        assert fail(client, f"user{i}") == 401
    assert fail(client) == 401  # alice: her first failure since her last success


def test_a_success_leaves_the_address_counter_as_it_was(
    client: TestApp, throttle: Throttle, clock: FakeClock
) -> None:
    for i in range(20):
        fail(client, f"user{i}")
    before = throttle.store.get_many(["a:192.0.2.1"])
    clock.advance(1.5)  # past the address's 1 s delay
    right = {"Authorization": basic("alice", ALICE_PASSWORD)}
    client.get("/", headers=right, extra_environ={"REMOTE_ADDR": "192.0.2.1"}, status=200)
    assert throttle.store.get_many(["a:192.0.2.1"]) == before  # its last failure's time too
    assert fail(client, "bob") == 401  # so the next attempt is not made to wait again


def test_an_attempt_that_ends_in_a_store_error_is_not_counted(
    users: MemoryUserStore, tokens: MemoryTokenManager, throttle: Throttle
) -> None:
    class Down(MemoryUserStore):
        def get(self, userid: str) -> Any:
            raise StoreUnavailable("down")

    down = TestApp(AuthMiddleware(echo_app, users=Down(), tokens=tokens, throttle=throttle))
    for _ in range(10):
        down.get("/", headers={"Authorization": basic("alice", "x")}, status=503)
    assert throttle.store.get_many(["u:alice", "a:192.0.2.1"]) == [None, None]
    client = TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens, throttle=throttle))
    assert [fail(client) for _ in range(6)] == [401] * 5 + [429]


def test_a_valid_token_request_writes_no_counter(
    users: MemoryUserStore, tokens: MemoryTokenManager, throttle: Throttle
) -> None:
    class Recording(MemoryThrottleStore):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[str] = []

        def __getattribute__(self, name: str) -> Any:
            if name in {"admit", "release", "reset", "get_many"}:
                object.__getattribute__(self, "calls").append(name)
            return object.__getattribute__(self, name)

    store = Recording()
    throttle.store = store
    client = TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens, throttle=throttle))
    token = tokens.issue("alice", users.get("alice").stamp).token  # type: ignore[union-attr]
    store.calls.clear()
    client.get("/", headers={"Authorization": f"Token {token}"}, status=200)
    client.get("/", headers={"Authorization": "Token abc.def"}, status=401)
    assert store.calls == []  # tokens are not throttled: no read, no write
    client.get("/", headers={"Authorization": basic("alice", token)}, status=200)
    assert store.calls == []  # nor a live token as the password
    # A password that costs no hash check is no guess to count: one read, no write.
    client.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=200)
    store.calls.clear()
    client.get("/", headers={"Authorization": basic("alice", ALICE_PASSWORD)}, status=200)
    assert store.calls == ["get_many"]  # a right password the cache remembers


def test_a_throttled_user_is_refused_a_remembered_password_but_not_a_live_token(
    client: TestApp, tokens: MemoryTokenManager, users: MemoryUserStore, bcrypt_calls: list[bytes]
) -> None:
    right = {"Authorization": basic("alice", ALICE_PASSWORD)}
    client.get("/", headers=right, extra_environ={"REMOTE_ADDR": "192.0.2.1"}, status=200)
    token = tokens.issue("alice", users.get("alice").stamp).token  # type: ignore[union-attr]
    assert [fail(client) for _ in range(6)] == [401] * 5 + [429]
    bcrypt_calls.clear()
    elsewhere = {"REMOTE_ADDR": "198.51.100.7"}
    client.get("/", headers=right, extra_environ=elsewhere, status=429)  # cached: still a guess
    for header in (basic("alice", token), f"Token {token}"):  # a live token proves the user
        client.get("/", headers={"Authorization": header}, extra_environ=elsewhere, status=200)
    assert bcrypt_calls == []


def test_an_empty_store_given_is_the_store_used() -> None:
    """``x or default`` would replace a store that defines ``__len__`` and is empty."""

    class Sized(MemoryThrottleStore):
        def __len__(self) -> int:
            return 0

    store = Sized()
    assert Throttle(store=store).store is store
