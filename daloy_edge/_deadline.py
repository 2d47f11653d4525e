"""The request deadline: 504 once it passes, for whatever the handler is awaiting."""

from __future__ import annotations

import time

from daloy_edge._errors import GatewayTimeout
from daloy_edge._request import Request
from daloy_edge._response import Response
from daloy_edge.types import CallNext

__all__ = ["Deadline"]


class Deadline:
    """Cancel the request's task at the earlier of the app's and the runtime's deadline.

    A single timer handle per request (cheaper than ``asyncio.timeout``, which the warm
    path of a serverless invocation notices). Only the cancellation this middleware
    caused becomes a 504; any other cancellation propagates untouched.
    """

    __slots__ = ("timeout",)

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        remaining = self.timeout
        if request.deadline is not None:
            remaining = min(remaining, request.deadline - time.monotonic())
        if remaining <= 0:
            raise GatewayTimeout("request deadline exceeded")
        # Whatever runs this coroutine has imported asyncio already; importing it here
        # keeps it off ``import daloy_edge`` for tools that never serve a request.
        import asyncio

        task = asyncio.current_task()
        if task is None:
            return await call_next(request)
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        handle = task.get_loop().call_later(remaining, expire)
        try:
            response = await call_next(request)
        except asyncio.CancelledError:
            if expired and task.uncancel() == 0:
                raise GatewayTimeout("request deadline exceeded") from None
            raise
        finally:
            handle.cancel()
        if expired and task.uncancel() == 0:
            raise GatewayTimeout("request deadline exceeded")
        return response
