"""With asyncio loaded, the runner runs each coroutine as a task; the one-iteration fast
path behaves exactly like run_until_complete would."""

from __future__ import annotations

import asyncio

import pytest

from daloy_edge._runner import run_as_task as run_on


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


class _CountedPolls:
    """Counts the loop's I/O polls (its selector's ``select`` calls)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        selector = loop._selector  # type: ignore[attr-defined]
        self.count = 0
        real = selector.select

        def select(timeout: float | None = None) -> list[object]:
            self.count += 1
            return real(timeout)

        selector.select = select


async def _quick() -> str:
    assert asyncio.current_task() is not None
    assert asyncio.get_running_loop() is not None
    return "done"


def test_a_lone_first_step_runs_without_polling_for_io(loop) -> None:
    polls = _CountedPolls(loop)
    for _ in range(3):
        assert run_on(loop, _quick()) == "done"
    assert polls.count == 0
    assert not loop._ready


def test_other_ready_callbacks_get_the_full_iteration_first(loop) -> None:
    polls = _CountedPolls(loop)
    order: list[str] = []
    loop.call_soon(order.append, "earlier callback")

    async def step() -> None:
        order.append("first step")

    run_on(loop, step())
    assert order == ["earlier callback", "first step"]
    assert polls.count == 1


def test_a_pending_timer_gets_the_full_iteration(loop) -> None:
    polls = _CountedPolls(loop)
    fired: list[str] = []
    loop.call_later(0, fired.append, "timer")

    async def step() -> None:
        return None

    run_on(loop, step())
    assert polls.count >= 1
    assert fired == ["timer"]


def test_cancelled_timers_do_not_pile_up(loop) -> None:
    async def schedules_and_cancels() -> None:
        asyncio.get_running_loop().call_later(60, print).cancel()

    for _ in range(200):
        run_on(loop, schedules_and_cancels())
    assert len(loop._scheduled) <= 1


def test_debug_mode_keeps_the_full_iteration(loop) -> None:
    loop.set_debug(True)
    polls = _CountedPolls(loop)
    assert run_on(loop, _quick()) == "done"
    assert polls.count == 1


def test_io_ready_meanwhile_is_handled_by_the_next_coroutine_that_waits(loop) -> None:
    import socket

    left, right = socket.socketpair()
    got: list[bytes] = []
    loop.add_reader(left.fileno(), lambda: got.append(left.recv(16)))
    try:
        right.send(b"ping")
        assert run_on(loop, _quick()) == "done"

        async def waits() -> None:
            await asyncio.sleep(0)

        run_on(loop, waits())
        assert got == [b"ping"]
    finally:
        loop.remove_reader(left.fileno())
        left.close()
        right.close()
