"""The account store contract (``AccountStore``), run against every store: memory,
SQLite and PostgreSQL. Users with an email address and the verified and disabled flags,
the password policy, ``update`` and its stamp rule, pages of users, one-time tokens;
then the upgrade of a users table of the previous release (schema version 1) in place.

PostgreSQL tests skip without a server, and fail without one under
``RESTAUTH_REQUIRE_SERVICES=1`` (:func:`tests.services.postgres_dsn`).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from restauth import MemoryUserStore, PasswordHasher, UnknownUser, UserExists
from restauth.errors import WeakPassword
from restauth.passwords.policy import PasswordPolicy
from restauth.users.base import AccountStore, OneTimeToken
from restauth.users.sqlite import SQLiteUserStore
from tests.conftest import FakeClock
from tests.services import postgres_dsn

PASSWORD = "correct horse battery"  # meets the default policy: long, uncommon, no userid in it
OTHER_PASSWORD = "staple wombat lantern"
RESET, VERIFY = "password-reset", "verify"
START = 1_800_000_000.0  # FakeClock's start

AccountFactory = Callable[..., Any]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def account_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def make_accounts(
    account_backend: str,
    tmp_path: Path,
    hasher: PasswordHasher,
    clock: FakeClock,
    request: pytest.FixtureRequest,
) -> Iterator[AccountFactory]:
    """Build account stores of the backend under test that share one database (like
    several processes); the memory store is one object, shared."""
    made: list[Any] = []
    dsn = request.getfixturevalue("postgres_schema_dsn") if account_backend == "postgres" else ""

    def make(**options: Any) -> Any:
        options = {"hasher": hasher, "clock": clock, **options}
        store: Any
        if account_backend == "memory":
            if made:  # memory cannot be shared across processes: the same object again
                return made[0]
            store = MemoryUserStore(**options)
        elif account_backend == "sqlite":
            store = SQLiteUserStore(tmp_path / "restauth.db", **options)
        else:
            from restauth.users.postgres import PostgresUserStore

            store = PostgresUserStore(dsn, timeout=10, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        if hasattr(store, "close"):
            store.close()


@pytest.fixture
def accounts(make_accounts: AccountFactory) -> Any:
    return make_accounts()


def one_time(
    digest: str,
    userid: str = "alice",
    purpose: str = RESET,
    *,
    stamp: str = "s",
    expires: float = START + 3600,
) -> OneTimeToken:
    return OneTimeToken(digest, userid, purpose, stamp, expires)


# -- the protocol and the new fields ------------------------------------------------------


def test_every_store_is_an_account_store(accounts: Any) -> None:
    assert isinstance(accounts, AccountStore)
    assert accounts.policy == PasswordPolicy()  # the default policy unless told otherwise


def test_add_with_email_and_verified_reads_back(accounts: Any, hasher: PasswordHasher) -> None:
    added = accounts.add(
        "alice", PASSWORD, roles=["user"], email="alice@example.org", verified=False
    )
    assert added.created == START  # the store's clock
    assert (added.email, added.verified, added.disabled) == ("alice@example.org", False, False)
    assert added.active is False
    found = accounts.get("alice")
    assert found == added
    assert isinstance(found.verified, bool)
    assert isinstance(found.disabled, bool)
    assert isinstance(found.created, float)
    assert hasher.verify(PASSWORD, found.password_hash)


def test_add_defaults_to_a_verified_enabled_account_without_email(
    accounts: Any, clock: FakeClock
) -> None:
    clock.advance(12.5)
    added = accounts.add("alice", PASSWORD)
    assert (added.email, added.verified, added.disabled, added.active) == (None, True, False, True)
    assert added.created == START + 12.5
    assert accounts.get("alice") == added


def test_add_hashed_takes_email_and_verified(accounts: Any, hasher: PasswordHasher) -> None:
    added = accounts.add_hashed(
        "alice", hasher.hash(PASSWORD), roles=["a"], email="a@example.org", verified=False
    )
    assert accounts.get("alice") == added
    assert (added.email, added.verified, added.created) == ("a@example.org", False, START)


@pytest.mark.parametrize("email", ["not-an-address", "a b@example.org", "a@example", "x@y.org\r\n"])
def test_a_bad_email_is_refused_and_nothing_is_stored(accounts: Any, email: str) -> None:
    with pytest.raises(ValueError, match="email"):
        accounts.add("alice", PASSWORD, email=email)
    assert accounts.get("alice") is None


def test_a_taken_userid_is_refused_with_the_new_keywords(accounts: Any) -> None:
    accounts.add("alice", PASSWORD, email="a@example.org")
    with pytest.raises(UserExists):
        accounts.add("alice", OTHER_PASSWORD, email="b@example.org", verified=False)
    assert accounts.get("alice").email == "a@example.org"


# -- the password policy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 8"),
        ("iloveyou", "common"),
        ("alice-in-wonderland", "username"),
    ],
)
def test_the_policy_refuses_weak_passwords_on_add(
    accounts: Any, password: str, reason: str
) -> None:
    with pytest.raises(WeakPassword, match=reason) as refused:
        accounts.add("alice", password)
    assert isinstance(refused.value, ValueError)
    assert password not in str(refused.value)
    assert accounts.get("alice") is None


def test_the_policy_refuses_weak_passwords_on_set_password(
    accounts: Any, hasher: PasswordHasher
) -> None:
    before = accounts.add("alice", PASSWORD)
    for weak in ["short", "iloveyou", "ALICE1234"]:
        with pytest.raises(WeakPassword):
            accounts.set_password("alice", weak)
    assert accounts.get("alice") == before  # nothing changed, the stamp neither


def test_no_policy_allows_what_the_default_refuses(make_accounts: AccountFactory) -> None:
    accounts = make_accounts(policy=None)
    assert accounts.policy is None
    accounts.add("alice", "pw")
    assert accounts.set_password("alice", "alice").userid == "alice"
    with pytest.raises(ValueError, match="empty"):  # the hasher's hard limits stay
        accounts.add("bob", "")


def test_a_custom_policy_is_applied(make_accounts: AccountFactory) -> None:
    accounts = make_accounts(policy=PasswordPolicy(min_length=30))
    with pytest.raises(WeakPassword, match="at least 30"):
        accounts.add("alice", PASSWORD)
    accounts.add("alice", PASSWORD + " and then some more")


def test_add_hashed_skips_the_policy(accounts: Any, hasher: PasswordHasher) -> None:
    added = accounts.add_hashed("alice", hasher.hash("pw"))  # a weak password's hash
    assert accounts.get("alice") == added
    assert hasher.verify("pw", added.password_hash)


def test_set_password_changes_the_stamp_and_keeps_the_rest(
    accounts: Any, hasher: PasswordHasher
) -> None:
    before = accounts.add("alice", PASSWORD, roles=["r"], email="a@example.org", verified=False)
    after = accounts.set_password("alice", OTHER_PASSWORD)
    assert after.stamp != before.stamp
    assert hasher.verify(OTHER_PASSWORD, after.password_hash)
    assert (after.roles, after.email, after.verified, after.disabled, after.created) == (
        before.roles, before.email, before.verified, before.disabled, before.created,
    )  # fmt: skip
    assert accounts.get("alice") == after


# -- update ---------------------------------------------------------------------------------


def test_update_roles(accounts: Any) -> None:
    before = accounts.add("alice", PASSWORD, roles=["user"], email="a@example.org")
    after = accounts.update("alice", roles=["admin", "user"])
    assert after.roles == frozenset({"admin", "user"})
    assert after.stamp == before.stamp  # roles are no credential
    assert (after.email, after.verified, after.disabled) == ("a@example.org", True, False)
    assert accounts.get("alice") == after
    assert accounts.set_roles("alice", []).roles == frozenset()
    assert accounts.get("alice").stamp == before.stamp


def test_update_email(accounts: Any) -> None:
    before = accounts.add("alice", PASSWORD, roles=["user"])
    changed = accounts.update("alice", email="new@example.org")
    assert changed.email == "new@example.org"
    assert accounts.update("alice").email == "new@example.org"  # ...: left as it is
    assert accounts.update("alice", roles=["x"]).email == "new@example.org"
    cleared = accounts.update("alice", email=None)
    assert cleared.email is None
    assert accounts.get("alice") == cleared
    assert cleared.stamp == before.stamp


def test_a_bad_update_changes_nothing(accounts: Any) -> None:
    before = accounts.add("alice", PASSWORD, roles=["user"], email="a@example.org")
    with pytest.raises(ValueError, match="email"):
        accounts.update("alice", email="nope", disabled=True)
    with pytest.raises(ValueError, match="role"):
        accounts.update("alice", roles=["has space"], disabled=True)
    assert accounts.get("alice") == before


def test_update_with_nothing_changes_nothing(accounts: Any) -> None:
    before = accounts.add("alice", PASSWORD, email="a@example.org")
    assert accounts.update("alice") == before
    assert accounts.get("alice") == before


def test_disabling_gives_a_new_stamp_and_enabling_keeps_it(accounts: Any) -> None:
    before = accounts.add("alice", PASSWORD)
    disabled = accounts.update("alice", disabled=True)
    assert (disabled.disabled, disabled.active) == (True, False)
    assert disabled.stamp != before.stamp  # every session ends
    assert accounts.get("alice") == disabled
    again = accounts.update("alice", disabled=True)  # already inactive: no new stamp
    assert again.stamp == disabled.stamp
    enabled = accounts.update("alice", disabled=False)
    assert (enabled.disabled, enabled.active) == (False, True)
    assert enabled.stamp == disabled.stamp  # re-activation brings no session back
    assert accounts.get("alice") == enabled


def test_unverifying_gives_a_new_stamp_and_verifying_keeps_it(accounts: Any) -> None:
    before = accounts.add("alice", PASSWORD)
    unverified = accounts.update("alice", verified=False)
    assert (unverified.verified, unverified.active) == (False, False)
    assert unverified.stamp != before.stamp
    verified = accounts.update("alice", verified=True)
    assert verified.active
    assert verified.stamp == unverified.stamp


def test_a_change_to_an_inactive_account_keeps_its_stamp(accounts: Any) -> None:
    """Only the step from active to inactive renews the stamp."""
    added = accounts.add("alice", PASSWORD, verified=False)
    assert not added.active
    disabled = accounts.update("alice", disabled=True)
    assert disabled.stamp == added.stamp
    assert accounts.update("alice", verified=True).stamp == added.stamp  # still disabled
    enabled = accounts.update("alice", disabled=False)
    assert enabled.active
    assert enabled.stamp == added.stamp


def test_flags_given_as_they_are_keep_the_stamp(accounts: Any) -> None:
    before = accounts.add("alice", PASSWORD)
    after = accounts.update("alice", verified=True, disabled=False)
    assert after.stamp == before.stamp


def test_both_flags_at_once(accounts: Any) -> None:
    before = accounts.add("alice", PASSWORD)
    after = accounts.update("alice", verified=False, disabled=True, email="a@example.org")
    assert (after.verified, after.disabled, after.email) == (False, True, "a@example.org")
    assert after.stamp != before.stamp
    assert accounts.get("alice") == after


def test_each_disabling_gives_a_stamp_of_its_own(accounts: Any) -> None:
    accounts.add("alice", PASSWORD)
    stamps = set()
    for _ in range(3):
        stamps.add(accounts.update("alice", disabled=True).stamp)
        accounts.update("alice", disabled=False)
    assert len(stamps) == 3


def test_unknown_users(accounts: Any) -> None:
    with pytest.raises(UnknownUser):
        accounts.update("nobody", disabled=True)
    with pytest.raises(UnknownUser):
        accounts.update("nobody")
    with pytest.raises(UnknownUser):
        accounts.set_roles("nobody", ["x"])
    with pytest.raises(UnknownUser):
        accounts.set_password("nobody", PASSWORD)
    assert accounts.remove("nobody") is False
    assert accounts.get("nobody") is None


def test_changes_are_seen_by_every_store_on_the_database(make_accounts: AccountFactory) -> None:
    one, two = make_accounts(), make_accounts()
    one.add("alice", PASSWORD)
    changed = two.update("alice", disabled=True, email="a@example.org")
    assert one.get("alice") == changed


# -- pages ---------------------------------------------------------------------------------


def test_pages_in_userid_order(accounts: Any, hasher: PasswordHasher) -> None:
    password_hash = hasher.hash(PASSWORD)
    for userid in ["carol", "alice", "erin", "bob", "dave"]:
        accounts.add_hashed(userid, password_hash)
    assert [u.userid for u in accounts.page(None, 2)] == ["alice", "bob"]
    assert [u.userid for u in accounts.page("bob", 2)] == ["carol", "dave"]
    assert [u.userid for u in accounts.page("dave", 2)] == ["erin"]
    assert accounts.page("erin", 2) == []
    assert [u.userid for u in accounts.page(None, 100)] == ["alice", "bob", "carol", "dave", "erin"]
    assert accounts.page(None, 0) == []
    assert [u.userid for u in accounts.page("b", 2)] == ["bob", "carol"]  # a userid nobody has
    assert [u.userid for u in accounts.page("", 1)] == ["alice"]
    assert accounts.page(None, 5) == [accounts.get(u) for u in accounts.userids()]


def test_walking_the_pages_lists_everyone_once(accounts: Any, hasher: PasswordHasher) -> None:
    password_hash = hasher.hash(PASSWORD)
    userids = [f"user{n:02d}" for n in range(23)]
    for userid in reversed(userids):
        accounts.add_hashed(userid, password_hash)
    seen: list[str] = []
    after = None
    while page := accounts.page(after, 5):
        assert len(page) <= 5
        seen += [user.userid for user in page]
        after = page[-1].userid
    assert seen == userids


def test_pages_order_by_code_point(accounts: Any, hasher: PasswordHasher) -> None:
    """As ``sorted`` orders them, whatever the database's collation: capitals first."""
    password_hash = hasher.hash(PASSWORD)
    userids = ["émile", "alice", "Bob", "_x", "Zoë", "bob", "a b"]
    for userid in userids:
        accounts.add_hashed(userid, password_hash)
    expected = sorted(userids)
    assert [u.userid for u in accounts.page(None, 10)] == expected
    assert list(accounts.userids()) == expected
    assert [u.userid for u in accounts.page("Zoë", 2)] == expected[2:4]


