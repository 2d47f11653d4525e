"""State shared by worker threads, as functions-framework shares an app's: each of its
threads serves requests from an event loop of its own."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class SlowKey(str):
    """A key whose hashing yields to other threads (for ``pause`` seconds), as a thread
    switch may at any moment between a look-up of the key and a write."""

    __slots__ = ()
    pause = 0.001

    def __hash__(self) -> int:
        time.sleep(self.pause)
        return str.__hash__(self)


def at_once(threads: int, work: Callable[[], T]) -> list[T | BaseException]:
    """``work()`` on ``threads`` threads released together; each one's result or the
    exception it raised, in the order they finished."""
    start = threading.Barrier(threads)
    outcomes: list[T | BaseException] = []

    def run() -> None:
        start.wait()
        try:
            outcomes.append(work())
        except BaseException as exc:
            outcomes.append(exc)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return outcomes


def on_loops(threads: int, work: Callable[[], Coroutine[Any, Any, T]]) -> list[T | BaseException]:
    """:func:`at_once` for a coroutine: each thread awaits ``work()`` on a loop of its own."""

    def run() -> T:
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(work())
        finally:
            loop.close()

    return at_once(threads, run)
