"""The fuzzing corpus, replayed: every seed (and a fixed set of mutants) parses without
raising and yields credentials that keep every rule (fuzz/fuzz_credentials.py)."""

from __future__ import annotations

import functools
import importlib.util
import random
from pathlib import Path
from types import ModuleType

import pytest

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"


@functools.cache
def harness() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_credentials", FUZZ / "fuzz_credentials.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SEEDS = sorted(path for path in (FUZZ / "corpus").iterdir() if path.is_file())


def test_the_corpus_covers_every_frame_and_the_rfc_vectors() -> None:
    frames = {path.read_bytes()[0] % 6 for path in SEEDS if path.read_bytes()}
    assert frames == set(range(6))
    headers = {harness().header_of(path.read_bytes()) for path in SEEDS}
    assert "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==" in headers  # RFC 7617's example


@pytest.mark.parametrize("seed", SEEDS, ids=[path.name for path in SEEDS])
def test_seed_parses_by_the_rules(seed: Path) -> None:
    harness().check_one(seed.read_bytes())


def test_the_oracle_catches_a_broken_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness's rules are not vacuous: a parser that lets a NUL through fails them."""
    from restauth.wire import credentials

    fuzz = harness()
    monkeypatch.setattr(
        credentials, "check_credentials", lambda u, p: credentials.BasicCredentials(u, p)
    )
    with pytest.raises(AssertionError, match="control character"):
        fuzz.check_one((FUZZ / "corpus" / "b64-nul").read_bytes())


def test_fixed_mutants_of_the_corpus_parse_by_the_rules() -> None:
    fuzz = harness()
    pool = [path.read_bytes() for path in SEEDS]
    rng = random.Random(7)  # the same 3000 inputs on every run
    for _ in range(3000):
        fuzz.check_one(fuzz.mutate(rng.choice(pool), pool, rng))
