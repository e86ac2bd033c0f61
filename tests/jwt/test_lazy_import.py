"""``import restauth`` works without PyJWT; the JWT names load it on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

import restauth

BLOCK_JWT = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "jwt" or name.startswith("jwt."):
            raise ImportError("PyJWT is not installed")
sys.meta_path.insert(0, Block())
import restauth
assert "jwt" not in sys.modules
print(restauth.MemoryTokenManager.__name__, restauth.SQLiteRevocation.__name__)
try:
    restauth.JWTTokenManager
except ImportError:
    print("needs PyJWT")
"""


def test_restauth_imports_without_pyjwt() -> None:
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_JWT], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["MemoryTokenManager", "SQLiteRevocation", "needs", "PyJWT"]


def test_lazy_names_resolve() -> None:
    from restauth.bearers.jwt import JWTBearer
    from restauth.tokens.jwt import JWTTokenManager

    assert restauth.JWTTokenManager is JWTTokenManager
    assert restauth.JWTBearer is JWTBearer
    with pytest.raises(AttributeError):
        _ = restauth.NoSuchThing  # type: ignore[attr-defined]
