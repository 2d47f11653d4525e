"""GCRA, the generic cell rate algorithm: a token bucket kept as one timestamp.

The bucket holds ``limit`` tokens and refills one every ``window_ms / limit``; the
stored value is the theoretical arrival time (TAT) at which the bucket is full again.
A full bucket admits a burst of ``limit``, then requests are spaced evenly. Time is kept
in integer microseconds (exact in Lua's doubles up to 2**53, some 285 years of Unix
time); the emission interval is rounded up to a whole microsecond and the burst is
exactly ``limit`` intervals.
"""

from __future__ import annotations

from daloy_edge.ratelimit._base import Algorithm, Quota, Verdict, ceil_div

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from daloy_edge.ratelimit._protocols import Counters

__all__ = ["GCRA"]

SCRIPT = """
local now, limit = tonumber(ARGV[1]) * 1000, tonumber(ARGV[2])
local interval, cost = math.ceil(tonumber(ARGV[3]) * 1000 / limit), tonumber(ARGV[4])
local window = interval * limit
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - window
if now < allow_at then
  local remaining = math.floor((window - (tat - now)) / interval)
  return {0, math.max(0, remaining), math.ceil((tat - now) / 1000),
          math.ceil((allow_at - now) / 1000)}
end
local ttl = math.ceil((new_tat - now) / 1000)
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl)
local remaining = math.floor((window - (new_tat - now)) / interval)
return {1, math.max(0, remaining), ttl, 0}
"""


def keys(base: str, now_ms: int, window_ms: int) -> tuple[str, ...]:
    """One timestamp per key."""
    return (base,)


def check(counters: Counters, keys: Sequence[str], now_ms: int, quota: Quota) -> Verdict:
    """The Python form of :data:`SCRIPT`."""
    limit, window_ms, cost = quota
    now = now_ms * 1000
    interval = ceil_div(window_ms * 1000, limit)
    window = interval * limit
    tat = max(counters.get(keys[0]) or 0, now)
    new_tat = tat + interval * cost
    allow_at = new_tat - window
    if now < allow_at:
        remaining = (window - (tat - now)) // interval
        return Verdict(
            False, max(0, remaining), ceil_div(tat - now, 1000), ceil_div(allow_at - now, 1000)
        )
    ttl = ceil_div(new_tat - now, 1000)
    counters.put(keys[0], new_tat, ttl)
    return Verdict(True, max(0, (window - (new_tat - now)) // interval), ttl, 0)


GCRA = Algorithm("gcra", SCRIPT, keys, check)
"""GCRA (token bucket semantics: burst of ``limit``, refill ``limit`` per window)."""
