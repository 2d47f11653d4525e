"""What a runner's event loop keeps: nothing of the caller it was first made for.

A loop keeps a copy of the context it is made in (its wake-up handle's) for as long as
it lives, and a runner's loop lives as long as the process, or its thread.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
import weakref
from contextvars import ContextVar, copy_context

from daloy_edge._runner import Runner

held: ContextVar[object] = ContextVar("held")


class Holder:
    runner: Runner


def test_the_first_request_a_loop_was_made_for_is_not_kept_for_the_loops_life() -> None:
    # The loop made while the first request ran kept that request's context: what the
    # request had set (the request itself, its credentials) stayed in memory until the
    # instance went.
    runner = Runner()
    request = Holder()
    gone = weakref.ref(request)

    def first_request(request: Holder) -> None:
        held.set(request)
        runner.event_loop()

    copy_context().run(first_request, request)
    del request
    gc.collect()
    assert gone() is None
    runner.event_loop().close()


def test_a_runner_collected_with_its_loop_closes_the_loop_once() -> None:
    # The runner reachable from its loop's context (a Flask request context holds the
    # app, the app the handler, the handler its runner) made one cycle of the two; the
    # collector finalized the loop first, and the runner's ``__del__``, run midway
    # through that close, closed it again under it: "Exception ignored in:
    # BaseEventLoop.__del__ ... 'NoneType' object has no attribute 'close'" on stderr.
    holder = Holder()
    holder.runner = Runner()

    def first_request(holder: Holder) -> asyncio.AbstractEventLoop:
        held.set(holder)
        return holder.runner.event_loop()

    loop = copy_context().run(first_request, holder)
    del holder
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        # The loop's finalizer first, as the collector may run them:
        loop.__del__()  # type: ignore[attr-defined]
    assert loop.is_closed()
