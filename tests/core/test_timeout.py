"""The timeout scope of fetches, rate-limit checks and replay records."""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

import pytest

from daloy_edge._timeout import timeout

REQUEST: ContextVar[str] = ContextVar("request")


def timers_holding(loop: asyncio.AbstractEventLoop, value: str) -> int:
    scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
    return sum(1 for handle in scheduled if handle._context.get(REQUEST) == value)  # type: ignore[attr-defined]


def test_a_finished_scope_leaves_no_timer_holding_the_callers_context() -> None:
    # A cancelled timer stays scheduled until its time (asyncio's heap drops it lazily,
    # Pyodide's loop only then): asyncio.timeout armed it with the caller's context, which
    # it kept, a request's log record included, for the rest of the delay.
    async def main() -> int:
        REQUEST.set("request-1")
        async with timeout(60):
            await asyncio.sleep(0)
        return timers_holding(asyncio.get_running_loop(), "request-1")

    assert asyncio.run(main()) == 0


def test_a_scope_past_its_delay_raises_timeout_error_and_says_it_expired() -> None:
    async def main() -> bool:
        scope = timeout(0)
        with pytest.raises(TimeoutError):
            async with scope:
                await asyncio.sleep(1)
        return scope.expired()

    assert asyncio.run(main()) is True


def test_a_scope_without_delay_never_expires() -> None:
    async def main() -> bool:
        scope = timeout(None)
        async with scope:
            await asyncio.sleep(0)
        return scope.expired()

    assert asyncio.run(main()) is False


def test_a_cancellation_from_outside_is_not_turned_into_timeout_error() -> None:
    async def main() -> None:
        async def waits() -> None:
            async with timeout(60):
                await asyncio.sleep(60)

        task = asyncio.ensure_future(waits())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
