"""Each algorithm at its window edges, through the in-process store and through real Redis
(the Lua script behind the Upstash shim): the same inputs must give the same verdicts."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from daloy_edge.ratelimit import (
    FIXED_WINDOW,
    GCRA,
    SLIDING_WINDOW,
    Algorithm,
    MemoryStore,
    Quota,
    RateLimitStore,
    UpstashREST,
    UpstashStore,
    Verdict,
)
from daloy_edge.transport import HttpxTransport
from tests.support.redis_server import RedisServer, ShimServer

T0 = 1_700_000_000_000  # a multiple of every window used here
WINDOW = 10_000


@pytest.fixture(params=["memory", "redis"])
async def store(
    request: pytest.FixtureRequest, redis_stack: tuple[RedisServer, ShimServer]
) -> AsyncIterator[RateLimitStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    server, shim = redis_stack
    server.client().flushall()
    transport = HttpxTransport()
    yield UpstashStore(UpstashREST(shim.url, shim.token, transport=transport), timeout=5)
    await transport.aclose()


async def check(
    store: RateLimitStore,
    algorithm: Algorithm,
    now: int,
    *,
    limit: int,
    window: int = WINDOW,
    cost: int = 1,
    key: str = "client",
) -> Verdict:
    keys = algorithm.keys(key, now, window)
    return await store.check(algorithm, keys, now, Quota(limit, window, cost))


async def test_fixed_window_admits_limit_then_denies_until_the_window_ends(store):
    verdicts = [await check(store, FIXED_WINDOW, T0 + 9_000, limit=3) for _ in range(3)]
    assert verdicts == [
        Verdict(True, 2, 1_000, 0),
        Verdict(True, 1, 1_000, 0),
        Verdict(True, 0, 1_000, 0),
    ]
    assert await check(store, FIXED_WINDOW, T0 + 9_000, limit=3) == Verdict(False, 0, 1_000, 1_000)
    assert await check(store, FIXED_WINDOW, T0 + 9_999, limit=3) == Verdict(False, 0, 1, 1)


async def test_fixed_window_starts_a_fresh_count_exactly_at_the_boundary(store):
    for _ in range(3):
        await check(store, FIXED_WINDOW, T0 + 9_999, limit=3)
    assert await check(store, FIXED_WINDOW, T0 + 10_000, limit=3) == Verdict(True, 2, 10_000, 0)


async def test_fixed_window_denial_does_not_spend_quota(store):
    await check(store, FIXED_WINDOW, T0, limit=2, cost=2)
    assert (await check(store, FIXED_WINDOW, T0 + 1, limit=2)).allowed is False
    assert await check(store, FIXED_WINDOW, T0 + WINDOW, limit=2) == Verdict(True, 1, WINDOW, 0)


async def test_sliding_window_counts_the_previous_window_at_the_boundary(store):
    for _ in range(4):
        assert (await check(store, SLIDING_WINDOW, T0 + 9_000, limit=4)).allowed
    denied = await check(store, SLIDING_WINDOW, T0 + 10_000, limit=4)
    # Fixed windows would admit here; the previous window still weighs in fully, and
    # fades linearly: one request fits once 3/4 of it no longer overlaps (2.5 s later).
    assert denied == Verdict(False, 0, 10_000, 2_500)


async def test_sliding_window_admits_exactly_when_the_previous_window_has_faded_enough(store):
    for _ in range(4):
        await check(store, SLIDING_WINDOW, T0 + 9_000, limit=4)
    assert await check(store, SLIDING_WINDOW, T0 + 12_499, limit=4) == Verdict(False, 0, 7_501, 1)
    assert await check(store, SLIDING_WINDOW, T0 + 12_500, limit=4) == Verdict(True, 0, 7_500, 0)


async def test_sliding_window_full_current_window_waits_into_the_next_one(store):
    for _ in range(4):
        await check(store, SLIDING_WINDOW, T0 + 5_000, limit=4)
    # 5 s left here, then 2.5 s into the next window until this window's 4 fade to 3.
    assert await check(store, SLIDING_WINDOW, T0 + 5_000, limit=4) == Verdict(
        False, 0, 7_500, 7_500
    )
    assert (await check(store, SLIDING_WINDOW, T0 + 12_500, limit=4)).allowed


async def test_sliding_window_forgets_counts_two_windows_back(store):
    for _ in range(4):
        await check(store, SLIDING_WINDOW, T0 + 9_999, limit=4)
    assert await check(store, SLIDING_WINDOW, T0 + 20_000, limit=4) == Verdict(True, 3, 10_000, 0)


async def test_gcra_admits_a_burst_of_limit_then_one_per_interval(store):
    burst = [await check(store, GCRA, T0, limit=4) for _ in range(4)]
    assert [v.remaining for v in burst] == [3, 2, 1, 0]
    assert all(v.allowed for v in burst)
    assert burst[-1].reset_ms == WINDOW
    assert await check(store, GCRA, T0, limit=4) == Verdict(False, 0, WINDOW, 2_500)
    assert await check(store, GCRA, T0 + 2_499, limit=4) == Verdict(False, 0, 7_501, 1)
    assert await check(store, GCRA, T0 + 2_500, limit=4) == Verdict(True, 0, WINDOW, 0)


async def test_gcra_refills_to_a_full_bucket_after_one_window(store):
    for _ in range(4):
        await check(store, GCRA, T0, limit=4)
    assert await check(store, GCRA, T0 + WINDOW, limit=4) == Verdict(True, 3, 2_500, 0)


async def test_gcra_burst_fits_when_the_window_does_not_divide_by_the_limit(store):
    verdicts = [await check(store, GCRA, T0, limit=7, window=60_000) for _ in range(8)]
    assert [v.allowed for v in verdicts] == [True] * 7 + [False]


@pytest.mark.parametrize("algorithm", [FIXED_WINDOW, SLIDING_WINDOW, GCRA], ids=lambda a: a.name)
async def test_lua_script_and_python_agree_on_a_random_workload(
    algorithm: Algorithm, redis_stack: tuple[RedisServer, ShimServer]
):
    server, shim = redis_stack
    server.client().flushall()
    transport = HttpxTransport()
    redis_store = UpstashStore(UpstashREST(shim.url, shim.token, transport=transport), timeout=5)
    memory = MemoryStore()
    rng = random.Random(5)
    now = T0 + 123
    try:
        for _ in range(300):
            now += rng.choice((0, 0, 1, 7, 150, 999, 2_500, 6_000))
            key = rng.choice(("a", "b"))
            cost = rng.choice((1, 1, 1, 2))
            quota = Quota(5, WINDOW, cost)
            keys = algorithm.keys(key, now, WINDOW)
            expected = await memory.check(algorithm, keys, now, quota)
            assert await redis_store.check(algorithm, keys, now, quota) == expected
    finally:
        await transport.aclose()
