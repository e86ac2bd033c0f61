"""The password policy (restauth.passwords.policy) and the memory store applying it."""

from __future__ import annotations

import secrets
import unicodedata

import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryUserStore, PasswordHasher, PasswordPolicy
from restauth.errors import RestauthError, WeakPassword
from restauth.passwords.hasher import MAX_PASSWORD_LENGTH
from restauth.passwords.policy import DEFAULT_POLICY, common_passwords

from .conftest import basic, echo_app

POLICY = PasswordPolicy()


def refusal(password: str, userid: str | None = None, policy: PasswordPolicy = POLICY) -> str:
    """The reason ``policy`` gives for refusing ``password``; fails the test if it accepts."""
    with pytest.raises(WeakPassword) as refused:
        policy.check(password, userid)
    return str(refused.value)


# -- length -------------------------------------------------------------------------------


def test_seven_characters_are_refused_and_eight_accepted() -> None:
    assert "at least 8 characters" in refusal("kq7#vzm")
    POLICY.check("kq7#vzmx")


def test_length_is_counted_in_characters_after_nfc() -> None:
    # Eight CJK characters: 24 bytes of UTF-8, but eight characters.
    cjk = "密码学很有意思啊"
    assert len(cjk) == 8
    POLICY.check(cjk)
    assert "at least 8" in refusal(cjk[:7])
    # Seven é written decomposed: 14 code points, seven characters once in NFC.
    decomposed = unicodedata.normalize("NFD", "éééééé\u00e9")
    assert len(decomposed) == 14
    assert "at least 8" in refusal(decomposed)
    POLICY.check(decomposed + "x")  # eight characters in NFC


def test_max_length_is_the_hashers() -> None:
    assert MAX_PASSWORD_LENGTH == 1024
    POLICY.check("x" * (MAX_PASSWORD_LENGTH - 4) + "9#q!")
    assert "at most 1024 characters" in refusal("x" * (MAX_PASSWORD_LENGTH + 1))


def test_what_login_refuses_is_refused_as_a_weak_password() -> None:
    assert "control characters" in refusal("tab\tseparated passphrase")
    assert "must not be empty" in refusal("")
    assert "surrogates" in refusal("lone \ud800 surrogate passphrase")


@pytest.mark.parametrize("min_length", [0, -1, MAX_PASSWORD_LENGTH + 1])
def test_min_length_out_of_range_is_refused(min_length: int) -> None:
    with pytest.raises(ValueError, match="min_length must be between 1 and 1024"):
        PasswordPolicy(min_length=min_length)


def test_min_length_can_be_raised_or_lowered() -> None:
    assert "at least 12 characters" in refusal("kq7#vzmx-lp", policy=PasswordPolicy(min_length=12))
    PasswordPolicy(min_length=12).check("kq7#vzmx-lpa")
    PasswordPolicy(min_length=1).check("k")
    PasswordPolicy(min_length=MAX_PASSWORD_LENGTH).check("x" * MAX_PASSWORD_LENGTH)


# -- the userid -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("userid", "password"),
    [
        ("alice-in-chains", "alice-in-chains"),  # equal
        ("alice", "my alice password"),  # contained
        ("alice", "ALICE-4-ever!"),  # contained, another case
        ("Alice", "alice-4-ever!"),  # a capitalised userid
        ("Straße", "the STRASSE key 9"),  # case-folded, not only lower-cased
        ("zoë", "x-zoe\u0308-passphrase"),  # the password decomposed, the userid composed
        ("zoe\u0308", "x-zoë-passphrase"),  # and the other way round
    ],
)
def test_a_password_holding_the_userid_is_refused(userid: str, password: str) -> None:
    assert refusal(password, userid) == "password must not contain the username"


@pytest.mark.parametrize("userid", ["al", "a", "AL"])
def test_a_short_userid_is_not_looked_for_inside_the_password(userid: str) -> None:
    POLICY.check("also a fine passphrase", userid)


