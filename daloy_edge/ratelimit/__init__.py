"""Rate limiting: pure algorithms, an in-process store and a shared Redis store.

>>> from daloy_edge.ratelimit import RateLimiter
>>> limiter = RateLimiter(limit=100, window=60, algorithm="gcra")

Algorithms (each a Lua script plus the same logic in Python): :data:`FIXED_WINDOW`,
:data:`SLIDING_WINDOW` (the default) and :data:`GCRA` (token bucket). Stores:
:class:`MemoryStore` (the default) and :class:`UpstashStore` (Redis over the Upstash REST
protocol, one HTTP round trip per check). :class:`UpstashNonceStore` keeps webhook
nonces in the same Redis.
"""

from __future__ import annotations

from daloy_edge._lazy import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge.ratelimit._base import Algorithm, Quota, StoreUnavailable, Verdict
    from daloy_edge.ratelimit._protocols import Counters, RateLimitStore
    from daloy_edge.ratelimit.fixed_window import FIXED_WINDOW
    from daloy_edge.ratelimit.gcra import GCRA
    from daloy_edge.ratelimit.limiter import (
        ALGORITHMS,
        AlgorithmName,
        Decision,
        FailurePolicy,
        RateLimiter,
    )
    from daloy_edge.ratelimit.memory import MemoryStore
    from daloy_edge.ratelimit.sliding_window import SLIDING_WINDOW
    from daloy_edge.ratelimit.upstash import (
        UpstashCommands,
        UpstashError,
        UpstashNonceStore,
        UpstashREST,
        UpstashStore,
    )

__all__ = [
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
]

# Each name loads its module on first access: a limiter with the memory store never
# imports the Upstash client, and the protocols (which need ``typing``) load only when
# asked for.
_HOME = {
    "Algorithm": "_base",
    "Quota": "_base",
    "StoreUnavailable": "_base",
    "Verdict": "_base",
    "Counters": "_protocols",
    "RateLimitStore": "_protocols",
    "FIXED_WINDOW": "fixed_window",
    "GCRA": "gcra",
    "ALGORITHMS": "limiter",
    "AlgorithmName": "limiter",
    "Decision": "limiter",
    "FailurePolicy": "limiter",
    "RateLimiter": "limiter",
    "MemoryStore": "memory",
    "SLIDING_WINDOW": "sliding_window",
    "UpstashCommands": "upstash",
    "UpstashError": "upstash",
    "UpstashNonceStore": "upstash",
    "UpstashREST": "upstash",
    "UpstashStore": "upstash",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOME, globals())