def test_pages_carry_every_field(accounts: Any) -> None:
    accounts.add("alice", PASSWORD, roles=["r"], email="a@example.org", verified=False)
    accounts.add("bob", PASSWORD)
    accounts.update("bob", disabled=True)
    assert accounts.page(None, 10) == [accounts.get("alice"), accounts.get("bob")]


# -- one-time tokens -----------------------------------------------------------------------


def test_one_time_tokens_are_kept_and_ended_once(accounts: Any) -> None:
    token = one_time("digest-1", expires=START + 600.5)
    accounts.put_one_time(token)
    assert accounts.get_one_time("digest-1") == token
    assert accounts.get_one_time("digest-2") is None
    assert accounts.end_one_time("digest-1") is True
    assert accounts.end_one_time("digest-1") is False  # a token is used once
    assert accounts.get_one_time("digest-1") is None
    assert accounts.end_one_time("never-put") is False


def test_a_new_token_ends_the_users_earlier_one_of_the_same_purpose(accounts: Any) -> None:
    accounts.put_one_time(one_time("reset-1"))
    accounts.put_one_time(one_time("verify-1", purpose=VERIFY))
    accounts.put_one_time(one_time("bobs-reset", userid="bob"))
    accounts.put_one_time(one_time("reset-2"))
    assert accounts.get_one_time("reset-1") is None
    assert accounts.end_one_time("reset-1") is False
    assert accounts.get_one_time("reset-2") == one_time("reset-2")
    assert accounts.get_one_time("verify-1") is not None  # another purpose
    assert accounts.get_one_time("bobs-reset") is not None  # another user


