"""A rate limiter: one policy, one algorithm, one store, a block cache and a failure policy.

Pure glue with no HTTP in it; :class:`daloy_edge.middleware.ratelimit.RateLimit` turns
its decisions into responses.
"""

from __future__ import annotations

import sys
import time

from daloy_edge._charset import ALNUM, Charset
from daloy_edge._errors import ConfigError
from daloy_edge.ratelimit._base import (
    Algorithm,
    Quota,
    StoreUnavailable,
    ceil_div,
    hashed_key,
)
from daloy_edge.ratelimit._tuples import named_tuple, tuple_new
from daloy_edge.ratelimit.memory import MemoryStore

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Literal, NamedTuple, TypeAlias

    from daloy_edge.ratelimit._blocks import BlockCache
    from daloy_edge.ratelimit._protocols import RateLimitStore
    from daloy_edge.types import Clock

    AlgorithmName: TypeAlias = Literal["fixed_window", "sliding_window", "gcra"]
    FailurePolicy: TypeAlias = Literal["fail_open", "fail_closed"]

__all__ = ["ALGORITHMS", "AlgorithmName", "Decision", "FailurePolicy", "RateLimiter"]

ALGORITHMS: dict[str, Algorithm]
"""The built-in algorithms by name (every algorithm module is imported when first read)."""

# Where each built-in algorithm lives: a limiter imports only the one it runs.
_HOMES = {
    "fixed_window": ("daloy_edge.ratelimit.fixed_window", "FIXED_WINDOW"),
    "sliding_window": ("daloy_edge.ratelimit.sliding_window", "SLIDING_WINDOW"),
    "gcra": ("daloy_edge.ratelimit.gcra", "GCRA"),
}

# Stricter than the ``^...$`` regex it replaces only in refusing a trailing newline.
_NAME = Charset(ALNUM + "_.-", max_len=64)
# Scripts multiply limit by window in doubles; keep every product an exact integer.
_MAX_PRODUCT = 2**50
_MAX_WINDOW_MS = 366 * 86_400_000
_MAX_FIELD_INTEGER = 10**15 - 1
_INF = float("inf")
_LOG_EVERY_MS = 10_000
_HASHED_KEYS = 4096
"""Hashed identities remembered per limiter (clients repeat)."""
_REMEMBERED_LEN = 256
"""Longer identities (client-chosen API keys or tenant names up to a header's 8 KiB) are
hashed afresh each time: 4096 of them kept would hold 32 MiB of client text."""


def algorithm_named(name: str) -> Algorithm:
    """The built-in algorithm called ``name`` (``ConfigError`` for another name)."""
    home = _HOMES.get(name)
    if home is None:
        raise ConfigError(f"unknown algorithm {name!r}; one of {sorted(_HOMES)}")
    module, attribute = home
    __import__(module)
    found: Algorithm = getattr(sys.modules[module], attribute)
    return found


