"""Sliding window: the previous window's count, weighted by how much of it still
overlaps the sliding window, plus the current window's count.

Smooths the fixed window's boundary burst with two counters per key. A client that spent
its whole quota in one window waits into the next one until that count has faded enough,
so ``retry_ms`` can exceed one window. All arithmetic is on integers (scaled by
``window_ms``), so Lua's doubles and Python agree exactly.
"""

from __future__ import annotations

from daloy_edge.ratelimit._base import Algorithm, Quota, Verdict
from daloy_edge.ratelimit.fixed_window import SKEW_MS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from daloy_edge.ratelimit._protocols import Counters

__all__ = ["SLIDING_WINDOW"]

SCRIPT = """
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
local window, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local left = window - (now % window)
local prev = tonumber(redis.call('GET', KEYS[1]) or '0')
local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
if prev * left + (cur + cost) * window > limit * window then
  local retry
  if cur + cost <= limit then
    retry = left - math.floor((limit - cur - cost) * window / prev)
  else
    retry = left + window - math.floor((limit - cost) * window / cur)
  end
  local remaining = math.floor((limit * window - prev * left - cur * window) / window)
  return {0, math.max(0, remaining), math.max(left, retry), retry}
end
cur = redis.call('INCRBY', KEYS[2], cost)
if cur == cost then
  redis.call('PEXPIRE', KEYS[2], left + window + $SKEW)
end
local remaining = math.floor((limit * window - prev * left - cur * window) / window)
return {1, math.max(0, remaining), left, 0}
""".replace("$SKEW", str(SKEW_MS))


def keys(base: str, now_ms: int, window_ms: int) -> tuple[str, ...]:
    """The previous and the current window's counters (hash-tagged: one cluster slot)."""
    index = now_ms // window_ms
    return (f"{{{base}}}:{index - 1}", f"{{{base}}}:{index}")


def check(counters: Counters, keys: Sequence[str], now_ms: int, quota: Quota) -> Verdict:
    """The Python form of :data:`SCRIPT`."""
    limit, window_ms, cost = quota
    left = window_ms - now_ms % window_ms
    prev = counters.get(keys[0]) or 0
    cur = counters.get(keys[1]) or 0
    if prev * left + (cur + cost) * window_ms > limit * window_ms:
        retry = _retry_ms(prev, cur, left, quota)
        remaining = (limit * window_ms - prev * left - cur * window_ms) // window_ms
        return Verdict(False, max(0, remaining), max(left, retry), retry)
    cur = counters.incr(keys[1], cost, left + window_ms + SKEW_MS)
    remaining = (limit * window_ms - prev * left - cur * window_ms) // window_ms
    return Verdict(True, max(0, remaining), left, 0)


def _retry_ms(prev: int, cur: int, left: int, quota: Quota) -> int:
    """When ``cost`` fits again: later in this window as the previous one fades out,
    or in the next window, once the current count (then the previous) has faded enough."""
    limit, window_ms, cost = quota
    if cur + cost <= limit:
        return left - (limit - cur - cost) * window_ms // prev
    return left + window_ms - (limit - cost) * window_ms // cur


SLIDING_WINDOW = Algorithm("sliding_window", SCRIPT, keys, check)
"""The sliding-window (weighted two-counter) algorithm."""
