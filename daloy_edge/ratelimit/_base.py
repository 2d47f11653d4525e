"""What every rate-limit algorithm and store agrees on.

An algorithm exists twice: as a Lua script that Redis runs atomically, and as Python
over :class:`Counters` (the three Redis operations the scripts use), so the in-process
store and Redis give the same answer for the same inputs. Times are integer
milliseconds from the caller's clock, which makes both forms testable at window edges.
"""

from __future__ import annotations

from daloy_edge._record import record
from daloy_edge.ratelimit._tuples import named_tuple, tuple_new

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import NamedTuple

    from daloy_edge.ratelimit._protocols import Counters, RateLimitStore

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


if TYPE_CHECKING:

    class Quota(NamedTuple):
        limit: int
        window_ms: int
        cost: int = 1

    class Verdict(NamedTuple):
        allowed: bool
        remaining: int
        reset_ms: int
        retry_ms: int

else:
    # What ``typing.NamedTuple`` would build, without importing ``typing`` or
    # ``collections``.
    @named_tuple
    class Quota(tuple):
        __slots__ = ()

        def __new__(cls, limit, window_ms, cost=1):
            return tuple_new(cls, (limit, window_ms, cost))

    @named_tuple
    class Verdict(tuple):
        __slots__ = ()

        def __new__(cls, allowed, remaining, reset_ms, retry_ms):
            return tuple_new(cls, (allowed, remaining, reset_ms, retry_ms))


Quota.__doc__ = """``limit`` units per ``window_ms``; each check spends ``cost`` of them."""
Verdict.__doc__ = """One check's outcome; durations are milliseconds."""


def __getattr__(name: str) -> object:
    # Defining a protocol imports ``typing``: they load only when someone asks for them.
    if name in ("Counters", "RateLimitStore"):
        from daloy_edge.ratelimit import _protocols

        return getattr(_protocols, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:
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

    @property
    def sha1(self) -> str:
        """The script's identity in Redis' script cache (EVALSHA), not a security digest."""
        digest = _SHA1.get(self.script)
        if digest is None:
            import hashlib

            digest = hashlib.sha1(self.script.encode("utf-8"), usedforsecurity=False).hexdigest()
            _SHA1[self.script] = digest
        return digest


# Computed on first use (only the Redis store needs it), so defining an algorithm loads
# no hash library.
_SHA1: dict[str, str] = {}


def ceil_div(a: int, b: int) -> int:
    """``ceil(a / b)`` for integers (the scripts use ``math.ceil(a / b)``)."""
    return -(-a // b)


def hashed_key(prefix: str, identity: str) -> str:
    """``prefix`` plus a digest of ``identity``: bounded length, and no API key or other
    client-supplied text stored in (or injected into the key space of) Redis."""
    import hashlib

    # A Lambda event's JSON can spell a lone surrogate in a header (an API key): strict
    # UTF-8 raised, a 500. Each text still has bytes of its own.
    data = identity.encode("utf-8", "surrogatepass")
    return prefix + hashlib.blake2b(data, digest_size=16).hexdigest()