def test_putting_the_same_token_again_keeps_it(accounts: Any) -> None:
    accounts.put_one_time(one_time("reset-1"))
    accounts.put_one_time(one_time("reset-1", expires=START + 7200))
    assert accounts.get_one_time("reset-1") == one_time("reset-1", expires=START + 7200)


def test_expired_tokens_are_purged_on_put(accounts: Any, clock: FakeClock) -> None:
    accounts.put_one_time(one_time("bob-old", userid="bob", expires=START + 10))
    accounts.put_one_time(one_time("carol-old", userid="carol", expires=START + 11))
    clock.advance(5)
    accounts.put_one_time(one_time("dave", userid="dave"))
    assert accounts.get_one_time("bob-old") is not None  # not yet expired
    clock.advance(5)  # now == bob-old's expiry: past its time
    assert accounts.get_one_time("bob-old") is not None  # a read purges nothing: callers check
    accounts.put_one_time(one_time("erin", userid="erin"))
    assert accounts.get_one_time("bob-old") is None
    assert accounts.get_one_time("carol-old") is not None
    assert accounts.get_one_time("dave") is not None


def test_set_password_ends_the_users_one_time_tokens(accounts: Any) -> None:
    """The contract: a token made under the old stamp is dead (gone, or bound to a stamp
    the user no longer has)."""
    user = accounts.add("alice", PASSWORD)
    accounts.put_one_time(one_time("reset", stamp=user.stamp))
    accounts.put_one_time(one_time("verify", purpose=VERIFY, stamp=user.stamp))
    accounts.put_one_time(one_time("bobs", userid="bob"))
    changed = accounts.set_password("alice", OTHER_PASSWORD)
    for digest in ["reset", "verify"]:
        kept = accounts.get_one_time(digest)
        assert kept is None or kept.stamp != changed.stamp
    assert accounts.get_one_time("bobs") is not None


