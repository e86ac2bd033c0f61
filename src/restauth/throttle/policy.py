"""Brute-force throttling (ASVS 4.0.3 2.2.1, 5.0 6.3.1), without a lockout an attacker could use.

Password attempts are counted per userid (canonical form, whether or not the user
exists) and per client address. Past a threshold the caller waits, doubling each
attempt; a blocked attempt is refused before any bcrypt work (429 with
``Retry-After``), even with the right password, and is not counted. Two caps keep it
from being a weapon: the per-userid wait never exceeds ``user_max_delay`` (one minute
by default: about 60 guesses an hour at most, under ASVS's 100), and a counter is
forgotten after ``window`` seconds without a counted attempt. A single noisy address
waits much longer (``address_max_delay``).

**Check and count are one atomic step.** A password attempt (Basic, ``POST /tokens``)
that is about to reach the hasher is counted *before* its password is checked (by
:class:`restauth.authenticator.Authenticator`, after the cheap checks: a token used as
a right password the cache remembers costs a read and no write, and is refused while
throttled like any other attempt), by the same operation
that decides whether it may be checked at all: under a lock in memory, one Lua script
in Redis, one ``BEGIN IMMEDIATE`` transaction in SQLite. Concurrent attempts are
therefore admitted one at a time against the same counters, whatever the number of
threads, processes or nodes sharing the store. What that guarantees, between two
successful logins of the user: with threshold N, at most N password checks for one
userid (or, with its own threshold, from one address) start before the first
refusal, then one per delay; exactly the schedule of sequential guesses, with no
allowance per worker, so concurrency buys a guesser nothing. Attempts still in flight
count, so a burst of more than N *simultaneous* attempts for one userid gets 429 for
the excess even when every password is right (``Retry-After: 1`` by default).

How an admitted attempt ends:

- a failure: nothing more to write (it was counted already);
- a success resets the userid's counter (a user who typed the password right is not
  held back by earlier typos; it also gives a guesser racing that user a new
  allowance, as it always did) and takes its own count back from the address
  counter, restoring the time of the last count when nothing was counted since, so
  successful logins never add up against a user or an address;
- an error (a store down, 503) reached no verdict: both counts are taken back.

Tokens are not throttled at all (``Token``, ``Bearer``, the cookie, a live token as a
Basic password): guessing 128 random bits is hopeless, so a refused token is not
counted, and a valid token is never refused because its address or its user is
throttled. Counting them only let a stale client (a logged-out token replayed in a
loop) lock every user behind its address out. A Basic password shaped like a token
that is not a live one is a password guess like any other.

What is shared, by whom: :class:`MemoryThrottleStore` counts in one process (each
worker of a multi-process server counts alone, and past ``max_entries`` counters the
least recently used are forgotten), the SQLite store (:mod:`restauth.throttle.sqlite`)
every process using the same file on one machine, the Redis store
(:mod:`restauth.throttle.redis`) every node. The middleware picks the token manager's
``throttle_store()`` when it has one (SQLite and Redis do), else the user store's
(:class:`SharesThrottleCounters`, :func:`shared_store`). A store that cannot answer
is a 503, never an attempt let through uncounted.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

from restauth._time import Clock


@dataclass(frozen=True, slots=True)
class Counter:
    """Attempts counted in the current window, and when the last one was counted."""

    count: int
    last: float


class Rule(NamedTuple):  # a tuple: two are made per password attempt
    """One counter an attempt is judged by: its key, and its threshold and longest wait."""

    key: str
    threshold: int
    max_delay: float


class Admission(NamedTuple):
    """A store's verdict on an attempt: seconds to wait (> 0: refused, nothing written),
    else the counters as they were before this attempt was counted (``None``: none alive)."""

    wait: float
    previous: tuple[Counter | None, ...]


Counted = tuple[str, Counter | None]  # a key an admitted attempt was counted on, and before


class ThrottleStore(Protocol):
    """Where counters live: this process (memory), one machine (SQLite) or all nodes (Redis).

    ``admit`` and ``release`` are each atomic and one round trip. A password attempt
    that reaches the hasher costs ``get_many`` (the first look), ``admit``, and on success
    ``release``; one that needs no hash check costs ``get_many``. A token costs nothing:
    tokens are not throttled.
    """

    def admit(self, rules: Sequence[Rule], now: float, policy: ThrottlePolicy) -> Admission:
        """Refuse (nothing written), or count the attempt on every rule's key, atomically."""
        ...

    def release(self, counted: Sequence[Counted], at: float, reset: str | None = None) -> None:
        """Take back the attempt admitted at ``at`` (see :func:`undone`), and delete ``reset``."""
        ...

    def get_many(self, keys: list[str]) -> list[Counter | None]: ...

    def reset(self, key: str) -> None: ...


