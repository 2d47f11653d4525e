"""What every rate-limit algorithm and store agrees on.

An algorithm exists twice: as a Lua script that Redis runs atomically, and as Python
over :class:`Counters` (the three Redis operations the scripts use), so the in-process
store and Redis give the same answer for the same inputs. Times are integer
milliseconds from the caller's clock, which makes both forms testable at window edges.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from daloy_edge._record import field, record

__all__ = [
    "Algorithm",
    "Counters",
    "Quota",
    "RateLimitStore",
    "StoreUnavailable",
    "Verdict",
    "ceil_div",
    "hashed_key",
]


class StoreUnavailable(Exception):
    """The store could not answer in time (down, unreachable, timed out, or refused)."""


class Quota(NamedTuple):
    """``limit`` units per ``window_ms``; each check spends ``cost`` of them."""

    limit: int
    window_ms: int
    cost: int = 1


class Verdict(NamedTuple):
    """One check's outcome; durations are milliseconds."""

    allowed: bool
    remaining: int
    reset_ms: int
    retry_ms: int


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


CheckFn = Callable[[Counters, Sequence[str], int, Quota], Verdict]
"""``(counters, keys, now_ms, quota) -> Verdict``."""

KeysFn = Callable[[str, int, int], tuple[str, ...]]
"""``(base, now_ms, window_ms) -> keys``: the Redis keys one check touches."""


@record(frozen=True)
class Algorithm:
    """A rate-limit algorithm: its Lua script and the equivalent Python.

    The script takes ``KEYS`` from :attr:`keys` and ``ARGV = [now_ms, limit, window_ms,
    cost]`` (``now_ms`` and the :class:`Quota`) and returns ``{allowed, remaining,
    reset_ms, retry_ms}`` like :attr:`check`.
    """

    name: str
    script: str
    keys: KeysFn
    check: CheckFn
    sha1: str = field(init=False)

    def __post_init__(self) -> None:
        # The script's identity in Redis' script cache (EVALSHA), not a security digest.
        digest = hashlib.sha1(self.script.encode("utf-8"), usedforsecurity=False).hexdigest()
        object.__setattr__(self, "sha1", digest)


class RateLimitStore(Protocol):
    """Runs one algorithm check atomically; raises :class:`StoreUnavailable` on failure."""

    async def check(
        self, algorithm: Algorithm, keys: Sequence[str], now_ms: int, quota: Quota
    ) -> Verdict:
        """Spend ``quota.cost`` unless that would exceed ``quota.limit`` per window."""
        ...


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for integers (the scripts use ``math.ceil(a / b)``)."""
    return -(-a // b)


def hashed_key(prefix: str, identity: str) -> str:
    """``prefix`` plus a digest of ``identity``: bounded length, and no API key or other
    client-supplied text stored in (or injected into the key space of) Redis."""
    return prefix + hashlib.blake2b(identity.encode("utf-8"), digest_size=16).hexdigest()
