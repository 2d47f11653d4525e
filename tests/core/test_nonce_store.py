from __future__ import annotations

import asyncio
import threading
import time

from daloy_edge.nonce_store import MemoryNonceStore


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


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


class SlowKey(str):
    """A key whose hashing yields to other threads, as a thread switch may at any moment
    between the store's look-up of a key and its write."""

    __slots__ = ()

    def __hash__(self) -> int:
        time.sleep(0.001)
        return str.__hash__(self)


def test_a_delivery_replayed_on_other_threads_at_the_same_instant_is_accepted_once():
    # Google Cloud Functions runs one event loop per worker thread, all sharing the app's
    # store: the same delivery arriving on two threads at once was accepted by both.
    store = MemoryNonceStore()
    accepted: list[bool] = []
    start = threading.Barrier(8)

    def add() -> None:
        loop = asyncio.new_event_loop()
        start.wait()
        try:
            accepted.append(loop.run_until_complete(store.add_if_absent(SlowKey("k"), 60)))
        finally:
            loop.close()

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
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