@runtime_checkable
class SharesThrottleCounters(Protocol):
    """An optional member of a token manager, user store or revocation store: failure
    counters kept where the store keeps its data, shared by everything that shares it.

    ``throttle_store()`` returns a :class:`ThrottleStore` (a SQLite file, a Redis), or
    ``None`` when the store is private to this process (count in memory). Called once,
    when the middleware is built; see :func:`shared_store`.
    """

    def throttle_store(self) -> ThrottleStore | None: ...


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Thresholds and delays; the defaults are argued for in the module docstring."""

    user_threshold: int = 5
    address_threshold: int = 20
    window: float = 900.0
    base_delay: float = 1.0
    user_max_delay: float = 60.0
    address_max_delay: float = 900.0


def wait_for(counter: Counter | None, rule: Rule, now: float, policy: ThrottlePolicy) -> float:
    """Seconds before one more attempt may be counted on ``counter`` (<= 0: now).

    ``throttle_redis`` repeats this rule in Lua; the store tests hold them together.
    """
    if counter is None or counter.count < rule.threshold or now - counter.last > policy.window:
        return 0.0
    delay = min(policy.base_delay * 2.0 ** (counter.count - rule.threshold), rule.max_delay)
    return counter.last + delay - now


def admission(
    counters: Sequence[Counter | None], rules: Sequence[Rule], now: float, policy: ThrottlePolicy
) -> Admission:
    """The verdict for counters read inside the store's atomic step (memory and SQLite)."""
    wait = max(wait_for(c, rule, now, policy) for c, rule in zip(counters, rules, strict=True))
    if wait > 0:
        return Admission(wait, ())
    alive = tuple(c if c is not None and now - c.last <= policy.window else None for c in counters)
    return Admission(0.0, alive)


def counted(previous: Counter | None, now: float) -> Counter:
    """A counter with one more attempt, counted at ``now``."""
    return Counter(1 if previous is None else previous.count + 1, now)


def undone(current: Counter | None, previous: Counter | None, at: float) -> Counter | None:
    """``current`` with the attempt counted at ``at`` taken back (``None``: delete it).

    When no attempt was counted since (its time is still ``at``), the time of the one
    before comes back too, so a success leaves the counter as if it never happened.
    """
    if current is None or current.count <= 1:
        return None
    last = previous.last if previous is not None and current.last == at else current.last
    return Counter(current.count - 1, last)


