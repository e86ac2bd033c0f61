"""Hash formats: v2's keyed pre-hash, v1 and plain bcrypt still read, Argon2id, and which
stored hashes are weaker than a new one (``needs_rehash``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import sys

import argon2
import bcrypt
import pytest

from restauth.passwords.hasher import V1_PREFIX, V2_PREFIX, Check, PasswordHasher, looks_like_hash

# OWASP Password Storage Cheat Sheet: Argon2id with at least m=19 MiB, t=2, p=1.
OWASP_MINIMUM = argon2.Parameters(
    type=argon2.Type.ID,
    version=19,
    salt_len=16,
    hash_len=32,
    time_cost=2,
    memory_cost=19456,
    parallelism=1,
)


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    return PasswordHasher(rounds=4)


@pytest.fixture(scope="module")
def argon2id() -> PasswordHasher:
    return PasswordHasher(scheme="argon2id")


def v1_hash(password: str, rounds: int = 4) -> str:
    """What restauth stored before v2: bcrypt over an unkeyed SHA-256."""
    prehash = base64.b64encode(hashlib.sha256(password.encode()).digest())
    return V1_PREFIX + bcrypt.hashpw(prehash, bcrypt.gensalt(rounds)).decode()


@pytest.fixture
def argon2_verifies(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hashes argon2-cffi is asked to verify from now on, in order."""
    calls: list[str] = []
    real = argon2.PasswordHasher.verify

    def counting(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
        calls.append(str(hash))
        return real(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)
    return calls


# -- v2: the pre-hash is keyed per hash (no password shucking) ----------------------------


def test_new_hashes_are_v2_keyed_with_their_own_bcrypt_salt(hasher: PasswordHasher) -> None:
    stored = hasher.hash("s3cret")
    assert stored.startswith(V2_PREFIX)
    hashed = stored[len(V2_PREFIX) :].encode()
    salt = hashed[:29]  # "$2b$04$" and the 22 salt characters
    keyed = base64.b64encode(hmac.new(salt, b"s3cret", hashlib.sha256).digest())
    assert bcrypt.checkpw(keyed, hashed)
    # An unsalted SHA-256 of the password leaked elsewhere no longer tests against it.
    unkeyed = base64.b64encode(hashlib.sha256(b"s3cret").digest())
    assert not bcrypt.checkpw(unkeyed, hashed)


def test_v2_keys_differ_per_hash(hasher: PasswordHasher) -> None:
    """Two hashes of one password have different salts, so different pre-hash keys."""
    first, second = hasher.hash("same"), hasher.hash("same")
    assert first[len(V2_PREFIX) :][:29] != second[len(V2_PREFIX) :][:29]
    assert hasher.verify("same", first)
    assert hasher.verify("same", second)


def test_v1_and_plain_bcrypt_still_verify(hasher: PasswordHasher) -> None:
    assert hasher.verify("old-format", v1_hash("old-format"))
    assert not hasher.verify("old-formaT", v1_hash("old-format"))
    plain = bcrypt.hashpw(b"htpasswd", bcrypt.gensalt(4)).decode()
    assert hasher.verify("htpasswd", plain)


def test_v2_prefix_is_not_read_as_v1(hasher: PasswordHasher) -> None:
    """The version in the prefix decides the pre-hash: a v1 body under v2 never matches."""
    relabelled = V2_PREFIX + v1_hash("pw")[len(V1_PREFIX) :]
    assert hasher.check("pw", relabelled) is Check.MISMATCH


@pytest.mark.parametrize(
    ("make", "weaker"),
    [
        (lambda: PasswordHasher(rounds=4).hash("pw"), True),  # a lower cost
        (lambda: PasswordHasher(rounds=5).hash("pw"), False),  # the current cost
        (lambda: PasswordHasher(rounds=6).hash("pw"), False),  # a higher cost stays
        (lambda: v1_hash("pw", rounds=6), True),  # unkeyed pre-hash
        (lambda: bcrypt.hashpw(b"pw", bcrypt.gensalt(6)).decode(), True),  # plain import
        (lambda: PasswordHasher(scheme="argon2id").hash("pw"), True),  # another scheme
    ],
)
def test_bcrypt_needs_rehash(make: object, weaker: bool) -> None:
    current = PasswordHasher(rounds=5)
    stored = make()  # type: ignore[operator]
    assert current.verify("pw", stored)
    assert current.needs_rehash(stored) is weaker


# -- Argon2id ------------------------------------------------------------------------------


def test_argon2id_hashes_at_or_above_owasp_minimum(argon2id: PasswordHasher) -> None:
    stored = argon2id.hash("caf\u00e9 s3cret")
    assert stored.startswith("$argon2id$")
    assert looks_like_hash(stored)
    parameters = argon2.extract_parameters(stored)
    assert parameters.memory_cost >= OWASP_MINIMUM.memory_cost
    assert parameters.time_cost >= OWASP_MINIMUM.time_cost
    assert parameters.parallelism >= OWASP_MINIMUM.parallelism
    assert argon2id.verify("cafe\u0301 s3cret", stored)  # NFC, as with bcrypt
    assert not argon2id.verify("cafe s3cret", stored)
    assert not argon2id.needs_rehash(stored)


def test_argon2id_reads_bcrypt_hashes_and_wants_them_replaced(
    argon2id: PasswordHasher, hasher: PasswordHasher
) -> None:
    for stored in (hasher.hash("pw"), v1_hash("pw")):
        assert argon2id.verify("pw", stored)
        assert argon2id.needs_rehash(stored)


def test_bcrypt_reads_argon2id_hashes_and_wants_them_replaced(
    argon2id: PasswordHasher, hasher: PasswordHasher
) -> None:
    stored = argon2id.hash("pw")
    assert hasher.verify("pw", stored)
    assert not hasher.verify("pW", stored)
    assert hasher.needs_rehash(stored)


def test_weaker_argon2_parameters_need_a_rehash(argon2id: PasswordHasher) -> None:
    weaker = argon2.PasswordHasher.from_parameters(OWASP_MINIMUM).hash("pw")
    assert argon2id.verify("pw", weaker)
    assert argon2id.needs_rehash(weaker)


def test_stronger_argon2_parameters_are_kept(argon2id: PasswordHasher) -> None:
    """argon2-cffi's check_needs_rehash flags any difference; a rehash must never weaken."""
    stronger = argon2.PasswordHasher(memory_cost=131072, time_cost=4, parallelism=2).hash("pw")
    assert argon2id.verify("pw", stronger)
    assert not argon2id.needs_rehash(stronger)
    assert argon2.PasswordHasher().check_needs_rehash(stronger)  # what it would have done


def test_argon2i_hashes_verify_and_are_replaced_by_argon2id(argon2id: PasswordHasher) -> None:
    argon2i = argon2.PasswordHasher(type=argon2.Type.I).hash("pw")
    assert argon2id.verify("pw", argon2i)
    assert argon2id.needs_rehash(argon2i)


def test_unknown_user_costs_exactly_one_argon2id_check(
    argon2id: PasswordHasher, argon2_verifies: list[str], bcrypt_calls: list[bytes]
) -> None:
    argon2id.verify("warm", None)  # the dummy hash is made once
    argon2_verifies.clear()
    assert argon2id.verify("guess", None) is False
    assert len(argon2_verifies) == 1
    assert argon2_verifies[0].startswith("$argon2id$")
    dummy, real = (
        argon2.extract_parameters(argon2_verifies[0]),
        argon2.extract_parameters(argon2id.hash("pw")),
    )
    assert dummy == real  # the dummy costs what a real hash costs
    assert bcrypt_calls == []


@pytest.mark.parametrize("password", ["", "x" * 2000, "lone\ud800"])
def test_unusable_passwords_against_argon2id_cost_one_check(
    argon2id: PasswordHasher, argon2_verifies: list[str], password: str
) -> None:
    stored = argon2id.hash("right")
    argon2_verifies.clear()
    assert argon2id.verify(password, stored) is False
    assert len(argon2_verifies) == 1


@pytest.mark.parametrize(
    "stored",
    [
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$garbage!",
        "$argon2id$garbage",
        "$argon2id$v=19$m=65536,t=3,p=4$$",
    ],
)
def test_corrupt_argon2_hashes_are_corrupt(
    argon2id: PasswordHasher, hasher: PasswordHasher, stored: str
) -> None:
    assert argon2id.check("pw", stored) is Check.CORRUPT
    assert hasher.check("pw", stored) is Check.CORRUPT


def test_argon2id_without_the_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "argon2", None)  # what an absent package looks like
    with pytest.raises(ImportError, match=r"restauth\[argon2\]"):
        PasswordHasher(scheme="argon2id")
    assert PasswordHasher(rounds=4).verify("pw", PasswordHasher(rounds=4).hash("pw"))


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="scheme"):
        PasswordHasher(scheme="md5")