def test_a_short_userid_still_may_not_be_the_password() -> None:
    lax = PasswordPolicy(min_length=1, common=False)
    assert refusal("al", "al", policy=lax) == "password must not contain the username"
    assert refusal("AL", "al", policy=lax) == "password must not contain the username"
    lax.check("al", "bo")


def test_three_characters_of_userid_are_enough_to_be_looked_for() -> None:
    assert refusal("my bob passphrase", "bob") == "password must not contain the username"
    POLICY.check("my bo passphrase", "bob")


def test_without_a_userid_only_the_other_rules_apply() -> None:
    POLICY.check("alice in wonderland 7")
    POLICY.check("alice in wonderland 7", "")


# -- common passwords ---------------------------------------------------------------------


def test_the_list_is_large_lower_case_and_read_once() -> None:
    listed = common_passwords()
    assert len(listed) >= 10_000
    assert all(p == p.lower() for p in listed)
    assert common_passwords() is listed


@pytest.mark.parametrize(
    "password", ["password", "PassWord1", "iloveyou", "QWERTY123", "trustno1", "12345678"]
)
def test_common_passwords_are_refused_in_any_case(password: str) -> None:
    assert password.lower() in common_passwords()
    assert "most common passwords" in refusal(password)


def test_common_false_skips_the_list_but_not_the_other_rules() -> None:
    lax = PasswordPolicy(common=False)
    lax.check("PassWord1")
    assert "at least 8" in refusal("qwerty", policy=lax)
    assert "username" in refusal("password-alice", "alice", policy=lax)


# -- the zxcvbn score -----------------------------------------------------------------------


def test_min_score_is_off_by_default() -> None:
    assert POLICY.min_score is None
    POLICY.check("zzzzzzzz")  # long enough, not listed; zxcvbn would give it a 0


def test_min_score_refuses_an_easy_guess() -> None:
    strict = PasswordPolicy(min_score=3)
    assert "too easy to guess" in refusal("zzzzzzzz", policy=strict)
    assert "too easy to guess" in refusal("password12345", policy=strict)  # not in the list
    strict.check("violet kayak tractor 41")
    PasswordPolicy(min_score=0).check("zzzzzzzz")


@pytest.mark.parametrize("length", [72, 73, 100, MAX_PASSWORD_LENGTH])
def test_min_score_judges_a_long_password_without_an_error(length: int) -> None:
    """zxcvbn refuses (ValueError) more than 72 characters: it is shown the first 72, and a
    long password is accepted or refused as a WeakPassword, never with zxcvbn's error."""
    strict = PasswordPolicy(min_score=4)
    strict.check(secrets.token_urlsafe(length)[:length])
    assert "too easy to guess" in refusal("z" * length, policy=strict)


@pytest.mark.parametrize("min_score", [-1, 5])
def test_min_score_out_of_range_is_refused(min_score: int) -> None:
    with pytest.raises(ValueError, match="min_score must be between 0 and 4"):
        PasswordPolicy(min_score=min_score)


# -- the refusal ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "userid", "policy"),
    [
        ("Zq9#vk", None, POLICY),
        ("Wonderland-alice-7", "alice", POLICY),
        ("Sunshine", None, POLICY),
        ("zzzzzzzzzzzzzzzz", None, PasswordPolicy(min_score=4)),
        ("Q" * (MAX_PASSWORD_LENGTH + 1), None, POLICY),
        ("secret\x07bell", None, POLICY),
    ],
    ids=["short", "userid", "common", "score", "too-long", "control"],
)
def test_the_message_never_holds_the_password(
    password: str, userid: str | None, policy: PasswordPolicy
) -> None:
    with pytest.raises(WeakPassword) as refused:
        policy.check(password, userid)
    error = refused.value
    for shown in (str(error), repr(error), *map(str, error.args)):
        assert password not in shown
        assert password.casefold() not in shown.casefold()
    assert error.__cause__ is None


def test_weak_password_is_a_value_error_and_a_restauth_error() -> None:
    with pytest.raises(WeakPassword) as refused:
        POLICY.check("short")
    assert isinstance(refused.value, ValueError)
    assert isinstance(refused.value, RestauthError)


