"""Per-instance memory of blocked keys, so a key already over its limit costs no round trip."""

from __future__ import annotations

from itertools import islice

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections import OrderedDict

__all__ = ["BlockCache"]

_SCAN = 32


class BlockCache:
    """Key -> the millisecond it may retry, for at most ``size`` keys.

    When full, expired entries among the oldest go, else the oldest one: forgetting a block only
    costs one more store round trip, never a wrong answer. The first time it is full the
    entries move into an ``OrderedDict``: a plain dict finds its oldest entry by skipping
    the slots of every entry deleted before it, so evicting one at a time slows down with
    the size (10 µs per added key at 10,000 entries, 21 µs at 100,000), while
    an ``OrderedDict`` reaches its oldest entry at once. ``collections`` is imported only then.
    """

    __slots__ = ("_until", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        # A plain dict until the first time it is full (see the class notes).
        self._until: dict[str, int] = {}

    def get(self, key: str, now_ms: int) -> int | None:
        """The retry time of a still-blocked ``key``."""
        until = self._until.get(key)
        if until is None:
            return None
        if until <= now_ms:
            # ``pop``, not ``del``: on threads (GCF serves each worker thread from its own
            # event loop) two requests may find the same expired block, and a second
            # ``del`` would raise KeyError, a 500.
            self._until.pop(key, None)
            return None
        return until

    def add(self, key: str, until_ms: int, now_ms: int) -> None:
        """Remember that ``key`` is blocked until ``until_ms``."""
        if until_ms <= now_ms:
            return
        entries = self._until
        if key not in entries and len(entries) >= self.size:
            if type(entries) is dict:
                entries = self._until = _ordered(entries)
            # Threads again: the oldest entries copied in one step (iterating the dict
            # while another thread changes it raises), and dropped with ``pop``; the
            # oldest key is "" (no key) if another thread emptied the cache meanwhile.
            for stale, until in list(islice(entries.items(), _SCAN)):
                if until <= now_ms:
                    entries.pop(stale, None)
            if len(entries) >= self.size:
                entries.pop(next(iter(entries), ""), None)
        entries[key] = until_ms

    def __len__(self) -> int:
        return len(self._until)


def _ordered(entries: dict[str, int]) -> OrderedDict[str, int]:
    from collections import OrderedDict

    return OrderedDict(entries)
