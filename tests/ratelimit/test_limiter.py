"""The limiter's own duties: seconds for HTTP, the block cache, hashing, the public surface."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from daloy_edge import ConfigError
from daloy_edge.ratelimit import GCRA, MemoryStore, RateLimiter
from daloy_edge.ratelimit._blocks import BlockCache
from tests.support.threads import SlowKey, at_once

START = 1_700_000_040.0


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_durations_are_rounded_up_to_whole_seconds():
    clock = Clock()
    limiter = RateLimiter(limit=2, window=3, algorithm="gcra", clock=clock)
    await limiter.check("c")
    await limiter.check("c")
    denied = await limiter.check("c")
    # GCRA: one request per 1.5 s; a Retry-After of 1 would invite an early retry.
    assert (denied.allowed, denied.retry_after_s, denied.reset_s) == (False, 2, 3)


async def test_denied_identity_is_answered_from_the_block_cache_until_its_retry_time():
    store = MemoryStore()
    clock = Clock()
    limiter = RateLimiter(limit=1, window=60, algorithm="fixed_window", store=store, clock=clock)
    await limiter.check("c")
    await limiter.check("c")
    entries_before = dict(store._entries)
    clock.now += 30
    blocked = await limiter.check("c")
    assert not blocked.allowed and blocked.retry_after_s == 30
    assert dict(store._entries) == entries_before


async def test_a_client_retrying_exactly_at_its_retry_after_is_admitted_not_blocked_by_the_cache():
    clock = Clock()
    limiter = RateLimiter(limit=1, window=60, algorithm="fixed_window", clock=clock)
    await limiter.check("c")
    denied = await limiter.check("c")
    assert not denied.allowed and denied.retry_after_s == 60
    clock.now += denied.retry_after_s
    assert (await limiter.check("c")).allowed


def test_block_cache_stays_within_its_bound():
    cache = BlockCache(100)
    for i in range(1_000):
        cache.add(f"k{i}", until_ms=10_000 + i, now_ms=0)
    assert len(cache) == 100
    assert cache.get("k999", now_ms=0) == 10_999


def test_an_expired_block_read_on_many_threads_at_once_raises_nowhere():
    # GCF serves each worker thread from its own event loop, all sharing the limiter: a
    # blocked client's next requests arriving together on several threads each found
    # the expired block, and each removed it; all but the first raised KeyError (a 500).
    cache = BlockCache(10)
    cache.add("k", until_ms=10, now_ms=0)
    assert at_once(8, lambda: cache.get(SlowKey("k"), now_ms=20)) == [None] * 8


def test_block_cache_drops_expired_blocks_first():
    cache = BlockCache(2)
    cache.add("expired", until_ms=10, now_ms=0)
    cache.add("live", until_ms=1_000, now_ms=0)
    cache.add("new", until_ms=1_000, now_ms=500)
    assert cache.get("live", now_ms=500) == 1_000
    assert cache.get("new", now_ms=500) == 1_000


def test_a_full_block_cache_drops_an_expired_block_before_an_older_live_one():
    # The live block was added first, so evicting by age alone dropped it, and its
    # client's next requests each cost a store round trip again.
    cache = BlockCache(3)
    cache.add("live", until_ms=1_000, now_ms=0)
    cache.add("expired", until_ms=10, now_ms=0)
    cache.add("ends-now", until_ms=500, now_ms=0)
    cache.add("new", until_ms=1_000, now_ms=500)
    assert len(cache) == 2
    assert cache.get("live", now_ms=500) == 1_000
    assert cache.get("new", now_ms=500) == 1_000


async def test_identities_are_hashed_before_they_reach_the_store():
    store = MemoryStore()
    await RateLimiter(limit=5, window=60, store=store, algorithm=GCRA).check("alice@example.com")
    (key,) = store._entries
    assert key.startswith("daloy:rl:default:gcra:")
    assert "alice" not in key


@pytest.mark.parametrize(
    "options",
    [
        {"limit": 10**9, "window": 10**6},
        {"limit": 1, "window": 400 * 86_400},
        {"limit": 5, "window": 60, "block_cache_size": -1},
        # NaN compared false with everything: the cache of blocked keys grew unbounded.
        {"limit": 5, "window": 60, "block_cache_size": float("nan")},
        {"limit": 5, "window": 0.0001},
    ],
)
def test_limiter_refuses_unworkable_settings(options):
    with pytest.raises(ConfigError):
        RateLimiter(**options)


@pytest.mark.parametrize(
    "options",
    [
        # Sent as "q=5.5" and "r=4.0", "q=True": no structured-field parser reads them.
        {"limit": 5.5, "window": 60},
        {"limit": True, "window": 60},
        {"limit": 5, "window": 60, "cost": 1.5},
        # Past the fifteen digits of a structured-field integer.
        {"limit": 10**15, "window": 0.001},
        # A ValueError or an OverflowError from round(), not a ConfigError naming the field.
        {"limit": 5, "window": float("nan")},
        {"limit": 5, "window": float("inf")},
        {"limit": 5, "window": "60"},
    ],
)
def test_limiter_refuses_a_quota_the_ratelimit_fields_cannot_carry(options):
    with pytest.raises(ConfigError):
        RateLimiter(**options)


PINNED = {
    "daloy_edge.ratelimit": [
        "ALGORITHMS",
        "FIXED_WINDOW",
        "GCRA",
        "SLIDING_WINDOW",
        "Algorithm",
        "AlgorithmName",
        "Counters",
        "Decision",
        "FailurePolicy",
        "MemoryStore",
        "Quota",
        "RateLimitStore",
        "RateLimiter",
        "StoreUnavailable",
        "UpstashCommands",
        "UpstashError",
        "UpstashNonceStore",
        "UpstashREST",
        "UpstashStore",
        "Verdict",
    ],
    "daloy_edge.middleware.ratelimit": ["KeyFunction", "KeyName", "RateLimit", "RateLimitConfig"],
    "daloy_edge.middleware.shedding": ["LoadShedding", "LoadSheddingConfig"],
}


@pytest.mark.parametrize("module", sorted(PINNED))
def test_public_surface_is_pinned(module):
    assert sorted(importlib.import_module(module).__all__) == sorted(PINNED[module])


def _names(seed: int, count: int = 3000) -> list[str]:
    import random

    alphabet = "aZ09_.-:/ \t\n\r\x00é€" + "abcXYZ"
    rng = random.Random(seed)
    return ["".join(rng.choices(alphabet, k=rng.randint(0, 70))) for _ in range(count)]


def test_policy_names_accepted_as_the_former_regex_did_but_no_trailing_newline():
    import re

    oracle = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
    edges = ["a" * 64, "a" * 65, "", "a\n", "a.b-c_D9", "a b", "é", "\u212a"]
    for name in [*_names(1), *edges]:
        expected = oracle.match(name) is not None and not name.endswith("\n")
        try:
            RateLimiter(limit=5, window=60, name=name)
        except ConfigError:
            assert not expected, repr(name)
        else:
            assert expected, repr(name)


async def test_hashed_identities_are_remembered_within_a_bound(monkeypatch):
    from daloy_edge.ratelimit import limiter as module

    monkeypatch.setattr(module, "_HASHED_KEYS", 8)
    store = MemoryStore()
    limiter = RateLimiter(limit=100, window=60, store=store, algorithm=GCRA, clock=Clock())
    for i in range(30):
        await limiter.check(f"client-{i % 12}")
        assert len(limiter._bases) <= 8
    assert len(store) == 12  # the same identity always maps to the same key


async def test_long_client_chosen_identities_are_counted_but_not_kept_in_memory():
    # 4096 made-up API keys of a header's 8 KiB each held 32 MiB until the cache emptied.
    limiter = RateLimiter(limit=2, window=60, algorithm="fixed_window", clock=Clock())
    long_key = "k:" + "x" * 8000
    assert [(await limiter.check(long_key)).allowed for _ in range(3)] == [True, True, False]
    assert long_key not in limiter._bases
    await limiter.check("ip:203.0.113.7")
    assert "ip:203.0.113.7" in limiter._bases


def test_a_limiter_imports_only_the_algorithm_it_runs_and_only_when_it_first_checks():
    code = (
        "import asyncio, sys\n"
        "from daloy_edge.ratelimit.limiter import RateLimiter\n"
        "def loaded():\n"
        "    return sorted(m for m in sys.modules if m.startswith('daloy_edge.ratelimit.'))\n"
        "limiter = RateLimiter(limit=1, window=60, algorithm='fixed_window')\n"
        "print('built', loaded())\n"
        "first = asyncio.run(limiter.check('203.0.113.7'))\n"
        "print('checked', first.allowed, loaded())\n"
        "second = asyncio.run(limiter.check('203.0.113.7'))\n"
        "third = asyncio.run(limiter.check('203.0.113.7'))\n"
        "print('denied', second.allowed, third.allowed, third.retry_after_s > 0, loaded())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    built, checked, denied = done.stdout.splitlines()
    assert "fixed_window" not in built and "_blocks" not in built
    assert checked.startswith("checked True") and "daloy_edge.ratelimit.fixed_window" in checked
    assert "_blocks" not in checked
    # The first denial brings the block cache, and the next attempt is answered from it.
    assert denied.startswith("denied False False True") and "ratelimit._blocks" in denied
    assert "gcra" not in denied and "sliding_window" not in denied


def test_algorithms_lists_every_built_in_algorithm():
    from daloy_edge.ratelimit import ALGORITHMS, FIXED_WINDOW, SLIDING_WINDOW

    assert ALGORITHMS == {
        "fixed_window": FIXED_WINDOW,
        "sliding_window": SLIDING_WINDOW,
        "gcra": GCRA,
    }


def test_an_unknown_algorithm_name_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown algorithm 'leaky'"):
        RateLimiter(limit=1, window=1, algorithm="leaky")  # type: ignore[arg-type]


def test_a_full_block_cache_keeps_forgetting_the_oldest_blocks_first():
    cache = BlockCache(100)
    for i in range(1000):
        cache.add(f"k{i}", 10**12, 0)
    assert len(cache) == 100
    assert [cache.get(f"k{i}", 0) for i in (899, 900, 999)] == [None, 10**12, 10**12]
    cache.add("k500", 10**12, 0)
    assert cache.get("k900", 0) is None


async def test_a_wall_clock_stepped_back_does_not_lock_a_blocked_client_out_for_the_step():
    # NTP stepping a fast clock back an hour: the block cache kept the retry time on the
    # old clock and answered 429 with Retry-After: 3630 to a client a minute from its reset.
    clock = Clock()
    limiter = RateLimiter(limit=1, window=60, algorithm="fixed_window", clock=clock)
    await limiter.check("c")
    assert not (await limiter.check("c")).allowed
    clock.now -= 3600
    blocked = await limiter.check("c")
    assert blocked.retry_after_s <= 60
    clock.now += 61
    assert (await limiter.check("c")).allowed
