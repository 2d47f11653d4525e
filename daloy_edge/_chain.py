"""Route functions as handlers, and middleware composed around them (app-wide, per
mount, per route, or with :func:`use`)."""

from __future__ import annotations

from daloy_edge._phased import fuse, is_phased
from daloy_edge._problem import render_error
from daloy_edge._response import Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from functools import partial
    from types import GeneratorType
    from typing import TypeAlias

    from daloy_edge._problem import ErrorRenderer
    from daloy_edge._request import Request
    from daloy_edge.types import CallNext, Handler, Middleware

    Endpoint: TypeAlias = Callable[[Request], "Awaitable[object] | object"]
    """A route function: async or sync, returning a Response, a JSON-able value, str or None."""
else:
    # The class ``functools`` re-exports (typeshed has no stub for ``_functools``):
    # ``functools`` itself would be one more import on the cold path.
    from _functools import partial

    # The class of generator objects, made as ``types`` makes it: importing ``types``
    # would cost about 2% of a cold start.
    def _generator():
        yield

    GeneratorType = type(_generator())

__all__ = [
    "Endpoint",
    "catching",
    "chain",
    "chain_caught",
    "decorated_middleware",
    "is_awaitable",
    "is_coroutine_function",
    "normalize",
    "to_response",
    "use",
]

_CO_COROUTINE = 0x80  # the code flag of an ``async def`` function


def is_coroutine_function(fn: object) -> bool:
    """Like ``inspect.iscoroutinefunction`` (methods and partials unwrapped, and the
    ``functools.wraps`` chain followed), without importing :mod:`inspect`."""
    seen: set[int] = set()
    candidate: object = fn
    while id(candidate) not in seen:
        seen.add(id(candidate))
        target = getattr(candidate, "__func__", candidate)
        while isinstance(target, partial):
            target = target.func
        code = getattr(target, "__code__", None)
        if code is not None and code.co_flags & _CO_COROUTINE:
            return True
        candidate = getattr(candidate, "__wrapped__", candidate)
    return False


def is_awaitable(value: object) -> bool:
    """Like ``inspect.isawaitable`` for the objects a handler can return."""
    # A generator-based coroutine (``types.coroutine``) carries CO_ITERABLE_COROUTINE.
    return hasattr(value, "__await__") or (
        isinstance(value, GeneratorType) and bool(value.gi_code.co_flags & 0x100)
    )


def to_response(result: object) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return Response.empty()
    if isinstance(result, str):
        return Response.text(result)
    return Response.json(result)


def normalize(endpoint: Endpoint) -> Handler:
    """Turn any route function into an async ``Request -> Response`` handler."""
    if is_coroutine_function(endpoint):
        async_fn: Callable[[Request], Awaitable[object]] = endpoint  # type: ignore[assignment]

        async def run_async(request: Request) -> Response:
            return to_response(await async_fn(request))

        return run_async

    async def run_sync(request: Request) -> Response:
        if request.sync_in_thread:
            import asyncio

            result = await asyncio.to_thread(_in_thread, endpoint, request)
        else:
            result = endpoint(request)
        if is_awaitable(result):
            result = await result  # type: ignore[misc]
        return to_response(result)

    return run_sync


def _in_thread(endpoint: Endpoint, request: Request) -> object:
    try:
        return endpoint(request)
    except (StopIteration, GeneratorExit) as exc:
        # As a coroutine's StopIteration is (PEP 479): a future cannot carry it, so
        # asyncio failed to hand it back and the request waited for its deadline (a
        # 504); a GeneratorExit thrown back into the awaiting task closed every
        # coroutine on the way, the app's included, and the server got no answer.
        raise RuntimeError(f"the handler raised {type(exc).__name__}") from exc


def chain(
    middleware: Sequence[Middleware], handler: Handler, render: ErrorRenderer = render_error
) -> Handler:
    """Compose middleware around ``handler``; the first middleware runs outermost.

    Every ``call_next`` returns a Response: an exception raised further in is rendered
    (problem+json) before the middleware outside it sees the result, so headers that
    middleware adds land on error responses too.
    """
    return chain_caught(middleware, catching(handler, render), render)


def chain_caught(
    middleware: Sequence[Middleware], handler: Handler, render: ErrorRenderer
) -> Handler:
    """:func:`chain` around a ``handler`` that renders its own errors already."""
    current = handler
    end = len(middleware)
    while end:
        start = end
        while start and is_phased(middleware[start - 1]):
            start -= 1
        if start < end:
            # A run of before/after middleware: one coroutine for all of it.
            current = fuse(middleware[start:end], current, render)
            end = start
        else:
            end -= 1
            current = _layer(middleware[end], current, render)
    return current


def _layer(mw: Middleware, call_next: CallNext, render: ErrorRenderer) -> Handler:
    async def step(request: Request) -> Response:
        try:
            return await mw(request, call_next)
        except Exception as exc:
            return render(request, exc)

    return step


def catching(handler: Handler, render: ErrorRenderer) -> Handler:
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception as exc:
            return render(request, exc)

    return guarded


def use(*middleware: Middleware) -> Callable[[Endpoint], Handler]:
    """Wrap one route function (or any handler) in middleware that runs only around it.

    The same middleware objects work app-wide (``App(middleware=[...])``), per mount and
    per route; this is the decorator form. One object runs at most once per request: an
    app whose routes would pass one twice (app-wide and here again) refuses to build.

    >>> from daloy_edge import App
    >>> app = App()
    >>> @app.get("/hi")
    ... @use()
    ... async def hi(request): return {"hi": True}
    """

    def decorate(fn: Endpoint) -> Handler:
        import functools

        handler = chain(middleware, normalize(fn))
        functools.update_wrapper(handler, fn)
        # Recorded so build-time checks can see which middleware guards this route.
        handler.daloy_middleware = (*middleware, *decorated_middleware(fn))  # type: ignore[attr-defined]
        return handler

    return decorate


def decorated_middleware(endpoint: Endpoint) -> tuple[Middleware, ...]:
    """The middleware ``use(...)`` wrapped around ``endpoint`` (outermost first)."""
    found = getattr(endpoint, "daloy_middleware", ())
    return tuple(found) if isinstance(found, tuple) else ()
