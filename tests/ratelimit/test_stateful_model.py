"""The limiter over the memory store and over real Redis (the Upstash shim), driven by
random sequences of requests and clock moves, against a reference model of each algorithm.

The model is written from the algorithms' definitions, not from their code: a request fits
when the count (fixed window), the weighted estimate (sliding window) or the bucket (GCRA)
leaves room for its cost; ``remaining`` is how many more single requests fit at that instant;
``Retry-After`` is the first millisecond at which the refused request would fit, found by
search. Both stores must give the model's answer, and so each other's, on every request.
"""

from __future__ import annotations

import asyncio
import itertools
from fractions import Fraction

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from daloy_edge.ratelimit import Decision, MemoryStore, RateLimiter, UpstashREST, UpstashStore
from daloy_edge.transport import HttpxTransport
from tests.support.redis_server import RedisServer, ShimServer

pytestmark = pytest.mark.slow

WINDOW_MS = 60_000  # keys live seconds in Redis' own clock: the test's pauses never expire one
START_MS = 1_700_000_040_000  # a window boundary
CLIENTS = ("a", "b")
MOVES_MS = (0, 1, 999, 1_000, 7_500, 12_000, 30_000, 59_999, 60_000, 61_000, 120_001)

SETTINGS = settings(max_examples=35, stateful_step_count=25)  # tests/conftest.py's profile


class Clock:
    def __init__(self) -> None:
        self.ms = START_MS

    def __call__(self) -> float:
        return self.ms / 1000


class Model:
    """One client's state under one algorithm, by definition."""

    def __init__(self, algorithm: str, limit: int, cost: int) -> None:
        self.algorithm, self.limit, self.cost = algorithm, limit, cost
        self.counts: dict[int, int] = {}  # window index -> admitted units
        self.interval_us = -(-WINDOW_MS * 1000 // limit)
        self.tat_us = 0  # GCRA: when the bucket is full again
        self.blocked_until: int | None = None

    def _load(self, now: int) -> Fraction:
        """Units in use at ``now`` (the bucket's fill for GCRA, in units)."""
        index, into = divmod(now, WINDOW_MS)
        if self.algorithm == "fixed_window":
            return Fraction(self.counts.get(index, 0))
        if self.algorithm == "sliding_window":
            weight = Fraction(WINDOW_MS - into, WINDOW_MS)
            return self.counts.get(index - 1, 0) * weight + self.counts.get(index, 0)
        backlog = max(self.tat_us - now * 1000, 0)
        return Fraction(backlog, self.interval_us)

    def fits(self, now: int, cost: int) -> bool:
        return self._load(now) + cost <= self.limit

    def _spend(self, now: int, cost: int) -> None:
        if self.algorithm == "gcra":
            self.tat_us = max(self.tat_us, now * 1000) + self.interval_us * cost
        else:
            index = now // WINDOW_MS
            self.counts[index] = self.counts.get(index, 0) + cost

    def _remaining(self, now: int) -> int:
        copy = Model(self.algorithm, self.limit, self.cost)
        copy.counts, copy.tat_us = dict(self.counts), self.tat_us
        for fitted in itertools.count():
            if not copy.fits(now, 1):
                return fitted
            copy._spend(now, 1)
        raise AssertionError("unreachable")

    def _retry(self, now: int) -> int:
        # Room only grows as time passes (counts fade or roll over, the bucket drains):
        # the first millisecond that fits is found by bisection.
        low, high = 0, 3 * WINDOW_MS
        assert self.fits(now + high, self.cost)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if self.fits(now + middle, self.cost) else (middle, high)
        return high

    def _reset(self, now: int, allowed: bool, retry: int) -> int:
        left = WINDOW_MS - now % WINDOW_MS
        if self.algorithm == "fixed_window":
            return left
        if self.algorithm == "sliding_window":
            return left if allowed else max(left, retry)
        return -(-max(self.tat_us - now * 1000, 0) // 1000)

    def check(self, now: int) -> Decision:
        until = self.blocked_until
        if until is not None and now < until:
            wait = -(-(until - now) // 1000)
            return Decision(False, self.limit, 0, wait, wait)
        if self.fits(now, self.cost):
            self._spend(now, self.cost)
            reset = self._reset(now, True, 0)
            return Decision(True, self.limit, self._remaining(now), -(-reset // 1000), 0)
        retry = self._retry(now)
        self.blocked_until = now + retry
        reset = self._reset(now, False, retry)
        return Decision(
            False, self.limit, self._remaining(now), -(-reset // 1000), -(-retry // 1000)
        )


class LimiterMachine(RuleBasedStateMachine):
    """Requests from two clients and a clock that moves forward across window edges."""

    names = itertools.count()

    def __init__(self, shim: ShimServer) -> None:
        super().__init__()
        self.shim = shim
        self.loop = asyncio.new_event_loop()
        self.transport = HttpxTransport()

    @initialize(
        algorithm=st.sampled_from(("fixed_window", "sliding_window", "gcra")),
        limit=st.integers(1, 5),
        cost=st.integers(1, 2),
        offset_ms=st.sampled_from((0, 1, 30_000, 59_999)),
    )
    def build(self, algorithm: str, limit: int, cost: int, offset_ms: int) -> None:
        cost = min(cost, limit)
        self.clock = Clock()
        self.clock.ms += offset_ms
        # A fresh policy name per example: no Redis key of an earlier example is read.
        name = f"model-{next(self.names)}"
        options = {"limit": limit, "window": WINDOW_MS / 1000, "algorithm": algorithm}
        options |= {"cost": cost, "name": name, "clock": self.clock}
        self.memory = RateLimiter(store=MemoryStore(), **options)
        rest = UpstashREST(self.shim.url, self.shim.token, transport=self.transport)
        self.redis = RateLimiter(store=UpstashStore(rest, timeout=5), **options)
        self.models = {client: Model(algorithm, limit, cost) for client in CLIENTS}

    @rule(client=st.sampled_from(CLIENTS), repeat=st.integers(1, 3))
    def request(self, client: str, repeat: int) -> None:
        for _ in range(repeat):
            expected = self.models[client].check(self.clock.ms)
            in_memory = self.loop.run_until_complete(self.memory.check(client))
            in_redis = self.loop.run_until_complete(self.redis.check(client))
            assert in_memory == expected, (self.clock.ms % WINDOW_MS, in_memory, expected)
            assert in_redis == expected, (self.clock.ms % WINDOW_MS, in_redis, expected)

    @rule(move_ms=st.sampled_from(MOVES_MS))
    def advance(self, move_ms: int) -> None:
        self.clock.ms += move_ms

    @rule()
    def to_the_window_edge(self) -> None:
        self.clock.ms += WINDOW_MS - self.clock.ms % WINDOW_MS - 1

    def teardown(self) -> None:
        self.loop.run_until_complete(self.transport.aclose())
        self.loop.close()


def test_memory_and_redis_stores_agree_with_the_model_across_window_edges(
    redis_stack: tuple[RedisServer, ShimServer],
) -> None:
    _, shim = redis_stack
    run_state_machine_as_test(lambda: LimiterMachine(shim), settings=SETTINGS)
