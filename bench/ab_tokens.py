"""Per-request cost of a Token request, one tree against another, side by side.

    python bench/ab_tokens.py --before /tmp/restauth-before/src --after src

Each round runs every (tree, store) pair in a fresh subprocess, in a new random order, and
reports the median over rounds of (Token request - bare app) in µs per request, wall
clock. A store a tree does not have (PostgreSQL tokens before issue 17) is left out.
The subprocess imports restauth from the tree given, so both trees run on one machine,
in one run, interleaved: drift of a shared machine touches both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

STORES = ("memory", "sqlite", "redis", "postgres")

# Runs in the subprocess, with the tree's src first on sys.path.
CHILD = r"""
import io, json, os, sys, tempfile, time, uuid
store, requests = sys.argv[1], int(sys.argv[2])
from restauth import AuthMiddleware, MemoryUserStore, PasswordHasher
KEY = "benchmark-secret-key-0123456789"
users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
users.add("alice", "correct horse battery staple", roles=["user"])
if store == "memory":
    from restauth import MemoryTokenManager
    tokens = MemoryTokenManager(secret_key=KEY)
elif store == "sqlite":
    from restauth.tokens.sqlite import SQLiteTokenManager
    tokens = SQLiteTokenManager(os.path.join(tempfile.mkdtemp(), "t.db"), secret_key=KEY)
elif store == "redis":
    from restauth.tokens.redis import RedisTokenManager
    url = os.environ.get("RESTAUTH_REDIS_URL", "redis://127.0.0.1:6379/15")
    tokens = RedisTokenManager(url, secret_key=KEY, prefix=f"ab-{uuid.uuid4().hex}:")
else:
    try:
        from restauth.tokens.postgres import PostgresTokenManager
    except ImportError:
        print(json.dumps(None)); sys.exit(0)
    import psycopg
    dsn = os.environ.get("RESTAUTH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    schema = "ab_" + uuid.uuid4().hex[:10]
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute(f"CREATE SCHEMA {schema}")
    tokens = PostgresTokenManager(f"{dsn}?options=-csearch_path%3D{schema}", secret_key=KEY)
def bare(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "20")])
    return [b"hello, benchmark!!!\n"]
app = AuthMiddleware(bare, users=users, tokens=tokens, realm="bench")
token = tokens.issue("alice", users.get("alice").stamp).token
def environ(auth):
    e = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": "",
         "SERVER_NAME": "localhost", "SERVER_PORT": "443", "SERVER_PROTOCOL": "HTTP/1.1",
         "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "localhost", "wsgi.version": (1, 0),
         "wsgi.url_scheme": "https", "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr,
         "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False}
    if auth:
        e["HTTP_AUTHORIZATION"] = auth
    return e
def start_response(status, headers, exc_info=None):
    assert status.startswith("200"), status
def timed(wsgi, auth):
    best = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(requests):
            for _chunk in wsgi(environ(auth), start_response):
                pass
        best.append((time.perf_counter() - t) / requests)
    return min(best)
timed(app, f"Token {token}")  # warm: connections, scripts, statement caches
print(json.dumps((timed(app, f"Token {token}") - timed(bare, None)) * 1e6))
"""


def measure(src: str, store: str, requests: int) -> float | None:
    env = {**os.environ, "PYTHONPATH": str(Path(src).resolve())}
    result = subprocess.run(
        [sys.executable, "-c", CHILD, store, str(requests)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    value: float | None = json.loads(result.stdout.strip().splitlines()[-1])
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="src/ of the tree before")
    parser.add_argument("--after", default="src", help="src/ of the tree after")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    trees = {"before": args.before, "after": args.after}
    samples: dict[tuple[str, str], list[float]] = {}
    for round_ in range(args.rounds):
        pairs = [(tree, store) for tree in trees for store in STORES]
        random.shuffle(pairs)
        for tree, store in pairs:
            value = measure(trees[tree], store, args.requests if store == "memory" else 500)
            if value is not None:
                samples.setdefault((tree, store), []).append(value)
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr)
    print("| store | before (µs over bare) | after | after / before |")
    print("| --- | ---: | ---: | ---: |")
    for store in STORES:
        before = samples.get(("before", store))
        after = samples.get(("after", store))
        b = statistics.median(before) if before else None
        a = statistics.median(after) if after else None
        ratio = f"{a / b:.2f}" if a is not None and b else "new"
        print(
            f"| {store} | {'—' if b is None else f'{b:.1f}'} | "
            f"{'—' if a is None else f'{a:.1f}'} | {ratio} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
