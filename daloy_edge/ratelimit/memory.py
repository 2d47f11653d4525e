"""The in-process store: the default, exact within one process, bounded in memory."""

from __future__ import annotations

from _thread import allocate_lock

from daloy_edge._errors import ConfigError
from daloy_edge.ratelimit._base import Algorithm, Quota, Verdict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections import OrderedDict
    from collections.abc import Sequence

__all__ = ["MemoryStore"]

_EXPIRED_SCAN = 32
_STEP_BACK_MS = 1000
"""A clock this far behind the last check stepped back (threads reading it before they
take the lock arrive only a little out of order)."""
_EXPIRED_DROP = 2  # per new key: more than one, so a store that grew shrinks again


class MemoryStore:
    """Counters in a dict of at most ``max_keys`` entries. Each new counter drops expired
    ones at the oldest end, so the store holds about the counters still live; a full store
    evicts, expired ones first, then among the least recently written the one holding the
    smallest value.

    Each check holds a lock, so it is atomic across threads as well as on one event loop
    (Google Cloud Functions serves each worker thread from a loop of its own, all of them
    sharing the app's store). Counts are per process: with several instances, use
    :class:`~daloy_edge.ratelimit.UpstashStore`.

    Security: when full, evicting a live counter forgets that client's count; size
    ``max_keys`` above the number of clients you expect in one window. The lowest count
    goes first, so a flood of new clients does not lift the limit of one already over it.
    """

    __slots__ = ("_entries", "_lock", "_now", "max_keys")

    def __init__(self, *, max_keys: int = 100_000) -> None:
        if not max_keys >= 1:  # NaN too: the store would grow without bound
            raise ConfigError("max_keys must be positive")
        self.max_keys = max_keys
        # Oldest write first. A plain (empty) dict until the first write makes it an
        # ``OrderedDict`` (see ``_insert``): building the app imports no ``collections``.
        self._entries: OrderedDict[str, tuple[int, int]] = {}  # type: ignore[assignment]
        self._now = 0
        self._lock = allocate_lock()

    def __len__(self) -> int:
        return len(self._entries)

    async def check(
        self, algorithm: Algorithm, keys: Sequence[str], now_ms: int, quota: Quota
    ) -> Verdict:
        """Run ``algorithm`` in process (see :class:`~daloy_edge.ratelimit.RateLimitStore`)."""
        lock = self._lock
        # acquire and release rather than ``with``: fewer steps on every request.
        lock.acquire()
        try:
            if now_ms < self._now - _STEP_BACK_MS:
                self._stepped_back(now_ms - self._now)
            self._now = now_ms
            return algorithm.check(self, keys, now_ms, quota)
        finally:
            lock.release()

    def get(self, key: str) -> int | None:
        """The live value at ``key``."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._now:
            del self._entries[key]
            return None
        return entry[0]

    def incr(self, key: str, by: int, ttl_ms: int) -> int:
        """Add ``by``; a new key expires after ``ttl_ms``."""
        entry = self._entries.get(key)
        if entry is None or entry[1] <= self._now:
            self._insert(key, by, self._now + ttl_ms)
            return by
        value = entry[0] + by
        self._entries[key] = (value, entry[1])
        self._entries.move_to_end(key)
        return value

    def put(self, key: str, value: int, ttl_ms: int) -> None:
        """Store ``value`` for ``ttl_ms``."""
        self._insert(key, value, self._now + ttl_ms)

    def _insert(self, key: str, value: int, expires: int) -> None:
        entries = self._entries
        if type(entries) is dict:
            # The first write. A plain dict keeps the order too, but evicting its oldest
            # entry over and over rescans the deleted slots at its front (some 30 us per
            # eviction at 100k keys); an ``OrderedDict`` finds it at once.
            from collections import OrderedDict

            entries = self._entries = OrderedDict(entries)
        if key not in entries:
            _drop_expired(entries, self._now)
            if len(entries) >= self.max_keys:
                self._evict()
        entries[key] = (value, expires)
        entries.move_to_end(key)

    def _stepped_back(self, by: int) -> None:
        # The clock stepped back (NTP, a VM restore). Every entry keeps the time it had
        # left, as a Redis key does (its TTL runs on Redis' clock): left on the old clock,
        # a token bucket's timestamp, now far ahead, refused its client for the whole step.
        entries = self._entries
        for key, (value, expires) in list(entries.items()):
            entries[key] = (value, expires + by)

    def _evict(self) -> None:
        # Only a full store evicts: ``itertools`` is not worth loading on every cold start.
        from itertools import islice

        entries, now = self._entries, self._now
        head = list(islice(entries.items(), _EXPIRED_SCAN))
        expired = [key for key, (_, expires) in head if expires <= now]
        for key in expired:
            del entries[key]
        if len(entries) >= self.max_keys:
            # The oldest write is often a client over its limit (a refusal writes nothing):
            # forgetting it would hand it a fresh quota. The smallest value among the oldest
            # (the lowest count, GCRA's earliest time) costs the least to forget.
            del entries[min(head, key=_value)[0]]


def _drop_expired(entries: OrderedDict[str, tuple[int, int]], now: int) -> None:
    # Windowed algorithms write new keys every window, so without this a few hundred
    # steady clients filled the store to ``max_keys`` with dead counters (30 MB at the
    # default, for 2,000 live ones) that stayed for the life of the process. Keys are
    # in write order, and written together they expire together: the oldest go first.
    for _ in range(_EXPIRED_DROP):
        oldest = next(iter(entries.values()), None)
        if oldest is None or oldest[1] > now:
            return
        entries.popitem(last=False)


def _value(entry: tuple[str, tuple[int, int]]) -> int:
    return entry[1][0]
