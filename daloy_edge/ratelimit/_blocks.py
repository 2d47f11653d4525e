"""Per-instance memory of blocked keys, so a key already over its limit costs no round trip."""

from __future__ import annotations

from itertools import islice

__all__ = ["BlockCache"]

_SCAN = 32


class BlockCache:
    """Key -> the millisecond it may retry, for at most ``size`` keys.

    When full, expired entries among the oldest go, else the oldest one: forgetting a block only
    costs one more store round trip, never a wrong answer.
    """

    __slots__ = ("_until", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self._until: dict[str, int] = {}

    def get(self, key: str, now_ms: int) -> int | None:
        """The retry time of a still-blocked ``key``."""
        until = self._until.get(key)
        if until is None:
            return None
        if until <= now_ms:
            del self._until[key]
            return None
        return until

    def add(self, key: str, until_ms: int, now_ms: int) -> None:
        """Remember that ``key`` is blocked until ``until_ms``."""
        if until_ms <= now_ms:
            return
        entries = self._until
        if key not in entries and len(entries) >= self.size:
            for stale in [k for k, t in islice(entries.items(), _SCAN) if t <= now_ms]:
                del entries[stale]
            if len(entries) >= self.size:
                del entries[next(iter(entries))]
        entries[key] = until_ms

    def __len__(self) -> int:
        return len(self._until)
