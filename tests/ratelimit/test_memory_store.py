"""The in-process store stays within its bound and forgets expired counts."""

from __future__ import annotations

import time

import pytest

from daloy_edge import ConfigError
from daloy_edge.ratelimit import FIXED_WINDOW, GCRA, MemoryStore, Quota
from daloy_edge.ratelimit._base import Algorithm, Verdict
from tests.support.threads import on_loops

NOW = 1_700_000_000_000


async def spend(store: MemoryStore, key: str, now: int, window: int = 1_000) -> None:
    await store.check(FIXED_WINDOW, FIXED_WINDOW.keys(key, now, window), now, Quota(10, window))


async def test_memory_store_never_holds_more_than_max_keys():
    store = MemoryStore(max_keys=50)
    for i in range(500):
        await spend(store, f"client-{i}", NOW)
    assert len(store) == 50


async def test_memory_store_evicts_expired_counters_before_live_ones():
    store = MemoryStore(max_keys=3)
    await spend(store, "short-lived", NOW, window=1_000)
    await spend(store, "live-1", NOW, window=600_000)
    await spend(store, "live-2", NOW, window=600_000)
    later = NOW + 5_000  # the first counter (and its skew margin) has expired
    await spend(store, "newcomer", later, window=600_000)
    assert store.get(FIXED_WINDOW.keys("live-1", later, 600_000)[0]) == 1
    assert store.get(FIXED_WINDOW.keys("live-2", later, 600_000)[0]) == 1


async def test_steady_clients_over_many_windows_leave_only_live_counters():
    # Each window writes new keys: without dropping expired ones, 20 clients over 100
    # windows filled the store with 2,000 dead counters, kept until it reached max_keys.
    store = MemoryStore()
    for window in range(100):
        for client in range(20):
            await spend(store, f"client-{client}", NOW + window * 1_000)
    assert len(store) <= 60


async def test_memory_store_evicts_the_least_recently_written_when_all_are_live():
    store = MemoryStore(max_keys=2)
    await spend(store, "old", NOW, window=600_000)
    await spend(store, "recent", NOW, window=600_000)
    await spend(store, "old", NOW, window=600_000)
    await spend(store, "newcomer", NOW, window=600_000)
    assert store.get(FIXED_WINDOW.keys("old", NOW, 600_000)[0]) == 2
    assert store.get(FIXED_WINDOW.keys("recent", NOW, 600_000)[0]) is None


async def test_a_flood_of_new_clients_does_not_evict_a_spent_count():
    # A client over its limit writes nothing while it is refused, so its count is soon
    # the oldest write: a flood of made-up clients evicted it first and gave it a fresh
    # quota.
    store = MemoryStore(max_keys=10)
    for _ in range(10):
        await spend(store, "spent", NOW, window=600_000)
    for i in range(50):
        await spend(store, f"flood-{i}", NOW + 1, window=600_000)
    assert store.get(FIXED_WINDOW.keys("spent", NOW, 600_000)[0]) == 10


async def test_a_flood_of_new_clients_does_not_refill_an_emptied_token_bucket():
    store = MemoryStore(max_keys=10)
    quota = Quota(5, 60_000)
    for _ in range(5):
        await store.check(GCRA, ["emptied"], NOW, quota)
    for i in range(50):
        await store.check(GCRA, [f"flood-{i}"], NOW + 1, quota)
    assert not (await store.check(GCRA, ["emptied"], NOW + 2, quota)).allowed


async def test_memory_store_forgets_a_count_once_it_expires():
    store = MemoryStore()
    quota = Quota(10, 1_000)
    await store.check(FIXED_WINDOW, ["k"], NOW, quota)  # lives 1 s + 1 s skew margin
    assert (await store.check(FIXED_WINDOW, ["k"], NOW + 1_999, quota)).remaining == 8
    assert (await store.check(FIXED_WINDOW, ["k"], NOW + 3_999, quota)).remaining == 9


def test_memory_store_refuses_a_zero_bound():
    with pytest.raises(ConfigError):
        MemoryStore(max_keys=0)


def test_memory_store_refuses_a_bound_of_nan():
    # NaN compared false with everything: one entry per client identity, without bound.
    with pytest.raises(ConfigError, match="max_keys"):
        MemoryStore(max_keys=float("nan"))  # type: ignore[arg-type]


def test_a_check_is_atomic_across_threads():
    # Google Cloud Functions runs one event loop per worker thread, all sharing the app's
    # store: two threads reading the same count between its read and its write would
    # both be let through, past the limit. The algorithm here yields to other threads
    # between the two, as a thread switch may at any moment.
    def slow_check(counters, keys, now_ms, quota):  # type: ignore[no-untyped-def]
        count = counters.get(keys[0]) or 0
        time.sleep(0.001)
        if count + quota.cost > quota.limit:
            return Verdict(False, 0, 60_000, 60_000)
        counters.incr(keys[0], quota.cost, 60_000)
        return Verdict(True, quota.limit - count - quota.cost, 60_000, 0)

    racy = Algorithm("racy", FIXED_WINDOW.script, FIXED_WINDOW.keys, slow_check)
    store = MemoryStore()
    keys = FIXED_WINDOW.keys("client", NOW, 60_000)
    verdicts = on_loops(20, lambda: store.check(racy, keys, NOW, Quota(5, 60_000)))
    allowed = [verdict.allowed for verdict in verdicts]  # type: ignore[union-attr]
    assert allowed.count(True) == 5


async def test_a_wall_clock_stepped_back_does_not_lock_token_buckets_for_the_whole_step():
    # NTP stepping a fast clock back an hour: counts kept living on the old clock, so the
    # timestamp of every client that had made one request refused it for the next hour.
    # Redis counts a key's time to live on its own clock; so does the store now.
    store = MemoryStore()
    quota = Quota(5, 60_000)
    assert (await store.check(GCRA, ["c"], NOW, quota)).allowed
    back = NOW - 3_600_000
    await store.check(GCRA, ["c"], back, quota)
    assert (await store.check(GCRA, ["c"], back + 60_000, quota)).allowed


async def test_a_wall_clock_stepped_back_does_not_refill_an_emptied_token_bucket():
    store = MemoryStore()
    quota = Quota(5, 60_000)
    for _ in range(5):
        await store.check(GCRA, ["c"], NOW, quota)
    assert not (await store.check(GCRA, ["c"], NOW - 3_600_000, quota)).allowed


async def test_small_backward_jitter_of_the_clock_keeps_every_count():
    store = MemoryStore()
    quota = Quota(10, 1_000)
    await store.check(FIXED_WINDOW, ["k"], NOW + 500, quota)
    # Threads read the clock before they take the lock, so times arrive a little out of order.
    await store.check(FIXED_WINDOW, ["k"], NOW + 400, quota)
    assert (await store.check(FIXED_WINDOW, ["k"], NOW + 1_999, quota)).remaining == 7
