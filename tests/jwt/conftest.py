"""JWT fixtures: keys made here, a JWKS served on 127.0.0.1, revocation stores of each kind."""

from __future__ import annotations

import json
import threading
import uuid
from base64 import urlsafe_b64encode
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jwt")  # the jwt extra; the test extra installs it

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

from restauth.tokens.jwt import JWTKey
from restauth.tokens.revocation import (
    MemoryRevocation,
    RedisRevocation,
    RevocationStore,
    SQLiteRevocation,
)
from tests.services import redis_url

HS_SECRET = "jwt-test-secret-0123456789abcdef-0123"


@pytest.fixture(scope="session")
def rsa_private() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def key_factories(rsa_private: rsa.RSAPrivateKey) -> dict[str, Callable[[], JWTKey]]:
    """One key of each algorithm (RSA generation is slow: one key per session)."""
    ed = ed25519.Ed25519PrivateKey.generate()
    es = ec.generate_private_key(ec.SECP256R1())
    return {
        "HS256": lambda: JWTKey(HS_SECRET),
        "RS256": lambda: JWTKey(rsa_private),
        "ES256": lambda: JWTKey(es),
        "EdDSA": lambda: JWTKey(ed),
    }


@pytest.fixture(params=["HS256", "RS256", "ES256", "EdDSA"])
def any_key(request: pytest.FixtureRequest, key_factories: dict[str, Any]) -> JWTKey:
    key: JWTKey = key_factories[request.param]()
    return key


def b64(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A JWT assembled by hand, for the attacks PyJWT refuses to produce."""
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    return f"{head}.{body}.{b64(signature)}"


def signed(header: dict[str, Any], claims: dict[str, Any], private: Any) -> str:
    """A JWT with exactly ``header`` (PyJWT's encode rewrites some members), really signed."""
    algorithm = get_default_algorithms()[header["alg"]]
    unsigned = forge(header, claims).rsplit(".", 1)[0]
    signature = algorithm.sign(unsigned.encode(), algorithm.prepare_key(private))
    return f"{unsigned}.{b64(signature)}"


class JWKSServer:
    """A JWKS document on http://127.0.0.1:<port>/jwks.json that tests can change and count."""

    def __init__(self) -> None:
        self.document: dict[str, Any] = {"keys": []}
        self.requests = 0
        self.redirect_to: str | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if server.redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", server.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps(server.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def publish(self, *keys: JWTKey) -> None:
        self.document = {"keys": [key.public_jwk() for key in keys]}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def jwks_server() -> Iterator[JWKSServer]:
    server = JWKSServer()
    yield server
    server.close()


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make_revocation(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[], RevocationStore]]:
    """Build revocation stores of one backend that share their records (like two nodes)."""
    made: list[RevocationStore] = []
    shared = MemoryRevocation()
    prefix = f"restauth-test:{uuid.uuid4().hex}:"

    def make() -> RevocationStore:
        store: RevocationStore
        if request.param == "memory":
            return shared
        if request.param == "sqlite":
            store = SQLiteRevocation(tmp_path / "revocations.db")
        else:
            store = RedisRevocation(redis_url(), prefix=prefix)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
    if request.param == "redis":
        import redis

        client = redis.Redis.from_url(redis_url())
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
