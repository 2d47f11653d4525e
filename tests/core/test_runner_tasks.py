"""With asyncio loaded, the runner runs each coroutine as a task; the one-iteration fast
path behaves exactly like run_until_complete would."""

from __future__ import annotations

import asyncio

import pytest

from daloy_edge._runner import _run_as_task as run_on


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_coroutine_that_never_waits_finishes_in_one_step(loop) -> None:
    async def quick() -> str:
        assert asyncio.current_task() is not None
        return "done"

    assert run_on(loop, quick()) == "done"


def test_coroutine_that_waits_continues_on_the_loop(loop) -> None:
    async def waits() -> int:
        await asyncio.sleep(0.01)
        value = await asyncio.to_thread(lambda: 41)
        return value + 1

    assert run_on(loop, waits()) == 42


def test_exception_propagates(loop) -> None:
    async def fails() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        run_on(loop, fails())


def test_timeouts_still_fire(loop) -> None:
    async def slow() -> None:
        async with asyncio.timeout(0.01):
            await asyncio.sleep(5)

    with pytest.raises(TimeoutError):
        run_on(loop, slow())


def test_no_running_loop_is_left_behind(loop) -> None:
    async def quick() -> int:
        return 1

    run_on(loop, quick())
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_a_given_context_is_the_tasks_context(loop) -> None:
    from contextvars import ContextVar, copy_context

    var: ContextVar[str] = ContextVar("var", default="unset")

    async def sets() -> None:
        await asyncio.sleep(0)
        var.set("set")

    async def reads() -> str:
        return var.get()

    scope = copy_context()
    run_on(loop, sets(), scope)
    assert run_on(loop, reads(), scope) == "set"
    assert run_on(loop, reads()) == "unset"
