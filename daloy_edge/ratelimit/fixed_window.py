"""Fixed window: at most ``limit`` per calendar window of ``window_ms``.

Cheapest and most predictable; a client may spend two windows' worth across a boundary.
Denied requests do not count.
"""

from __future__ import annotations

from daloy_edge.ratelimit._base import Algorithm, Quota, Verdict

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from daloy_edge.ratelimit._protocols import Counters

__all__ = ["FIXED_WINDOW"]

# Keys outlive their window by this much, so an instance whose clock runs a little
# behind still finds the count instead of starting a fresh one.
SKEW_MS = 1000

SCRIPT = """
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local window, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local reset = window - (now % window)
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count + cost > limit then
  return {0, math.max(0, limit - count), reset, reset}
end
count = redis.call('INCRBY', KEYS[1], cost)
if count == cost then
  redis.call('PEXPIRE', KEYS[1], reset + $SKEW)
end
return {1, math.max(0, limit - count), reset, 0}
""".replace("$SKEW", str(SKEW_MS))


def keys(base: str, now_ms: int, window_ms: int) -> tuple[str, ...]:
    """One counter per window, named by the window's index."""
    return (f"{base}:{now_ms // window_ms}",)


def check(counters: Counters, keys: Sequence[str], now_ms: int, quota: Quota) -> Verdict:
    """The Python form of :data:`SCRIPT`."""
    limit, window_ms, cost = quota
    reset = window_ms - now_ms % window_ms
    count = counters.get(keys[0]) or 0
    if count + cost > limit:
        return Verdict(False, max(0, limit - count), reset, reset)
    count = counters.incr(keys[0], cost, reset + SKEW_MS)
    return Verdict(True, max(0, limit - count), reset, 0)


FIXED_WINDOW = Algorithm("fixed_window", SCRIPT, keys, check)
"""The fixed-window algorithm."""
