"""Rate limiting: pure algorithms, an in-process store and a shared Redis store.

>>> from daloy_edge.ratelimit import RateLimiter
>>> limiter = RateLimiter(limit=100, window=60, algorithm="gcra")

Algorithms (each a Lua script plus the same logic in Python): :data:`FIXED_WINDOW`,
:data:`SLIDING_WINDOW` (the default) and :data:`GCRA` (token bucket). Stores:
:class:`MemoryStore` (the default) and :class:`UpstashStore` (Redis over the Upstash REST
protocol, one HTTP round trip per check). :class:`UpstashNonceStore` keeps webhook
nonces in the same Redis.
"""

from daloy_edge.ratelimit._base import (
    Algorithm,
    Counters,
    Quota,
    RateLimitStore,
    StoreUnavailable,
    Verdict,
)
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
