"""``Accounts`` settings, one-time tokens and the request limiter, without HTTP."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from restauth import Accounts, ConfigError, MemoryUserStore, PasswordHasher
from restauth.accounts.limiter import RequestLimiter
from restauth.accounts.one_time import OneTimeTokens, digest_of
from restauth.throttle.policy import MemoryThrottleStore
from tests.conftest import FakeClock


def notify(userid: str, purpose: str, token: str) -> None:
    """A notifier that sends nothing."""


def test_defaults() -> None:
    accounts = Accounts()
    assert accounts.registration == "off"
    assert accounts.path == "/users"
    assert not accounts.self_service
    assert not accounts.password_reset
    assert (accounts.reset_ttl, accounts.verify_ttl) == (900, 900)


def test_durations_may_be_timedeltas() -> None:
    accounts = Accounts("open", reset_ttl=timedelta(minutes=5), window=timedelta(hours=2))
    assert (accounts.reset_ttl, accounts.window) == (300, 7200)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"registration": "everyone"}, "registration"),
        ({"registration": "verify"}, "notifier"),
        ({"notifier": "smtp"}, "notifier"),
        ({"path": "/users/"}, "path"),
        ({"path": "users"}, "path"),
        ({"default_roles": ["a b"]}, "role"),
        ({"default_roles": "user"}, "str"),
        ({"reset_ttl": 0}, "reset_ttl"),
        ({"verify_ttl": float("inf")}, "verify_ttl"),
        ({"requests_per_address": 0}, "requests_per_address"),
        ({"requests_per_address": True}, "requests_per_address"),
        ({"page_size": 600}, "page_size"),
    ],
)
def test_mistakes_are_config_errors(settings: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Accounts(**settings)  # type: ignore[arg-type]


def test_one_time_tokens_are_stored_as_digests_and_end_with_the_stamp() -> None:
    clock = FakeClock()
    users = MemoryUserStore(PasswordHasher(rounds=4), clock=clock)
    alice = users.add("alice", "a long enough passphrase")
    tokens = OneTimeTokens(users, clock)
    token = tokens.issue(alice, "password-reset", 60)
    assert len(token) >= 43  # 256 bits
    record = users.get_one_time(digest_of(token))
    assert record is not None
    assert token not in repr(record)
    assert tokens.find(token, "verify") is None  # another purpose
    found = tokens.find(token, "password-reset")
    assert found is not None
    clock.advance(61)
    assert tokens.find(token, "password-reset") is None  # expired
    fresh = tokens.issue(alice, "password-reset", 60)
    users.set_password("alice", "another long passphrase")
    assert tokens.find(fresh, "password-reset") is None  # the password changed


def test_the_limiter_allows_so_many_per_window() -> None:
    clock = FakeClock()
    limiter = RequestLimiter(MemoryThrottleStore(), 3, 100.0, clock)
    assert [limiter.admit("register", "192.0.2.1") for _ in range(3)] == [0, 0, 0]
    wait = limiter.admit("register", "192.0.2.1")
    assert 0 < wait <= 100
    assert limiter.admit("register", "192.0.2.2") == 0  # another address
    assert limiter.admit("password-reset", "192.0.2.1") == 0  # another kind
    clock.advance(101)
    assert limiter.admit("register", "192.0.2.1") == 0


def test_the_limiter_counts_fixed_windows() -> None:
    """Ten an hour means ten in each hour: one request every seven minutes is never refused
    (a sliding count that never decays would refuse the eleventh)."""
    clock = FakeClock(3600.0 * 500_000)  # the start of an hour
    limiter = RequestLimiter(MemoryThrottleStore(), 10, 3600.0, clock)
    for _ in range(30):
        assert limiter.admit("register", "192.0.2.1") == 0
        clock.advance(7 * 60)


def test_the_sqlite_purge_keeps_counters_another_policy_still_needs(tmp_path: Path) -> None:
    from restauth._storage.sqlite import SQLiteDatabase
    from restauth.throttle.policy import Rule, ThrottlePolicy
    from restauth.throttle.sqlite import SQLiteThrottleStore

    clock = FakeClock(3600.0 * 500_000)
    store = SQLiteThrottleStore(SQLiteDatabase(tmp_path / "t.db", 5.0), purge_interval=0.0)
    limiter = RequestLimiter(store, 2, 3600.0, clock)
    assert [limiter.admit("register", "192.0.2.1") for _ in range(2)] == [0, 0]
    clock.advance(1000)  # past the password throttle's 900 s window, inside the hour
    store.admit([Rule("u:someone", 5, 60.0)], clock(), ThrottlePolicy())  # purges
    assert limiter.admit("register", "192.0.2.1") > 0  # still counted


def test_a_password_change_keeps_a_flag_set_meanwhile() -> None:
    """The memory store hashes outside its lock; what it writes is the record as it is
    then, so an admin's disable (or role change) made meanwhile is not undone."""
    entered, release = threading.Event(), threading.Event()

    class Slow(PasswordHasher):
        def hash(self, password: str) -> str:
            if password == "the new passphrase":
                entered.set()
                release.wait(5)
            return super().hash(password)

    users = MemoryUserStore(Slow(rounds=4))
    users.add("mallory", "a long enough passphrase", roles=["editor"])
    changing = threading.Thread(target=users.set_password, args=("mallory", "the new passphrase"))
    changing.start()
    assert entered.wait(5)
    users.update("mallory", disabled=True, roles=[])
    release.set()
    changing.join()
    user = users.get("mallory")
    assert user is not None
    assert (user.disabled, user.roles) == (True, frozenset())


def test_memory_pages_while_users_are_added() -> None:
    users = MemoryUserStore(PasswordHasher(rounds=4), policy=None)
    stop = threading.Event()

    def add() -> None:
        index = 0
        while not stop.is_set():
            users.add_hashed(f"user{index}", PasswordHasher(rounds=4).hash("x") if index == 0 else
                             "$2b$04$" + "a" * 53)  # fmt: skip
            index += 1

    adding = threading.Thread(target=add)
    adding.start()
    try:
        for _ in range(2000):
            page = users.page(None, 50)
            assert [u.userid for u in page] == sorted(u.userid for u in page)
    finally:
        stop.set()
        adding.join()


def test_a_failed_delivery_is_logged_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    from restauth.accounts.outbox import Outbox
    from restauth.errors import NotificationFailed

    def fail() -> None:
        raise NotificationFailed("mail.example:587 failed at STARTTLS: SMTPNotSupportedError")

    def leak() -> None:
        raise RuntimeError("token=s3cret-token")

    outbox = Outbox()
    outbox.put(fail)
    outbox.put(leak)
    outbox.join()
    assert "failed at STARTTLS" in caplog.text
    assert "RuntimeError" in caplog.text
    assert "s3cret-token" not in caplog.text


def test_a_forked_child_starts_with_an_empty_outbox() -> None:
    from restauth.accounts.outbox import Outbox

    outbox, started, release = Outbox(), threading.Event(), threading.Event()

    def block() -> None:
        started.set()
        release.wait(5)

    outbox.put(block)
    assert started.wait(5)
    outbox.put(lambda: None)  # waiting behind the blocked job
    pid = os.fork()
    if pid == 0:  # the child: nothing of the parent's to send
        os._exit(0 if outbox._queue.qsize() == 0 else 1)
    release.set()
    _, status = os.waitpid(pid, 0)
    outbox.join()
    assert os.waitstatus_to_exitcode(status) == 0
