"""Small bridges between Python values and JavaScript ones (Pyodide only).

``js`` and ``pyodide`` are imported inside each function, so importing the adapter on
CPython (for type checks, docs or unit tests of the pure parts) never needs them.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Mapping
from contextvars import Context
from typing import Any

__all__ = [
    "console_line",
    "is_null",
    "js_object",
    "keep_running",
    "promise_of",
    "settled",
    "to_bytes",
    "to_uint8array",
    "unwrap",
]

# The event loop holds tasks weakly; deferred work must not be collected half-way.
_RUNNING: set[asyncio.Future[object]] = set()


def keep_running(awaitable: Awaitable[object]) -> asyncio.Future[object]:
    """Schedule ``awaitable`` and hold a reference to it until it finishes."""
    task = asyncio.ensure_future(awaitable)
    _RUNNING.add(task)
    task.add_done_callback(_RUNNING.discard)
    return task


_ERROR = 17  # the OTel severity number of ERROR


def console_line(severity: int, line: str) -> None:
    """Write ``line`` at ``console.error`` (ERROR and above) or ``console.warn``.

    Workers Logs records a line's level by the console method it came from (Python's
    stdout is ``console.log``), and Workers Issues groups ``console.error`` lines.
    """
    from js import console

    (console.error if severity >= _ERROR else console.warn)(line)


def unwrap(value: object) -> Any:
    """The raw JS object behind a ``workers`` SDK wrapper (``Request``, ``Response``)."""
    return getattr(value, "js_object", value)


def is_null(value: object) -> bool:
    """True for JS ``null``: ``None`` or ``jsnull``, depending on the Pyodide version."""
    return value is None or type(value).__name__ == "JsNull"


def js_object(items: Mapping[str, object]) -> Any:
    """A plain JS object (not a ``Map``) with ``items``; JS values inside pass through."""
    from js import Object
    from pyodide.ffi import to_js

    return to_js(dict(items), dict_converter=Object.fromEntries)


def to_uint8array(data: bytes) -> Any:
    """A JS ``Uint8Array`` holding a copy of ``data``."""
    from pyodide.ffi import to_js

    return to_js(data)


def to_bytes(chunk: Any) -> bytes:
    """Python bytes from a JS ``Uint8Array`` (or ``ArrayBuffer``)."""
    return bytes(chunk.to_bytes())


def settled(start: Callable[..., Any], /, *args: object) -> asyncio.Future[Any]:
    """A future for the JS promise ``start(*args)`` returns, left alone by the promise
    once it is cancelled.

    Awaiting a promise directly, Pyodide 0.26.0a (Python Workers with the bare
    ``python_workers`` flag before compatibility date 2025-09-29) settles its future
    unconditionally: a promise settling after a timeout or the request deadline cancelled
    its awaiter (a fetch its ``AbortSignal`` ends a moment later, a body chunk) raised
    ``InvalidStateError`` in the promise's reaction, an uncaught error per timeout.

    ``start`` is called, and the promise's reactions attached, in an empty context: later
    Pyodide releases hand a JS promise over as a future whose callbacks keep the context
    they were added in until it settles, so a fetch the deadline gave up on kept the
    request's log record and context variables until its own timeout.
    """
    from js import Error
    from pyodide.ffi import create_proxy

    empty = Context()
    promise = empty.run(start, *args)
    future: asyncio.Future[Any]
    if not hasattr(promise, "then"):  # a Python awaitable (a wrapped binding's fetch)
        future = asyncio.ensure_future(promise)
        return future
    future = asyncio.get_running_loop().create_future()

    def settle(value: Any, failed: bool) -> None:
        on_value.destroy()
        on_error.destroy()
        if future.done():
            return
        if not failed:
            future.set_result(value)
        else:  # a JS Error arrives as JsException; anything else thrown is wrapped in one
            future.set_exception(value if isinstance(value, BaseException) else Error.new(value))

    on_value = create_proxy(lambda value: settle(value, False))
    on_error = create_proxy(lambda error: settle(error, True))
    empty.run(promise.then, on_value, on_error)
    return future


def promise_of(awaitable: Awaitable[object]) -> Any:
    """A JS ``Promise`` settled when ``awaitable`` finishes, for ``ctx.waitUntil``.

    The runtime's own patch that lets ``waitUntil`` take Python awaitables is not relied
    on: a Python task handed to JS directly is a borrowed proxy that dies with the call.
    """
    from js import Error, Promise
    from pyodide.ffi import create_once_callable

    task = keep_running(awaitable)

    def executor(resolve: Any, reject: Any) -> None:
        def settle(done: asyncio.Future[object]) -> None:
            if done.cancelled():
                reject(Error.new("cancelled"))
            elif (error := done.exception()) is not None:
                # The type only: exception text may carry request data into the logs.
                print(f"daloy_edge: deferred work failed: {type(error).__name__}", file=sys.stderr)
                reject(Error.new(type(error).__name__))
            else:
                resolve(None)

        task.add_done_callback(settle)

    return Promise.new(create_once_callable(executor))