def test_the_policy_is_a_frozen_value() -> None:
    assert PasswordPolicy() == DEFAULT_POLICY
    assert (DEFAULT_POLICY.min_length, DEFAULT_POLICY.common) == (8, True)
    with pytest.raises(AttributeError):
        DEFAULT_POLICY.min_length = 1  # type: ignore[misc]


# -- the memory store -----------------------------------------------------------------------


@pytest.fixture
def store(hasher: PasswordHasher) -> MemoryUserStore:
    return MemoryUserStore(hasher=hasher)


def test_the_store_applies_the_default_policy(store: MemoryUserStore) -> None:
    assert store.policy == DEFAULT_POLICY


@pytest.mark.parametrize(
    ("userid", "password", "reason"),
    [
        ("alice", "pw", "at least 8"),
        ("alice", "alice-pw-2024", "username"),
        ("alice", "Password1", "common"),
    ],
)
def test_add_refuses_a_weak_password_and_adds_nobody(
    store: MemoryUserStore, userid: str, password: str, reason: str
) -> None:
    with pytest.raises(WeakPassword, match=reason):
        store.add(userid, password)
    assert store.get(userid) is None
    assert list(store.userids()) == []


def test_set_password_refuses_a_weak_password_and_changes_nothing(
    store: MemoryUserStore, hasher: PasswordHasher
) -> None:
    before = store.add("alice", "wonderland-key-7", roles=["user"])
    for weak, reason in [
        ("new", "at least 8"),
        ("ALICE-2025!", "username"),
        ("letmein1", "common"),
    ]:
        with pytest.raises(WeakPassword, match=reason):
            store.set_password("alice", weak)
    assert store.get("alice") == before
    assert hasher.verify("wonderland-key-7", before.password_hash)
    changed = store.set_password("alice", "looking-glass-8")
    assert changed.stamp != before.stamp


def test_the_userid_is_judged_in_its_stored_form(store: MemoryUserStore) -> None:
    """The userid is NFC-normalised before the policy sees it, as the store keeps it."""
    with pytest.raises(WeakPassword, match="username"):
        store.add(unicodedata.normalize("NFD", "zoë"), "zoë forever and ever")
    store.add("zoë", "forever and ever")
    with pytest.raises(WeakPassword, match="username"):
        store.set_password("zoë", "ZOË forever and ever")


def test_a_policy_of_the_stores_own(hasher: PasswordHasher) -> None:
    store = MemoryUserStore(hasher=hasher, policy=PasswordPolicy(min_length=16))
    assert len("looking-glass-8") == 15
    with pytest.raises(WeakPassword, match="at least 16"):
        store.add("alice", "looking-glass-8")
    store.add("alice", "wonderland-key-7")  # 16 characters
    with pytest.raises(WeakPassword, match="at least 16"):
        store.set_password("alice", "looking-glass-8")


def test_policy_none_applies_only_the_hashers_limits(hasher: PasswordHasher) -> None:
    store = MemoryUserStore(hasher=hasher, policy=None)
    assert store.add("alice", "pw").userid == "alice"
    assert store.add("bob", "bob").userid == "bob"
    changed = store.set_password("alice", "password")
    assert hasher.verify("password", changed.password_hash)
    assert store.get("alice") == changed
    with pytest.raises(ValueError, match="empty"):
        store.add("carol", "")
    with pytest.raises(ValueError, match="control characters"):
        store.set_password("alice", "tab\tpw")


def test_logins_never_apply_the_policy(hasher: PasswordHasher) -> None:
    """A policy tightened later must not lock out a user whose password predates it."""
    store = MemoryUserStore(hasher=hasher)
    store.add_hashed("alice", hasher.hash("pw"), roles=["user"])  # e.g. from a config file
    client = TestApp(AuthMiddleware(echo_app, users=store))
    response = client.get("/", headers={"Authorization": basic("alice", "pw")}, status=200)
    assert response.json["userid"] == "alice"
    login = client.post_json("/tokens", {"username": "alice", "password": "pw"}, status=200)
    assert login.json["userid"] == "alice"
