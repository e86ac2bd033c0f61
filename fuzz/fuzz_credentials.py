#!/usr/bin/env python3
"""Fuzz ``restauth.wire.credentials.parse_authorization``: it must never raise, and what it
returns must be credentials restauth can trust.

With atheris (coverage-guided, libFuzzer flags pass through)::

    python fuzz/fuzz_credentials.py /tmp/restauth-corpus fuzz/corpus -max_total_time=300

Without it (plain random mutation of the seed corpus, for a bounded time)::

    python fuzz/fuzz_credentials.py --plain --seconds 60

The first byte of an input picks how the rest is framed (raw header, ``Basic`` with the
rest base64-encoded so the decoder's own checks are reached, ``Basic``/``Bearer``/
``Token`` with the rest as is), so both fuzzers reach past the base64 and scheme checks.
An input that breaks a rule is written to ``fuzz/crashes/`` (plain mode) and the run
fails. See docs/hardening-tests.md.
"""

from __future__ import annotations

import argparse
import base64
import random
import re
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
CRASHES = HERE / "crashes"
MAX_INPUT = 10_000

_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_FRAMES: list[Callable[[bytes], str]] = [
    lambda rest: rest.decode("latin-1"),
    lambda rest: "Basic " + base64.b64encode(rest).decode("ascii"),
    lambda rest: "Basic " + rest.decode("latin-1"),
    lambda rest: "Bearer " + rest.decode("latin-1"),
    lambda rest: "Token " + rest.decode("latin-1"),
    lambda rest: "Basic " + base64.b64encode(rest).decode("ascii") + ",Basic Og==",
]


def header_of(data: bytes) -> str:
    """The ``HTTP_AUTHORIZATION`` value (Latin-1, as PEP 3333 hands it) an input stands for."""
    if not data:
        return ""
    return _FRAMES[data[0] % len(_FRAMES)](data[1:])


def check_one(data: bytes) -> None:
    """Parse one input; raise ``AssertionError`` if the result breaks a rule."""
    from restauth.wire.credentials import (
        BasicCredentials,
        Malformed,
        TokenCredentials,
        parse_authorization,
    )

    value = header_of(data)
    result = parse_authorization(value)
    if result is None or isinstance(result, Malformed):
        return
    if isinstance(result, TokenCredentials):
        assert result.scheme in ("token", "bearer"), result.scheme
        assert _B64TOKEN.fullmatch(result.token), "a token outside RFC 6750's b64token"
        return
    assert isinstance(result, BasicCredentials), type(result)
    userid, password = result.userid, result.password
    assert userid, "an empty userid"
    assert ":" not in userid, "a colon in the userid"
    assert not _REFUSED.search(userid + password), "a control character or surrogate"
    assert unicodedata.is_normalized("NFC", userid), "a userid not in NFC"
    assert unicodedata.is_normalized("NFC", password), "a password not in NFC"
    assert "password=<hidden>" in repr(result), "the password in repr()"
    again = base64.b64encode(f"{userid}:{password}".encode()).decode("ascii")
    assert parse_authorization("Basic " + again) == result, "not a fixed point"


def seeds() -> list[bytes]:
    return [path.read_bytes() for path in sorted(CORPUS.iterdir()) if path.is_file()]


def mutate(data: bytes, pool: list[bytes], rng: random.Random) -> bytes:
    """A few random edits: flip, insert, delete, repeat, or splice with another seed."""
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(6)
        at = rng.randint(0, len(buffer))
        if choice == 0 and buffer:
            buffer[at % len(buffer)] ^= 1 << rng.randrange(8)
        elif choice == 1:
            buffer[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif choice == 2 and buffer:
            del buffer[at : at + rng.randint(1, 8)]
        elif choice == 3:
            buffer[at:at] = rng.choice([b":", b",", b" ", b"=", b"\x00", b"\xc3", b"\xed\xa0\x80"])
        elif choice == 4 and buffer:
            piece = buffer[at : at + rng.randint(1, 16)]
            buffer[at:at] = piece * rng.randint(1, 50)
        else:
            other = rng.choice(pool)
            buffer = buffer[:at] + other[rng.randint(0, len(other)) :]
    return bytes(buffer[:MAX_INPUT])


def run_plain(seconds: float, seed: int | None) -> int:
    """Random mutation fuzzing for ``seconds``; returns the process exit status."""
    rng = random.Random(seed)  # noqa: S311 - fuzzing inputs, not secrets
    pool = seeds() or [b""]
    for data in pool:  # the corpus itself first
        check_one(data)
    runs, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        data = mutate(rng.choice(pool), pool, rng)
        runs += 1
        try:
            check_one(data)
        except Exception as error:
            CRASHES.mkdir(exist_ok=True)
            path = CRASHES / f"crash-{int(time.time())}-{runs}"
            path.write_bytes(data)
            print(f"FAIL after {runs} inputs: {type(error).__name__}: {error}; saved {path}")
            return 1
        if rng.random() < 0.01 and len(pool) < 5000:
            pool.append(data)  # keep some mutants as new starting points
    print(f"ok: {runs} inputs in {seconds:g} s ({runs / seconds:,.0f}/s), no rule broken")
    return 0


def run_atheris(argv: list[str]) -> None:
    import atheris

    with atheris.instrument_imports():
        import restauth.wire.credentials  # noqa: F401 - instrumented for coverage

    def test_one_input(data: bytes) -> None:
        check_one(data[:MAX_INPUT])

    atheris.Setup([sys.argv[0], *argv], test_one_input)
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plain", action="store_true", help="random fuzzing without atheris")
    parser.add_argument("--seconds", type=float, default=60.0, help="plain mode: run time")
    parser.add_argument("--seed", type=int, default=None, help="plain mode: random seed")
    options, rest = parser.parse_known_args()
    if not options.plain:
        try:
            import atheris  # noqa: F401
        except ImportError:
            print("atheris is not installed: falling back to --plain", file=sys.stderr)
        else:
            run_atheris(rest)
            return 0
    return run_plain(options.seconds, options.seed)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    sys.exit(main())
