"""The request deadline: 504 once it passes, for whatever the handler is awaiting."""

from __future__ import annotations

import time

from daloy_edge._errors import GatewayTimeout
from daloy_edge._runner import resume

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Awaitable, Generator
    from typing import Any

    from daloy_edge._request import Request
    from daloy_edge._response import Response
    from daloy_edge.types import CallNext

__all__ = ["Deadline"]


class Deadline:
    """Cancel the request's task at the earlier of the app's and the runtime's deadline.

    The timer is armed the first time the request waits: a request that never waits
    cannot be interrupted anyway, and so costs no timer (nor an asyncio import) at all.
    Only the cancellation this middleware caused becomes a 504; any other cancellation
    propagates untouched.
    """

    __slots__ = ("timeout",)

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def __call__(self, request: Request, call_next: CallNext) -> Awaitable[Response]:
        """``await deadline(request, call_next)``: the response, or 504 past the deadline.

        A plain method returning an awaitable rather than a coroutine: one coroutine
        fewer on every request."""
        now = time.monotonic()
        end = now + self.timeout
        if request.deadline is not None and request.deadline < end:
            end = request.deadline
        if end <= now:
            raise GatewayTimeout("request deadline exceeded")
        return _Watch(call_next(request), end)


class _Watch:
    """Drives the rest of the chain; arms the deadline timer at its first wait."""

    __slots__ = ("awaited", "end", "expired", "handle", "task")

    def __init__(self, awaited: Awaitable[Response], end: float) -> None:
        self.awaited = awaited
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
        self.handle = loop.call_at(loop.time() + (self.end - time.monotonic()), self._expire)

    def _expire(self) -> None:
        self.expired = True
        if self.task is not None:
            self.task.cancel()

    def __await__(self) -> Generator[Any, Any, Response]:
        coro = self.awaited.__await__()
        try:
            pending = coro.send(None)
        except StopIteration as done:
            response: Response = done.value
            return response
        self._arm()
        try:
            response = yield from resume(coro, pending)
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