def __getattr__(name: str) -> object:
    if name == "ALGORITHMS":
        algorithms = {key: algorithm_named(key) for key in _HOMES}
        globals()["ALGORITHMS"] = algorithms
        return algorithms
    # The ``Literal`` aliases exist at run time only for those who ask: building them
    # imports ``typing``.
    if name in _ALIASES:
        from typing import Literal

        return Literal[_ALIASES[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_ALIASES = {
    "AlgorithmName": ("fixed_window", "sliding_window", "gcra"),
    "FailurePolicy": ("fail_open", "fail_closed"),
}

if TYPE_CHECKING:

    class Decision(NamedTuple):
        allowed: bool
        limit: int
        remaining: int
        reset_s: int
        retry_after_s: int
        degraded: bool = False

else:
    # What ``typing.NamedTuple`` would build, without importing ``typing`` or
    # ``collections``.
    @named_tuple
    class Decision(tuple):
        __slots__ = ()

        # A tuple's fields are positional, as in ``collections.namedtuple``.
        def __new__(cls, allowed, limit, remaining, reset_s, retry_after_s, degraded=False):  # noqa: PLR0917
            return tuple_new(cls, (allowed, limit, remaining, reset_s, retry_after_s, degraded))


Decision.__doc__ = """What the limiter decided for one request (durations in whole seconds).

``degraded`` is True when the store failed and the policy let the request through.
"""


class RateLimiter:
    """``limit`` requests per ``window`` seconds for each identity.

    >>> limiter = RateLimiter(limit=5, window=60)
    >>> # decision = await limiter.check("203.0.113.7")

    Identities are hashed before they reach the store. A denied identity is remembered
    in this instance until it may retry, so repeated attempts cost no store round trip.
    ``clock`` is Unix time (instances sharing a store must agree on it). On store
    failure ``on_store_error`` decides: ``"fail_closed"`` (the default) raises
    :class:`StoreUnavailable`, ``"fail_open"`` admits; both are logged.
    """

    __slots__ = (
        "_algorithm",
        "_algorithm_name",
        "_bases",
        "_block_cache_size",
        "_blocks",
        "_clock",
        "_down_failures",
        "_down_since",
        "_down_until",
        "_failures",
        "_last_log",
        "_prefix",
        "_quota",
        "_store",
        "cost",
        "limit",
        "name",
        "on_store_error",
        "window",
        "window_ms",
    )

    def __init__(
        self,
        *,
        limit: int,
        window: float,
        algorithm: AlgorithmName | Algorithm = "sliding_window",
        store: RateLimitStore | None = None,
        name: str = "default",
        prefix: str = "daloy:rl:",
        cost: int = 1,
        on_store_error: FailurePolicy = "fail_closed",
        block_cache_size: int = 10_000,
        clock: Clock = time.time,
    ) -> None:
        self.window_ms = _window_ms(window)
        _validate(
            limit=limit,
            window_ms=self.window_ms,
            name=name,
            cost=cost,
            policy=on_store_error,
            block_cache_size=block_cache_size,
        )
        # A built-in algorithm's module, and the block cache, load with the first check:
        # a cold start that serves other routes first never imports them.
        if isinstance(algorithm, str):
            if algorithm not in _HOMES:
                algorithm_named(algorithm)  # raises ConfigError naming the choices
            self._algorithm: Algorithm | None = None
            self._algorithm_name: str = algorithm
        else:
            self._algorithm, self._algorithm_name = algorithm, algorithm.name
        self._quota = Quota(limit, self.window_ms, cost)
        self._store: RateLimitStore = store if store is not None else MemoryStore()
        self._blocks: BlockCache | None = None
        self._block_cache_size = block_cache_size
        self._prefix = f"{prefix}{name}:{self._algorithm_name}:"
        # Clients repeat, so their hashed keys are worth remembering (see ``_hash``).
        self._bases: dict[str, str] = {}
        self._clock = clock
        self._failures = 0
        self._last_log = -_LOG_EVERY_MS
        self._down_since: int | None = None  # the first failure of an outage going on
        self._down_until: int | None = None  # the first check answered since its last failure
        self._down_failures = 0
        self.limit, self.window, self.name, self.cost = limit, window, name, cost
        self.on_store_error = on_store_error

    async def check(self, identity: str) -> Decision:
        """Count one request for ``identity`` unless its quota is spent."""
        now_ms = int(self._clock() * 1000)
        base = self._bases.get(identity)
        if base is None:
            base = self._hash(identity)
        blocks = self._blocks
        if blocks is not None:
            until = blocks.get(base, now_ms)
            # No verdict blocks for longer than two windows (see below): a longer wait
            # was set before the clock stepped back (NTP, a VM restore), and kept, it
            # would hold the client off for the whole step. The store answers instead.
            if until is not None and until - now_ms <= 2 * self.window_ms:
                wait = ceil_div(until - now_ms, 1000)
                return Decision(False, self.limit, 0, wait, wait)
        algorithm = self._algorithm
        if algorithm is None:
            algorithm = self._algorithm = algorithm_named(self._algorithm_name)
        keys = algorithm.keys(base, now_ms, self.window_ms)
        try:
            verdict = await self._store.check(algorithm, keys, now_ms, self._quota)
        except StoreUnavailable as exc:
            return self._failed(exc, now_ms)
        if self._down_since is not None:
            self._answering_again(now_ms)
        window = self.window_ms
        if not (0 <= verdict.retry_ms <= 2 * window and 0 <= verdict.reset_ms <= 2 * window):
            # A shared store's reply is data from elsewhere: a wait past the window (a
            # broken or tampered store) would block the client here for good.
            verdict = verdict._replace(
                retry_ms=min(max(verdict.retry_ms, 0), window),
                reset_ms=min(max(verdict.reset_ms, 0), window),
            )
        if not verdict.allowed and self._block_cache_size:
            if blocks is None:
                from daloy_edge.ratelimit._blocks import BlockCache

                # Two first denials racing on threads may each make one: a block the
                # other forgets only costs one more store round trip, never a wrong answer.
                blocks = self._blocks = BlockCache(self._block_cache_size)
            blocks.add(base, now_ms + verdict.retry_ms, now_ms)
        return Decision(
            verdict.allowed,
            self.limit,
            verdict.remaining,
            ceil_div(verdict.reset_ms, 1000),
            ceil_div(verdict.retry_ms, 1000),
        )

    def _hash(self, identity: str) -> str:
        # A plain dict rather than ``functools.lru_cache``: ``functools`` is not loaded at
        # a cold start, and a hit is one dict lookup. Emptied when full: dropping the
        # oldest key one at a time would rescan the deleted slots at the dict's front.
        base = hashed_key(self._prefix, identity)
        if len(identity) <= _REMEMBERED_LEN:
            bases = self._bases
            if len(bases) >= _HASHED_KEYS:
                bases.clear()
            bases[identity] = base
        return base

    def _failed(self, exc: StoreUnavailable, now_ms: int) -> Decision:
        self._failures += 1
        self._down_failures += 1
        self._down_until = None
        if self._down_since is None:
            self._down_since = now_ms
        # Not just later than the last warning: a clock stepped back since it would keep
        # an outage out of the log until the clock caught up.
        if not 0 <= now_ms - self._last_log < _LOG_EVERY_MS:
            import logging

            logging.getLogger("daloy_edge.ratelimit").warning(
                "rate-limit store unavailable (%s); policy %r is %s (%d failures since last log)",
                exc,
                self.name,
                "failing open" if self.on_store_error == "fail_open" else "failing closed",
                self._failures,
            )
            self._last_log, self._failures = now_ms, 0
        if self.on_store_error == "fail_closed":
            raise exc
        return Decision(True, self.limit, self.limit, ceil_div(self.window_ms, 1000), 0, True)

    def _answering_again(self, now_ms: int) -> None:
        # The end of an outage, with its count: the warnings above stop with it, and the
        # failures since the last of them were never told. Told 10 s after the last
        # warning at the soonest, so a store failing every other check logs no more. The
        # outage ended with the first check answered, not with the one that says so: told
        # up to that one, a store back within 10 s of its warning on a quiet policy read as
        # an outage of hours.
        if self._down_until is None:
            self._down_until = now_ms
        if 0 <= now_ms - self._last_log < _LOG_EVERY_MS:
            return
        import logging

        logging.getLogger("daloy_edge.ratelimit").warning(
            "rate-limit store answering again; policy %r failed %d checks over %d s",
            self.name,
            self._down_failures,
            max(0, self._down_until - (self._down_since or now_ms)) // 1000,
        )
        self._down_since = self._down_until = None
        self._down_failures = self._failures = 0
        self._last_log = now_ms


def _window_ms(window: float) -> int:
    # NaN fails both comparisons; a string fails the isinstance.
    if isinstance(window, bool) or not isinstance(window, int | float) or not 0 < window < _INF:
        raise ConfigError("window must be a positive, finite number of seconds")
    return round(window * 1000)


def _validate(
    *, limit: int, window_ms: int, name: str, cost: int, policy: str, block_cache_size: int
) -> None:
    # The RateLimit fields carry them as structured-field integers: whole, at most 15 digits.
    for value in (limit, cost):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError("limit and cost must be whole numbers")
    if limit > _MAX_FIELD_INTEGER:
        raise ConfigError("limit must be at most 999,999,999,999,999")
    if limit < 1 or window_ms < 1:
        raise ConfigError("limit and window must be positive")
    if window_ms > _MAX_WINDOW_MS:
        raise ConfigError("window must be at most 366 days")
    if limit * window_ms > _MAX_PRODUCT:
        raise ConfigError("limit times window (in ms) is too large")
    if not 1 <= cost <= limit:
        raise ConfigError("cost must be between 1 and limit")
    if not _NAME.fullmatch(name):
        raise ConfigError("name must be 1-64 letters, digits, '_', '.' or '-'")
    if policy not in ("fail_open", "fail_closed"):
        raise ConfigError("on_store_error must be 'fail_open' or 'fail_closed'")
    if not block_cache_size >= 0:  # NaN too: the cache of blocked keys would grow unbounded
        raise ConfigError("block_cache_size must not be negative")
