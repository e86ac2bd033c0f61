"""Can response times tell an attacker anything? Medians of failing requests, side by side.

Standalone: ``python bench/timing.py [--basic N] [--tokens N] [--store memory|sqlite]``.
Each request goes through :class:`restauth.AuthMiddleware` (WSGI callable called
directly: no server, no sockets) and fails; what is compared is how long it takes:

- Basic, **unknown user** vs **wrong password** for a real user (bcrypt at the
  :class:`~restauth.PasswordHasher` default cost): ASVS 5.0 6.3.8, the Spring
  CVE-2012-5055 class. Both must cost one bcrypt check.
- Basic with a **token-shaped** wrong password, unknown user vs real user (the real
  user's is also tried as a token first: RESTHeart's token-as-password).
- ``Token``: a **valid-prefix** token (a real token with the last character of its
  MAC changed, at random) vs a **random** token of the same shape: the MAC is compared with
  ``hmac.compare_digest`` (ASVS 5.0 11.2.4, DRF #5041 / knox class).

The categories are interleaved in a shuffled order on every round, so drift on a busy
machine hits them alike. Throttling is off (it would answer 429 after five failures).
A ratio of medians near 1.00 means the two paths cannot be told apart by their median;
the spread (p25-p75) shows how noisy the machine was.
"""

from __future__ import annotations

import argparse
import base64
import logging
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore, PasswordHasher


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]


def caller(middleware: AuthMiddleware) -> Callable[[str], str]:
    """One request with the given ``Authorization`` value; returns the status."""
    seen: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
        seen.append(status)

    def call(authorization: str) -> str:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/resource",
            "SERVER_NAME": "bench",
            "SERVER_PORT": "443",
            "wsgi.url_scheme": "https",
            "REMOTE_ADDR": "203.0.113.9",
            "HTTP_AUTHORIZATION": authorization,
        }
        b"".join(middleware(environ, start_response))
        return seen.pop()

    return call


def basic(userid: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{userid}:{password}".encode()).decode("ascii")


def counter() -> Callable[[], int]:
    state = [0]

    def next_value() -> int:
        state[0] += 1
        return state[0]

    return next_value


def build(store: str, directory: Path) -> tuple[AuthMiddleware, str, int]:
    hasher = PasswordHasher()  # the default cost: what a deployment runs
    users = MemoryUserStore(hasher=hasher)
    users.add("alice", "correct horse battery staple")
    tokens: Any
    if store == "sqlite":
        from restauth.tokens.sqlite import SQLiteTokenManager

        tokens = SQLiteTokenManager(directory / "bench.db", secret_key=secrets.token_bytes(32))
    else:
        tokens = MemoryTokenManager()
    user = users.get("alice")
    assert user is not None
    token = tokens.issue("alice", user.stamp).token
    middleware = AuthMiddleware(app, users=users, tokens=tokens, throttle=None)
    return middleware, token, hasher.rounds


def categories(token: str) -> dict[str, Callable[[], str]]:
    """Each category's ``Authorization`` value maker (called outside the timed region)."""
    n = counter()
    token_id, _, mac = token.partition(".")
    others = [
        c
        for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        if c != mac[-1]
    ]

    def random_token() -> str:
        return f"{secrets.token_urlsafe(16)}.{secrets.token_urlsafe(32)}"

    return {
        "basic unknown user": lambda: basic(f"ghost{n()}", f"guess{n()}"),
        "basic wrong password": lambda: basic("alice", f"guess{n()}"),
        "token-shaped, unknown user": lambda: basic(f"ghost{n()}", random_token()),
        "token-shaped, real user": lambda: basic("alice", random_token()),
        "token valid prefix": lambda: f"Token {token_id}.{mac[:-1]}{secrets.choice(others)}",
        "token random": lambda: f"Token {random_token()}",
    }


PAIRS = [
    ("basic unknown user", "basic wrong password"),
    ("token-shaped, unknown user", "token-shaped, real user"),
    ("token valid prefix", "token random"),
]


def measure(
    call: Callable[[str], str], makers: dict[str, Callable[[], str]], names: list[str], rounds: int
) -> dict[str, list[int]]:
    samples: dict[str, list[int]] = {name: [] for name in names}
    rng = random.Random(1)  # only the order of measurements
    for name in names:  # warm up every path
        call(makers[name]())
    for _ in range(rounds):
        order = names[:]
        rng.shuffle(order)
        for name in order:
            value = makers[name]()
            start = time.perf_counter_ns()
            status = call(value)
            samples[name].append(time.perf_counter_ns() - start)
            assert status.startswith("401"), (name, status)
    return samples


def report(samples: dict[str, list[int]], unit: float, label: str) -> None:
    for name, values in samples.items():
        q1, median, q3 = statistics.quantiles(values, n=4)
        print(
            f"  {name:28} median {median / unit:9.3f} {label}  "
            f"p25-p75 {q1 / unit:9.3f}-{q3 / unit:9.3f}  (n={len(values)})"
        )


def quiet_audit() -> None:
    """Records are still built (as in production), then dropped instead of printed."""
    logger = logging.getLogger("restauth")
    logger.addHandler(logging.NullHandler())
    logger.propagate = False


def main() -> int:
    quiet_audit()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--basic", type=int, default=40, help="rounds of bcrypt requests")
    parser.add_argument("--tokens", type=int, default=5000, help="rounds of token requests")
    parser.add_argument("--store", choices=["memory", "sqlite"], default="memory")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        middleware, token, rounds = build(options.store, Path(directory))
        call, makers = caller(middleware), categories(token)
        print(f"restauth timing: bcrypt cost {rounds}, token store {options.store}")
        basic_names = [n for pair in PAIRS[:2] for n in pair]
        slow = measure(call, makers, basic_names, options.basic)
        report(slow, 1e6, "ms")
        fast = measure(call, makers, list(PAIRS[2]), options.tokens)
        report(fast, 1e3, "µs")
    medians = {name: statistics.median(v) for name, v in {**slow, **fast}.items()}
    print("ratios of medians (want ~1.00):")
    for first, second in PAIRS:
        print(f"  {first} / {second}: {medians[first] / medians[second]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