class MemoryThrottleStore:
    """Counters in a bounded LRU dict: a flood of invented userids cannot exhaust memory."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._counters: OrderedDict[str, Counter] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, rules: Sequence[Rule], now: float, policy: ThrottlePolicy) -> Admission:
        with self._lock:
            verdict = admission([self._counters.get(r.key) for r in rules], rules, now, policy)
            if verdict.wait <= 0:
                for rule, previous in zip(rules, verdict.previous, strict=True):
                    self._put(rule.key, counted(previous, now))
        return verdict

    def release(self, counted: Sequence[Counted], at: float, reset: str | None = None) -> None:
        with self._lock:
            for key, previous in counted:
                counter = undone(self._counters.pop(key, None), previous, at)
                if counter is not None:
                    self._put(key, counter)
            if reset is not None:
                self._counters.pop(reset, None)

    def get_many(self, keys: list[str]) -> list[Counter | None]:
        return [self._counters.get(key) for key in keys]

    def reset(self, key: str) -> None:
        with self._lock:
            self._counters.pop(key, None)

    def _put(self, key: str, counter: Counter) -> None:
        """Store as most recently used; evict the least recent past ``max_entries`` (locked)."""
        self._counters.pop(key, None)
        self._counters[key] = counter
        while len(self._counters) > self.max_entries:
            self._counters.popitem(last=False)


@dataclass(frozen=True, slots=True)
class Attempt:
    """A password attempt's admission (``wait`` > 0: refused, answer 429), told how it
    ended. It carries the keys it was counted on (``counted``, the userid's first) and
    when; a failure needs no word (it was counted already).
    """

    throttle: Throttle
    wait: int
    counted: tuple[Counted, ...] = ()
    at: float = 0.0

    def succeeded(self) -> None:
        """Reset the userid's counter; take this attempt back from the address's."""
        if self.counted:
            (user_key, _), *others = self.counted
            self.throttle.store.release(others, self.at, reset=user_key)

    def abandoned(self) -> None:
        """No verdict (the check raised): take the attempt back, best effort, never
        hiding the error being raised."""
        if self.counted:
            with contextlib.suppress(Exception):
                self.throttle.store.release(self.counted, self.at)


class Throttle:
    """Decides whether an attempt may be checked at all, and records how it went."""

    def __init__(
        self,
        policy: ThrottlePolicy | None = None,
        *,
        store: ThrottleStore | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.policy = policy if policy is not None else ThrottlePolicy()
        self.store: ThrottleStore = store if store is not None else MemoryThrottleStore()
        self.clock = clock

    def begin(self, userid: str, address: str | None) -> Attempt:
        """Admit and count a password attempt about to reach the hasher, or refuse it."""
        rules = self._rules(userid, address)
        now = self.clock()
        verdict = self.store.admit(rules, now, self.policy)
        if verdict.wait > 0:
            return Attempt(self, math.ceil(verdict.wait))
        keys = tuple(rule.key for rule in rules)
        return Attempt(self, 0, tuple(zip(keys, verdict.previous, strict=True)), now)

    def check(self, userid: str | None, address: str | None) -> tuple[int, bool]:
        """Seconds to wait before this attempt may be checked (0: now), and whether the
        userid has a counter. Reads only: the first look at a password attempt (a refused
        one costs no write)."""
        keys = []  # keys first, rules only when a counter exists: this runs on every request
        if userid is not None:
            keys.append(_user_key(userid))
        if address is not None:
            keys.append(_address_key(address))
        if not keys:
            return 0, False
        counters = self.store.get_many(keys)
        if not any(counters):
            return 0, False  # the common case: no recent failure from this user or address
        rules = self._rules(userid, address)
        now = self.clock()
        wait = max(wait_for(c, r, now, self.policy) for c, r in zip(counters, rules, strict=True))
        user_seen = userid is not None and counters[0] is not None
        return (math.ceil(wait) if wait > 0 else 0), user_seen

    def success(self, userid: str) -> None:
        self.store.reset(_user_key(userid))

    def _rules(self, userid: str | None, address: str | None) -> list[Rule]:
        """The counters an attempt is judged by: the userid's first, then the address's."""
        policy, rules = self.policy, []
        if userid is not None:
            rules.append(Rule(_user_key(userid), policy.user_threshold, policy.user_max_delay))
        if address is not None:
            rules.append(
                Rule(_address_key(address), policy.address_threshold, policy.address_max_delay)
            )
        return rules


def shared_store(*sources: object) -> ThrottleStore | None:
    """The counter store the first of ``sources`` (token manager, then user store) offers
    through ``throttle_store()`` (:class:`SharesThrottleCounters`): a SQLite file or a Redis
    every process and node using it shares. ``None``: count in this process (memory)."""
    for source in sources:
        if isinstance(source, SharesThrottleCounters):
            store = source.throttle_store()
            if store is not None:
                return store
    return None


def _user_key(userid: str) -> str:
    return "u:" + userid


def _address_key(address: str) -> str:
    return "a:" + address