@pytest.mark.parametrize("account_backend", ["sqlite", "postgres"])
def test_set_password_deletes_the_users_one_time_rows(accounts: Any) -> None:
    user = accounts.add("alice", PASSWORD)
    accounts.put_one_time(one_time("reset", stamp=user.stamp))
    accounts.put_one_time(one_time("verify", purpose=VERIFY, stamp=user.stamp))
    accounts.put_one_time(one_time("bobs", userid="bob"))
    accounts.set_password("alice", OTHER_PASSWORD)
    assert accounts.get_one_time("reset") is None
    assert accounts.get_one_time("verify") is None
    assert accounts.get_one_time("bobs") is not None


def test_a_failed_set_password_keeps_the_tokens(accounts: Any) -> None:
    user = accounts.add("alice", PASSWORD)
    accounts.put_one_time(one_time("reset", stamp=user.stamp))
    with pytest.raises(WeakPassword):
        accounts.set_password("alice", "short")
    assert accounts.get_one_time("reset") is not None


def test_remove_deletes_the_users_one_time_tokens(accounts: Any) -> None:
    accounts.add("alice", PASSWORD)
    accounts.put_one_time(one_time("reset"))
    accounts.put_one_time(one_time("verify", purpose=VERIFY))
    accounts.put_one_time(one_time("bobs", userid="bob"))
    assert accounts.remove("alice") is True
    assert accounts.get_one_time("reset") is None
    assert accounts.get_one_time("verify") is None
    assert accounts.get_one_time("bobs") is not None
    accounts.add("alice", PASSWORD)  # the same userid again: nothing of the old one
    assert accounts.end_one_time("reset") is False


