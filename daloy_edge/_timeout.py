"""A timeout scope whose timer holds no context of the request that set it."""

from __future__ import annotations

import asyncio
from _contextvars import Context  # contextvars only re-exports it

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["timeout"]


class timeout:
    """``asyncio.timeout(delay)``, its timer armed in an empty context.

    ``asyncio.timeout`` arms its timer with a copy of the caller's context, and a
    cancelled timer is kept until its time comes (by Pyodide's loop always, its JS timer
    still set): each fetch, rate-limit check or replay record bounded by one kept the
    request's context variables (its log record, an app's current request) for the rest
    of its timeout after the answer.

    >>> async def bounded():
    ...     async with timeout(1.0):
    ...         await asyncio.sleep(0)
    >>> asyncio.run(bounded())
    """

    __slots__ = ("_delay", "_scope")

    def __init__(self, delay: float | None) -> None:
        self._delay = delay
        self._scope = asyncio.timeout(None)

    def expired(self) -> bool:
        """True when the timeout fired (as :meth:`asyncio.Timeout.expired`)."""
        return self._scope.expired()

    async def __aenter__(self) -> timeout:
        scope = self._scope
        await scope.__aenter__()
        if self._delay is not None:
            when = asyncio.get_running_loop().time() + self._delay
            Context().run(scope.reschedule, when)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self._scope.__aexit__(kind, error, trace)
