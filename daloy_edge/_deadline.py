"""The request deadline: 504 once it passes, for whatever the handler is awaiting."""

from __future__ import annotations

import time
from _contextvars import Context  # contextvars only re-exports it

from daloy_edge._errors import GatewayTimeout
from daloy_edge._runner import resume

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Coroutine, Generator
    from typing import Any

    from daloy_edge._request import Request
    from daloy_edge._response import Response

__all__ = ["Deadline"]


class Deadline:
    """Cancel the request's task at the earlier of the app's and the runtime's deadline.

    The timer is armed the first time the request waits: a request that never waits
    cannot be interrupted anyway, and so costs no timer (nor an asyncio import) at all.
    Only the cancellation this deadline caused becomes a 504; any other cancellation
    propagates untouched.

    The caller runs the first step itself (most requests finish in it, and so cost no
    more than a clock reading here); only a request that waits gets :meth:`watch`::

        end = deadline.end(request)
        coro = call_next(request)
        try:
            pending = coro.send(None)
        except StopIteration as done:
            response = done.value
        else:
            response = await deadline.watch(coro, pending, end)
    """

    __slots__ = ("timeout",)

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def end(self, request: Request) -> float:
        """The ``time.monotonic()`` time the request must finish by; 504 if already past."""
        now = time.monotonic()
        end = now + self.timeout
        if request.deadline is not None and request.deadline < end:
            end = request.deadline
        if end <= now:
            raise GatewayTimeout("request deadline exceeded")
        return end

    @staticmethod
    def watch(coro: Coroutine[Any, Any, Response], pending: object, end: float) -> _Watch:
        """Await the rest of ``coro``, which yielded ``pending`` from its first step;
        504 once ``end`` passes."""
        return _Watch(coro, pending, end)


class _Watch:
    """Drives the rest of the chain after its first step; arms the deadline timer first."""

    __slots__ = ("coro", "end", "expired", "handle", "pending", "task")

    def __init__(self, coro: Coroutine[Any, Any, Response], pending: object, end: float) -> None:
        self.coro = coro
        self.pending = pending
        self.end = end
        self.expired = False
        self.handle: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[Any] | None = None

    def caused(self, exc: BaseException) -> bool:
        """True when ``exc`` is the cancellation this deadline asked for (and only it)."""
        import asyncio

        task = self.task
        return isinstance(exc, asyncio.CancelledError) and task is not None and task.uncancel() == 0

    def _arm(self) -> None:
        # Something is being awaited, so asyncio is loaded and a loop is running.
        import asyncio

        loop = asyncio.events._get_running_loop()
        task = asyncio.current_task(loop) if loop is not None else None
        if loop is None or task is None:
            return
        self.task = task
        # Armed in an empty context: a cancelled timer is kept until its time comes (by
        # Pyodide's loop always, its JS timer still set), and with a copy of the request's
        # context it kept every context variable set so far (the request's log record,
        # an app's current request) for the rest of the timeout after the answer.
        when = loop.time() + (self.end - time.monotonic())
        self.handle = loop.call_at(when, self._expire, context=Context())

    def _expire(self) -> None:
        self.expired = True
        if self.task is not None:
            self.task.cancel()

    def __await__(self) -> Generator[Any, Any, Response]:
        self._arm()
        try:
            response: Response = yield from resume(self.coro, self.pending)
        except BaseException as exc:
            if self.handle is not None:
                self.handle.cancel()
            if self.expired and self.caused(exc):
                raise GatewayTimeout("request deadline exceeded") from None
            raise
        if self.handle is not None:
            self.handle.cancel()
            if self.expired and self.task is not None and self.task.uncancel() == 0:
                raise GatewayTimeout("request deadline exceeded")
        return response