def test_tokens_are_shared_by_every_store_on_the_database(make_accounts: AccountFactory) -> None:
    one, two = make_accounts(), make_accounts()
    one.put_one_time(one_time("reset"))
    assert two.get_one_time("reset") == one_time("reset")
    assert two.end_one_time("reset") is True
    assert one.end_one_time("reset") is False


# -- concurrency ---------------------------------------------------------------------------


def race(stores: list[Any], work: Callable[[Any, int], Any]) -> list[Any]:
    """Run ``work(store, index)`` on one thread per store, all released at once; the
    results, in the stores' order."""
    start = threading.Barrier(len(stores))
    results: list[Any] = [None] * len(stores)
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            start.wait(timeout=10)
            results[index] = work(stores[index], index)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    return results


def concurrent_stores(make_accounts: AccountFactory) -> list[Any]:
    """Eight stores on one database (as in eight worker processes); memory: one, shared."""
    return [make_accounts() for _ in range(8)]


def test_end_one_time_answers_true_exactly_once_in_a_race(make_accounts: AccountFactory) -> None:
    stores = concurrent_stores(make_accounts)
    for round_ in range(5):
        digest = f"reset-{round_}"
        stores[0].put_one_time(one_time(digest, userid=f"user{round_}"))

        def end(store: Any, _: int, digest: str = digest) -> bool:
            return bool(store.end_one_time(digest))

        answers = race(stores, end)
        assert sorted(answers) == [False] * 7 + [True], answers
        assert stores[0].get_one_time(digest) is None


