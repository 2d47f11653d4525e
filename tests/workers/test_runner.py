"""The runner on Python 3.14, the one Python here that Pyodide alone provides.

Python 3.14 keeps the current task per thread, not per event loop. Pyodide cannot open
the socket pair a selector loop wakes itself with, so the loop a plain function runs is
asyncio's base loop over a selector that finds nothing ready: tasks, their entry and
their steps are 3.14's own.
"""

from __future__ import annotations

import pytest

from tests.support.workers import PyodideHarness

pytestmark = pytest.mark.slow

OWN_LOOP = """
import asyncio

from daloy_edge._runner import call_outside_loop


class NothingReady:
    def select(self, timeout):
        return []

    def close(self):
        pass


class OwnLoop(asyncio.BaseEventLoop):
    def __init__(self):
        super().__init__()
        self._selector = NothingReady()

    def _process_events(self, events):
        pass

    def _write_to_self(self):
        pass


def plain_function():
    # What asyncio.run(main()) does, with a bounded number of iterations: a task that
    # cannot be entered never finishes, and asyncio.run would wait for it for good.
    loop = OwnLoop()
    errors = []
    loop.set_exception_handler(lambda _, context: errors.append(repr(context["exception"])))

    async def work():
        await asyncio.sleep(0)
        return "done"

    task = loop.create_task(work())
    for _ in range(3):
        loop.call_soon(loop.stop)
        loop.run_forever()
    loop.close()
    return task.result() if task.done() else errors


async def main():
    caller = asyncio.current_task()
    answer = call_outside_loop(plain_function)
    await asyncio.sleep(0)
    return [answer, asyncio.current_task() is caller]
"""


def test_a_plain_function_called_from_a_task_runs_a_loop_of_its_own(
    workers_harness: PyodideHarness,
) -> None:
    # protect() calls a plain Lambda handler this way: on Python 3.14 the caller's task
    # was still the thread's current one, so the handler's own asyncio.run(main()) could
    # not enter its task ("Cannot enter into task ... while another task ... is being
    # executed") and hung until the invocation timed out.
    assert workers_harness.run(OWN_LOOP) == ["done", True]
