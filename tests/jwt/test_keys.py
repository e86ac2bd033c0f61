"""JWTKey: the algorithm follows the key, weak keys are refused, kid is the RFC 7638 thumbprint."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from restauth.tokens.jwt import JWTKey, thumbprint
from tests.jwt.conftest import HS_SECRET

# RFC 7638 §3.1: this RSA key's thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
    "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
    "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)


def test_rfc7638_thumbprint() -> None:
    n = int.from_bytes(base64.urlsafe_b64decode(RFC7638_N + "=="), "big")
    public = rsa.RSAPublicNumbers(65537, n).public_key()
    assert thumbprint(public) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    key = JWTKey(public)
    assert key.kid == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert (key.alg, key.can_sign) == ("RS256", False)


def test_algorithm_follows_the_key(rsa_private: rsa.RSAPrivateKey) -> None:
    assert JWTKey(HS_SECRET).alg == "HS256"
    assert JWTKey(rsa_private).alg == "RS256"
    assert JWTKey(ec.generate_private_key(ec.SECP256R1())).alg == "ES256"
    assert JWTKey(ed25519.Ed25519PrivateKey.generate()).alg == "EdDSA"


def test_stated_algorithm_must_match(rsa_private: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="RS256, not HS256"):
        JWTKey(rsa_private, alg="HS256")
    with pytest.raises(ValueError, match="HS256, not RS256"):
        JWTKey(HS_SECRET, alg="RS256")
    assert JWTKey(rsa_private, alg="RS256").alg == "RS256"


def test_weak_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        JWTKey("short secret")
    with pytest.raises(ValueError, match="2048"):
        JWTKey(rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505
    with pytest.raises(ValueError, match="P-256"):
        JWTKey(ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(TypeError):
        JWTKey(1234)  # type: ignore[arg-type]


def test_a_public_key_pem_is_never_an_hmac_secret(rsa_private: rsa.RSAPrivateKey) -> None:
    """The classic HS/RS confusion starts with a public key used as a secret: a PEM is a key."""
    pem = rsa_private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key = JWTKey(pem)
    assert (key.alg, key.can_sign) == ("RS256", False)
    with pytest.raises(ValueError, match="cannot sign"):
        key.sign({"sub": "x"})
    with pytest.raises(ValueError, match="RS256, not HS256"):
        JWTKey(pem.decode(), alg="HS256")


def test_private_pem_signs(rsa_private: rsa.RSAPrivateKey) -> None:
    pem = rsa_private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key = JWTKey(pem)
    assert key.can_sign
    assert key.kid == JWTKey(rsa_private).kid


def test_hs_kid_reveals_nothing_and_repr_hides_the_secret() -> None:
    key = JWTKey(HS_SECRET)
    assert key.kid.startswith("hs-")
    assert HS_SECRET not in key.kid
    assert HS_SECRET not in repr(key)
    assert JWTKey(HS_SECRET, kid="2026-12").kid == "2026-12"
    with pytest.raises(ValueError, match="no public form"):
        key.public_jwk()


def test_public_jwk(rsa_private: rsa.RSAPrivateKey) -> None:
    jwk = JWTKey(rsa_private).public_jwk()
    assert jwk["kty"] == "RSA"
    assert jwk["alg"] == "RS256"
    assert jwk["use"] == "sig"
    assert "d" not in jwk  # never the private part