def test_racing_puts_for_one_user_leave_one_token(make_accounts: AccountFactory) -> None:
    """A newer token ends the older one even when they are put at the same instant."""
    stores = concurrent_stores(make_accounts)
    stores[0].add("alice", PASSWORD)
    digests = [f"reset-{n}" for n in range(len(stores))]
    race(stores, lambda store, n: store.put_one_time(one_time(digests[n])))
    kept = [d for d in digests if stores[0].get_one_time(d) is not None]
    assert len(kept) == 1, kept


def test_concurrent_disables_renew_the_stamp_once(make_accounts: AccountFactory) -> None:
    """Eight stores disable alice at once: the stamp is renewed by exactly one of them
    (the others find her already inactive), and all of them answer the final row."""
    stores = concurrent_stores(make_accounts)
    before = stores[0].add("alice", PASSWORD)
    answers = race(stores, lambda store, _: store.update("alice", disabled=True))
    final = stores[0].get("alice")
    assert final.stamp != before.stamp
    assert final.disabled
    assert {answer.stamp for answer in answers} == {final.stamp}


# -- the hot path --------------------------------------------------------------------------


def test_a_sqlite_lookup_is_one_statement(tmp_path: Path, hasher: PasswordHasher) -> None:
    store = SQLiteUserStore(tmp_path / "restauth.db", hasher=hasher)
    store.add("alice", PASSWORD, email="a@example.org")
    statements: list[str] = []
    store.database.connection().set_trace_callback(statements.append)
    try:
        user = store.get("alice")
    finally:
        store.database.connection().set_trace_callback(None)
        store.close()
    assert user is not None
    assert user.email == "a@example.org"
    assert len(statements) == 1
    assert statements[0].startswith("SELECT")


# -- the upgrade from schema version 1 -----------------------------------------------------

# The previous release's DDL, verbatim (users/sqlite.py, users/postgres.py and
# _storage/schema.py before accounts), and what its first use registered.
OLD_SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS restauth_schema "
    "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)
