"""The seams of rate limiting as protocols: what the algorithms and the limiter call.

Kept apart from :mod:`daloy_edge.ratelimit._base` because defining a protocol imports
``typing``; the rest of the package loads without it.
"""

from __future__ import annotations

from typing import Protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from daloy_edge.ratelimit._base import Algorithm, Quota, Verdict

__all__ = ["Counters", "RateLimitStore"]


class Counters(Protocol):
    """The Redis operations the algorithms need, with Redis semantics."""

    def get(self, key: str) -> int | None:
        """The integer at ``key``, or None when absent or expired (``GET``)."""
        ...

    def incr(self, key: str, by: int, ttl_ms: int) -> int:
        """Add ``by``; a new key expires after ``ttl_ms`` (``INCRBY`` + ``PEXPIRE``)."""
        ...

    def put(self, key: str, value: int, ttl_ms: int) -> None:
        """Store ``value`` for ``ttl_ms`` (``SET key value PX ttl``)."""
        ...


class RateLimitStore(Protocol):
    """Runs one algorithm check atomically; raises ``StoreUnavailable`` on failure."""

    async def check(
        self, algorithm: Algorithm, keys: Sequence[str], now_ms: int, quota: Quota
    ) -> Verdict:
        """Spend ``quota.cost`` unless that would exceed ``quota.limit`` per window."""
        ...
