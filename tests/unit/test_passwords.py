"""``PasswordHasher``: bcrypt without the 72-byte trap, and no input that can raise."""

from __future__ import annotations

import base64
import hashlib

import bcrypt
import pytest

from restauth.passwords.hasher import (
    MAX_PASSWORD_LENGTH,
    PREHASH_PREFIX,
    V1_PREFIX,
    Check,
    PasswordHasher,
    check_password,
)


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(rounds=4)


def test_hash_verifies_and_is_salted(hasher: PasswordHasher) -> None:
    first, second = hasher.hash("s3cret"), hasher.hash("s3cret")
    assert first.startswith(PREHASH_PREFIX)
    assert first != second
    assert hasher.verify("s3cret", first)
    assert not hasher.verify("s3cret!", first)


def test_long_passwords_are_verified_whole(hasher: PasswordHasher) -> None:
    """bcrypt alone reads 72 bytes; two passwords sharing those must still differ."""
    common = "x" * 72
    stored = hasher.hash(common + "A")
    assert hasher.verify(common + "A", stored)
    assert not hasher.verify(common + "B", stored)
    assert not hasher.verify(common, stored)


def test_password_is_nfc_normalised(hasher: PasswordHasher) -> None:
    stored = hasher.hash("caf\u00e9")
    assert hasher.verify("cafe\u0301", stored)


def test_plain_bcrypt_hashes_from_elsewhere_are_accepted(hasher: PasswordHasher) -> None:
    stored = bcrypt.hashpw(b"htpasswd-made", bcrypt.gensalt(4)).decode()
    assert hasher.verify("htpasswd-made", stored)
    assert not hasher.verify("htpasswd-mad", stored)


def test_plain_bcrypt_never_truncates_a_long_password(hasher: PasswordHasher) -> None:
    stored = bcrypt.hashpw(b"y" * 72, bcrypt.gensalt(4)).decode()
    assert hasher.verify("y" * 72, stored)
    assert not hasher.verify("y" * 73, stored)  # bcrypt 4 would have said yes


@pytest.mark.parametrize(
    "stored", ["", "garbage", PREHASH_PREFIX + "garbage", "$2b$04$short", "$2b$04$\u00e9" * 3]
)
def test_corrupt_stored_hashes_never_match_and_never_raise(
    hasher: PasswordHasher, stored: str, bcrypt_calls: list[bytes]
) -> None:
    hasher.verify("warm", None)
    dummy = bcrypt_calls.pop()
    assert hasher.verify("anything", stored) is False
    assert hasher.check("anything", stored) is Check.CORRUPT  # the authenticator logs it
    assert bcrypt_calls.count(dummy) == 2  # one real check each: as long as a wrong password


def test_a_wrong_password_is_a_mismatch_not_corrupt(hasher: PasswordHasher) -> None:
    stored = hasher.hash("right")
    assert hasher.check("wrong", stored) is Check.MISMATCH
    assert hasher.check("right", stored) is Check.MATCH


def empty_password_hashes() -> list[str]:
    """Hashes of the empty password, as ``add_hashed`` could import them."""
    unkeyed = base64.b64encode(hashlib.sha256(b"").digest())
    return [
        V1_PREFIX + bcrypt.hashpw(unkeyed, bcrypt.gensalt(4)).decode(),
        bcrypt.hashpw(b"", bcrypt.gensalt(4)).decode(),  # htpasswd -B of ""
    ]


@pytest.mark.parametrize("stored", empty_password_hashes())
def test_an_empty_password_never_matches_even_a_hash_of_it(
    hasher: PasswordHasher, stored: str, bcrypt_calls: list[bytes]
) -> None:
    hasher.verify("warm", None)
    bcrypt_calls.clear()
    assert hasher.check("", stored) is Check.MISMATCH
    assert len(bcrypt_calls) == 1  # still one bcrypt check, on the dummy hash
    assert bcrypt_calls[0] != stored.removeprefix(V1_PREFIX).encode()


@pytest.mark.parametrize(
    "password", ["", "\x00", "a\x00b", "x" * (MAX_PASSWORD_LENGTH + 10), "é" * 80]
)
def test_verify_never_raises_on_odd_passwords(hasher: PasswordHasher, password: str) -> None:
    assert hasher.verify(password, hasher.hash("right")) is False
    assert hasher.verify(password, None) is False


def test_unknown_user_costs_one_bcrypt_check(
    hasher: PasswordHasher, bcrypt_calls: list[bytes]
) -> None:
    hasher.verify("warm", None)  # the dummy hash is made once
    bcrypt_calls.clear()
    assert hasher.verify("guess", None) is False
    assert len(bcrypt_calls) == 1
    assert bcrypt_calls[0].startswith(b"$2b$04$")  # same cost as real hashes


@pytest.mark.parametrize(
    ("password", "error"),
    [
        ("", ValueError),
        ("x" * (MAX_PASSWORD_LENGTH + 1), ValueError),
        ("tab\there", ValueError),
        ("del\x7f", ValueError),
        ("nel\x85", ValueError),  # C1: login refuses it, so enrolment must too
        ("csi\x9b", ValueError),
        ("lone\ud800", ValueError),
        (b"bytes", TypeError),
    ],
)
def test_enrolment_refuses_what_login_could_not_accept(password: object, error: type) -> None:
    with pytest.raises(error):
        check_password(password)  # type: ignore[arg-type]


def test_rounds_are_bounded() -> None:
    with pytest.raises(ValueError, match="rounds"):
        PasswordHasher(rounds=3)
    with pytest.raises(ValueError, match="rounds"):
        PasswordHasher(rounds=32)
