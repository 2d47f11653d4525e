from __future__ import annotations

import asyncio
import threading

import pytest

from daloy_edge import ConfigError
from daloy_edge.nonce_store import MemoryNonceStore
from tests.support.threads import SlowKey, on_loops


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("size", [0, -1, float("nan")])
def test_a_bound_no_store_can_reach_refuses_to_build(size):
    # NaN compared false with everything: the store of replay keys grew without bound.
    with pytest.raises(ConfigError, match="max_entries"):
        MemoryNonceStore(max_entries=size)


async def test_second_add_of_a_key_is_refused():
    store = MemoryNonceStore()
    assert await store.add_if_absent("k", 60)
    assert not await store.add_if_absent("k", 60)


async def test_key_is_accepted_again_after_it_expires():
    clock = Clock()
    store = MemoryNonceStore(clock=clock)
    await store.add_if_absent("k", 60)
    clock.now += 61
    assert await store.add_if_absent("k", 60)


async def test_expired_keys_are_purged():
    clock = Clock()
    store = MemoryNonceStore(clock=clock)
    for i in range(10):
        await store.add_if_absent(f"k{i}", 5)
    clock.now += 6
    await store.add_if_absent("fresh", 5)
    assert len(store) == 1


async def test_store_never_holds_more_than_max_entries():
    store = MemoryNonceStore(max_entries=3)
    for i in range(10):
        await store.add_if_absent(f"k{i}", 60 + i)
    assert len(store) == 3
    assert not await store.add_if_absent("k9", 60)


async def test_when_full_the_entry_closest_to_expiry_is_forgotten():
    clock = Clock()
    store = MemoryNonceStore(max_entries=2, clock=clock)
    await store.add_if_absent("long", 60)
    await store.add_if_absent("short", 10)
    await store.add_if_absent("new", 30)
    assert not await store.add_if_absent("long", 60)
    assert not await store.add_if_absent("new", 60)
    assert len(store) == 2


async def test_a_key_recorded_again_outlives_its_first_expiry():
    clock = Clock()
    store = MemoryNonceStore(clock=clock)
    await store.add_if_absent("k", 5)
    clock.now += 6
    assert await store.add_if_absent("k", 60)  # the first heap entry is now stale
    clock.now += 6
    assert not await store.add_if_absent("k", 60)


def test_a_delivery_replayed_on_other_threads_at_the_same_instant_is_accepted_once():
    # Google Cloud Functions runs one event loop per worker thread, all sharing the app's
    # store: the same delivery arriving on two threads at once was accepted by both.
    store = MemoryNonceStore()
    accepted = on_loops(8, lambda: store.add_if_absent(SlowKey("k"), 60))
    assert accepted.count(True) == 1


async def test_a_discarded_key_is_accepted_again_and_then_kept_for_its_new_ttl():
    clock = Clock()
    store = MemoryNonceStore(clock=clock)
    await store.add_if_absent("k", 60)
    await store.discard("k")
    clock.now += 1
    assert await store.add_if_absent("k", 60)
    clock.now += 59.5  # past the first expiry: its stale heap entry must not drop the key
    await store.add_if_absent("other", 60)
    assert not await store.add_if_absent("k", 60)


def test_a_failed_delivery_forgotten_while_another_thread_evicts_it_fails_neither():
    # A delivery whose handler failed is forgotten on one worker thread while a new
    # delivery on another finds the store full and evicts that same entry: the evicting
    # thread found the entry, lost it to the discard, then failed to delete it
    # (KeyError: the new delivery was answered 503).
    failures: list[BaseException] = []
    for _ in range(20):
        store = MemoryNonceStore(max_entries=1)
        failed = SlowKey("failed")
        asyncio.run(store.add_if_absent(failed, 60))
        start = threading.Barrier(2)

        def deliver(store: MemoryNonceStore = store, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                asyncio.run(store.add_if_absent("new", 60))
            except Exception as exc:
                failures.append(exc)

        def forget(
            store: MemoryNonceStore = store, start: threading.Barrier = start, key: str = failed
        ) -> None:
            start.wait()
            asyncio.run(store.discard(key))

        threads = [threading.Thread(target=deliver), threading.Thread(target=forget)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
