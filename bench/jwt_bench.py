"""Per-request cost of JWT tokens through the middleware, next to a bare app and memory tokens.

Standalone: ``python bench/jwt_bench.py [requests]`` (needs ``restauth[jwt]``). Each row
calls the WSGI callable directly (no server, no sockets) with ``Authorization: Bearer``
and reports the median wall time of one request in microseconds, plus the median of the
token manager's ``authenticate`` alone (verify + revocation check) and of ``issue``
(signing). Tokens are young, so no request re-signs (the steady state).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore, PasswordHasher
from restauth.tokens.jwt import JWTKey, JWTTokenManager


def bare_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def median_us(call: Callable[[], object], n: int) -> float:
    for _ in range(min(200, n)):  # warm up
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def request(app: Callable[..., Iterable[bytes]], token: str | None) -> Callable[[], object]:
    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        assert status.startswith("200"), status
        return lambda data: None

    def call() -> object:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/x",
            "QUERY_STRING": "",
            "REMOTE_ADDR": "192.0.2.1",
            "wsgi.url_scheme": "https",
        }
        if token is not None:
            environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return list(app(environ, start_response))

    return call


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    stamp = users.add("alice", "correct horse battery", roles=["user"]).stamp
    managers: dict[str, Any] = {
        "memory token": MemoryTokenManager(),
        "JWT HS256": JWTTokenManager(JWTKey("k" * 32)),
        "JWT RS256": JWTTokenManager(JWTKey(rsa.generate_private_key(65537, 2048))),
        "JWT ES256": JWTTokenManager(JWTKey(ec.generate_private_key(ec.SECP256R1()))),
        "JWT EdDSA": JWTTokenManager(JWTKey(ed25519.Ed25519PrivateKey.generate())),
    }
    bare = median_us(request(bare_app, None), n)
    print(f"{'row':<14} {'request µs':>11} {'overhead µs':>12} {'verify µs':>10} {'sign µs':>8}")
    print(f"{'bare app':<14} {bare:>11.1f} {0:>12.1f} {'':>10} {'':>8}")
    for name, tokens in managers.items():
        app = AuthMiddleware(bare_app, users=users, tokens=tokens)
        token = tokens.issue("alice", stamp).token
        total = median_us(request(app, token), n)
        verify = median_us(lambda t=tokens, k=token: t.authenticate(k), n)
        sign = median_us(lambda t=tokens: t.issue("alice", stamp), max(n // 10, 50))
        print(f"{name:<14} {total:>11.1f} {total - bare:>12.1f} {verify:>10.1f} {sign:>8.1f}")


if __name__ == "__main__":
    main()
