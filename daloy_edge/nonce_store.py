"""An in-process :class:`~daloy_edge.types.NonceStore`: bounded, with expiry.

One process only: behind several instances use a shared store (Upstash/Redis), or a
replay that lands on another instance is not recognised.
"""

from __future__ import annotations

import time
from _thread import allocate_lock

from daloy_edge._errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

    from daloy_edge.types import Clock


__all__ = ["MemoryNonceStore"]

_heapq: ModuleType | None = None
""":mod:`heapq`, imported when the first nonce is recorded: building the app (on a
serverless cold start) does not load it, and a function-level import would cost every
call a lookup."""


def _import_heapq() -> ModuleType:
    global _heapq
    import heapq

    _heapq = heapq
    return heapq


class MemoryNonceStore:
    """Remembers keys until they expire, holding at most ``max_entries``.

    When full, the entry closest to expiry is forgotten first; only a flood of
    *authentic* deliveries (which needs the secret) can push an entry out early.

    Each add holds a lock, so it is atomic across threads as well as on one event loop
    (Google Cloud Functions serves each worker thread from a loop of its own, all of them
    sharing the app's store).

    >>> import asyncio
    >>> store = MemoryNonceStore()
    >>> asyncio.run(store.add_if_absent("k", 60)), asyncio.run(store.add_if_absent("k", 60))
    (True, False)
    """

    __slots__ = ("_clock", "_expiry", "_heap", "_lock", "max_entries")

    def __init__(self, *, max_entries: int = 100_000, clock: Clock = time.monotonic) -> None:
        if not max_entries > 0:  # NaN too: the store would grow without bound
            raise ConfigError("max_entries must be positive")
        self.max_entries = max_entries
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._lock = allocate_lock()

    def __len__(self) -> int:
        return len(self._expiry)

    async def add_if_absent(self, key: str, ttl_s: float) -> bool:
        """Record ``key`` for ``ttl_s`` seconds; False when it is already recorded."""
        heapq = _heapq or _import_heapq()
        heap, expiry = self._heap, self._expiry
        lock = self._lock
        # acquire and release rather than ``with``: fewer steps on every delivery.
        lock.acquire()
        try:
            now = self._clock()
            # Expired entries go first; a heap entry whose key was recorded again since
            # is stale.
            while heap and heap[0][0] <= now:
                expires, old = heapq.heappop(heap)
                if expiry.get(old) == expires:
                    del expiry[old]
            current = expiry.get(key)
            if current is not None and current > now:
                return False
            while len(expiry) >= self.max_entries:
                # Full: the entry closest to expiry is forgotten.
                expires, old = heapq.heappop(heap)
                if expiry.get(old) == expires:
                    del expiry[old]
            expires = now + ttl_s
            expiry[key] = expires
            heapq.heappush(heap, (expires, key))
            return True
        finally:
            lock.release()

    async def discard(self, key: str) -> None:
        """Forget ``key``; its heap entry is then stale and skipped when popped."""
        # Under the lock, as an add: one evicting this very key on another thread
        # would find it, lose it here, then fail to delete it (KeyError).
        with self._lock:
            self._expiry.pop(key, None)
