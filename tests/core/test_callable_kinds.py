"""Route functions are classified without ``inspect``; ``inspect`` is the oracle here."""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Awaitable, Callable, Generator

import pytest

from daloy_edge._chain import is_awaitable, is_coroutine_function


async def async_fn(x: int = 0) -> int:
    return x


def sync_fn(x: int = 0) -> int:
    return x


class Holder:
    async def method(self) -> None:
        return None

    def sync_method(self) -> None:
        return None


@functools.wraps(async_fn)
def wrapped_async(x: int = 0) -> Awaitable[int]:
    return async_fn(x)


CALLABLES: list[Callable[..., object]] = [
    async_fn,
    sync_fn,
    Holder().method,
    Holder().sync_method,
    functools.partial(async_fn, 1),
    functools.partial(functools.partial(sync_fn), 1),
    wrapped_async,
    lambda: None,
]


@pytest.mark.parametrize("fn", CALLABLES, ids=range(len(CALLABLES)))
def test_coroutine_functions_match_inspect(fn: Callable[..., object]) -> None:
    expected = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(inspect.unwrap(fn))
    assert is_coroutine_function(fn) is expected


@types.coroutine
def _generator_coroutine() -> Generator[None, None, None]:
    yield


def _plain_generator() -> Generator[None, None, None]:
    yield


def test_awaitables_match_inspect() -> None:
    coroutine = async_fn()
    values = [coroutine, _generator_coroutine(), _plain_generator(), 1, None, "x"]
    try:
        assert [is_awaitable(v) for v in values] == [inspect.isawaitable(v) for v in values]
    finally:
        coroutine.close()