OLD_SQLITE_USERS = (
    "CREATE TABLE restauth_users ("
    " userid TEXT PRIMARY KEY NOT NULL,"
    " password_hash TEXT NOT NULL,"
    " roles TEXT NOT NULL DEFAULT '',"
    " stamp TEXT NOT NULL"
    ") WITHOUT ROWID"
)
OLD_POSTGRES_USERS = (
    "CREATE TABLE IF NOT EXISTS restauth_users ("
    " userid TEXT PRIMARY KEY,"
    " password_hash TEXT NOT NULL,"
    " roles TEXT NOT NULL DEFAULT '',"
    " stamp TEXT NOT NULL)"
)
OLD_INSERT = "INSERT INTO restauth_users (userid, password_hash, roles, stamp) VALUES "


class Database:
    """A database of one backend, read and written behind the stores' back."""

    def __init__(self, backend: str, where: Any) -> None:
        self.backend, self.where = backend, where
        self.mark = "?" if backend == "sqlite" else "%s"

    def run(self, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        if self.backend == "sqlite":
            connection = sqlite3.connect(self.where, isolation_level=None)
            try:
                return connection.execute(sql, parameters).fetchall()
            finally:
                connection.close()
        import psycopg

        with psycopg.connect(self.where, autocommit=True) as pg:
            cursor = pg.execute(sql, parameters)
            return cursor.fetchall() if cursor.description else []

    def make_old_release(self, alice_hash: str) -> None:
        """The tables as the previous release left them, alice in them."""
        self.run(OLD_SCHEMA_TABLE)
        self.run(OLD_SQLITE_USERS if self.backend == "sqlite" else OLD_POSTGRES_USERS)
        self.run("INSERT INTO restauth_schema (component, version) VALUES ('users', 1)")
        self.insert_old_row("alice", alice_hash, "admin,user", "stamp-1")

    def insert_old_row(self, userid: str, password_hash: str, roles: str, stamp: str) -> None:
        """What a process of the previous release writes: four columns."""
        marks = ", ".join([self.mark] * 4)
        self.run(OLD_INSERT + f"({marks})", (userid, password_hash, roles, stamp))

    def version(self) -> int:
        rows = self.run("SELECT version FROM restauth_schema WHERE component = 'users'")
        return int(rows[0][0])

    def columns(self, table: str) -> list[tuple[Any, ...]]:
        """Each column's name, type, nullability and default, in order."""
        if self.backend == "sqlite":
            return [row[1:5] for row in self.run(f"PRAGMA table_info({table})")]
        return self.run(
            "SELECT column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s "
            "ORDER BY ordinal_position",
            (table,),
        )

    def indexes(self) -> set[str]:
        if self.backend == "sqlite":
            sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        else:
            sql = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        return {str(row[0]) for row in self.run(sql)}

    def store(self, hasher: PasswordHasher, clock: FakeClock) -> Any:
        if self.backend == "sqlite":
            return SQLiteUserStore(self.where, hasher=hasher, clock=clock)
        from restauth.users.postgres import PostgresUserStore

        return PostgresUserStore(self.where, hasher=hasher, clock=clock, timeout=10)


OLD_HASH_PASSWORD = "alice's old password"


@pytest.fixture(params=["sqlite", "postgres"])
def database_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def old_database(
    database_backend: str, tmp_path: Path, hasher: PasswordHasher, request: pytest.FixtureRequest
) -> Database:
    """A version 1 database (the previous release's), alice in it."""
    if database_backend == "sqlite":
        database = Database("sqlite", tmp_path / "old.db")
    else:
        database = Database("postgres", request.getfixturevalue("postgres_schema_dsn"))
    database.make_old_release(hasher.hash(OLD_HASH_PASSWORD))
    return database


@pytest.fixture
def new_database(database_backend: str, tmp_path: Path) -> Iterator[Database]:
    """An empty database of the same backend (PostgreSQL: a second schema, dropped after)."""
    if database_backend == "sqlite":
        yield Database("sqlite", tmp_path / "new.db")
        return
    import psycopg

    dsn = postgres_dsn()
    schema = "restauth_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in dsn else "?"
    yield Database("postgres", f"{dsn}{separator}options={quote(f'-csearch_path={schema}')}")
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


def test_an_old_row_reads_back_verified_enabled_and_undated(
    old_database: Database, hasher: PasswordHasher, clock: FakeClock
) -> None:
    store = old_database.store(hasher, clock)
    try:
        alice = store.get("alice")
        assert alice is not None
        assert (alice.roles, alice.stamp) == (frozenset({"admin", "user"}), "stamp-1")
        assert (alice.created, alice.email, alice.verified, alice.disabled) == (
            None, None, True, False,
        )  # fmt: skip
        assert alice.active
        assert isinstance(alice.verified, bool)
        assert isinstance(alice.disabled, bool)
        assert hasher.verify(OLD_HASH_PASSWORD, alice.password_hash)
        assert old_database.version() == 2
        assert store.page(None, 10) == [alice]
    finally:
        store.close()


def test_the_new_fields_work_on_an_upgraded_table(
    old_database: Database, hasher: PasswordHasher, clock: FakeClock
) -> None:
    store = old_database.store(hasher, clock)
    try:
        changed = store.update("alice", email="alice@example.org", disabled=True)
        assert (changed.email, changed.disabled, changed.created) == (
            "alice@example.org", True, None,
        )  # fmt: skip
        assert changed.stamp != "stamp-1"  # turned inactive: a new stamp
        assert store.get("alice") == changed
        bob = store.add("bob", PASSWORD, email="bob@example.org", verified=False)
        assert bob.created == START
        assert store.get("bob") == bob
        token = one_time("reset", userid="bob", stamp=bob.stamp)
        store.put_one_time(token)
        assert store.get_one_time("reset") == token
        assert store.end_one_time("reset") is True
        assert [u.userid for u in store.page(None, 10)] == ["alice", "bob"]
        assert store.set_password("alice", OTHER_PASSWORD).disabled is True
        assert store.remove("bob") is True
    finally:
        store.close()


def test_an_upgraded_database_is_the_database_a_new_one_gets(
    old_database: Database, new_database: Database, hasher: PasswordHasher, clock: FakeClock
) -> None:
    upgraded, created = old_database.store(hasher, clock), new_database.store(hasher, clock)
    try:
        assert upgraded.get("alice") is not None
        assert created.get("alice") is None
        for table in ["restauth_users", "restauth_one_time"]:
            assert old_database.columns(table) == new_database.columns(table)
        assert old_database.indexes() == new_database.indexes()
        assert "restauth_one_time_by_user" in new_database.indexes()
        assert old_database.version() == new_database.version() == 2
    finally:
        upgraded.close()
        created.close()


def test_a_process_of_the_previous_release_still_writes_after_the_upgrade(
    old_database: Database, hasher: PasswordHasher, clock: FakeClock
) -> None:
    """Its four-column insert takes the new columns' defaults: a verified, enabled user."""
    store = old_database.store(hasher, clock)
    try:
        assert store.get("alice") is not None  # the first use upgrades
        old_database.insert_old_row("carol", hasher.hash(PASSWORD), "", "stamp-c")
        carol = store.get("carol")
        assert carol is not None
        assert (carol.created, carol.email, carol.verified, carol.disabled) == (
            None, None, True, False,
        )  # fmt: skip
    finally:
        store.close()


def test_stores_starting_together_upgrade_once(
    old_database: Database, hasher: PasswordHasher, clock: FakeClock
) -> None:
    """Eight stores use a version 1 database for the first time at the same instant:
    one upgrades (a second ALTER TABLE would fail), every one of them works."""
    stores = [old_database.store(hasher, clock) for _ in range(8)]
    try:
        found = race(stores, lambda store, _: store.get("alice"))
        assert all(user is not None and user.verified for user in found)
        assert old_database.version() == 2
    finally:
        for store in stores:
            store.close()
