"""Route functions as handlers, and middleware composed around them (app-wide, per
mount, per route, or with :func:`use`)."""

from __future__ import annotations

from daloy_edge._errors import ConfigError
from daloy_edge._phased import fuse, is_phased
from daloy_edge._problem import render_error
from daloy_edge._response import Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from functools import partial
    from types import GeneratorType
    from typing import TypeAlias

    from daloy_edge._app import App
    from daloy_edge._problem import ErrorRenderer
    from daloy_edge._request import Request
    from daloy_edge.types import CallNext, Handler, Middleware

    Endpoint: TypeAlias = Callable[[Request], "Awaitable[object] | object"]
    """A route function: async or sync, returning a Response, a JSON-able value, str,
    bytes or None."""
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
    "check_middleware",
    "decorated_middleware",
    "is_awaitable",
    "is_coroutine_function",
    "normalize",
    "placed",
    "to_response",
    "use",
]

_CO_COROUTINE = 0x80  # the code flag of an ``async def`` function
_CO_VARARGS = 0x04  # the code flag of a function taking ``*args``


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


STREAMED_ANSWER = "daloy.streamed_answer"
"""``request.state`` key of the streamed Response a route answered with."""

_ANSWER = "daloy.answer"  # ``request.state`` key of the Response a route or middleware gave
_EARLIER = "daloy.earlier_answers"  # and those it gave before the latest, in order
_REUSED = (
    "a Response answers one request; this one was returned before"
    " (build it per request rather than once at module level)"
)


def _answers(request: Request, response: Response) -> bool:
    """Mark ``response`` answered by ``request``; False when another request's answer.

    Marked on the Response and kept by the request alone: nothing keeps a request alive
    for as long as an answered constant lives. Each Response a request gave stays its
    own to pass on, not only the latest (a route answering with the first of two apps'
    ``handle``, a middleware with what its first ``call_next`` gave)."""
    state = request.state
    if not response._returned:
        response._returned = True
        latest = state.setdefault(_ANSWER, response)
        if latest is not response:
            earlier: list[object] = state.setdefault(_EARLIER, [])  # type: ignore[assignment]
            earlier.append(latest)
            state[_ANSWER] = response
        return True
    return state.get(_ANSWER) is response or any(
        answer is response
        for answer in state.get(_EARLIER, ())  # type: ignore[attr-defined]
    )


def to_response(result: object, request: Request) -> Response:
    if isinstance(result, Response):
        if not result._returned and request.state.setdefault(_ANSWER, result) is result:
            result._returned = True  # the request's first answer: the usual case
        elif request.state.get(_ANSWER) is not result and not _answers(request, result):
            # Answered already, it carries that request's fields and possibly its
            # compressed or dropped body: one HEAD emptied a constant's body, and one
            # gzip client had it sent compressed, for every request after them. The same
            # request may pass it on (a route answering with another app's ``handle``).
            raise TypeError(_REUSED)
        if result.stream is not None:
            # For the app to close, should a failure further out answer instead of it.
            request.state[STREAMED_ANSWER] = result
        return result
    if result is None:
        return Response.empty()
    if isinstance(result, str):
        return Response.text(result)
    if isinstance(result, (bytes, bytearray, memoryview)):
        # JSON cannot hold bytes: returned, they were a 500 on every request.
        return Response(bytes(result), media_type="application/octet-stream")
    return Response.json(result)


def normalize(endpoint: Endpoint) -> Handler:
    """Turn any route function into an async ``Request -> Response`` handler."""
    if is_coroutine_function(endpoint):
        async_fn: Callable[[Request], Awaitable[object]] = endpoint  # type: ignore[assignment]

        async def run_async(request: Request) -> Response:
            return to_response(await async_fn(request), request)

        return run_async

    async def run_sync(request: Request) -> Response:
        if request.sync_in_thread:
            import asyncio

            result = await asyncio.to_thread(_in_thread, endpoint, request)
        else:
            result = endpoint(request)
        if is_awaitable(result):
            result = await result  # type: ignore[misc]
        return to_response(result, request)

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
            response = await mw(request, call_next)
        except Exception as exc:
            return render(request, exc)
        if not isinstance(response, Response):
            return response
        if not response._returned and request.state.setdefault(_ANSWER, response) is response:
            response._returned = True
        elif request.state.get(_ANSWER) is not response and not _answers(request, response):
            # A middleware's module-level answer (a constant 403): one HEAD emptied its
            # body for every request after, and each CORS answer added another Vary to
            # it, without bound.
            return render(request, TypeError(_REUSED))
        return response

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

    for mw in middleware:
        check_middleware(mw)

    def decorate(fn: Endpoint) -> Handler:
        import functools

        handler = chain(middleware, normalize(fn))
        functools.update_wrapper(handler, fn)
        # Recorded so build-time checks can see which middleware guards this route.
        handler.daloy_middleware = (*middleware, *decorated_middleware(fn))  # type: ignore[attr-defined]
        return handler

    return decorate


def placed(app: App, mw: object) -> list[tuple[str, list[Middleware], int]]:
    """Each chain a request of ``app`` can take (app-wide middleware first) that ``mw`` is
    on, with the route it serves and ``mw``'s place in it; for build-time checks. Routes
    without middleware of their own share the app-wide chain, given once (as "every
    request"): checked again for each, it made a cold start's build checks scan every
    route's chain."""
    app_wide = list(app._middleware)
    chains = [("every request", app_wide)]
    chains += [
        (f"{method} {pattern}", [*app_wide, *own])
        for pattern, method, own in app.route_middleware()
        if own
    ]
    found: list[tuple[str, list[Middleware], int]] = []
    for where, chain in chains:
        for index, other in enumerate(chain):
            if other is mw:
                found.append((where, chain, index))
                break
    return found


def marked_before(app: App, mw: object, marker: str) -> object | None:
    """The first middleware carrying ``marker`` (a true attribute) that runs before ``mw``
    on any chain of ``app``, or None; for the build checks of middleware order."""
    for _, chain, where in placed(app, mw):
        for other in chain[:where]:
            if getattr(other, marker, False):
                return other
    return None


def check_middleware(mw: object) -> None:
    """Refuse at build what cannot be called as ``await mw(request, call_next)``: every
    request it saw would be a 500 (and a class's ``on_rejected``, called unbound, raised
    out of the app on a request the guard refused, with no answer and no log line)."""
    asgi = (
        "ASGI middleware (scope, receive, send) cannot run inside an app: use the"
        " daloy_edge.middleware counterpart or write it as async (request, call_next)"
    )
    if isinstance(mw, type):
        # As Starlette's ``add_middleware(CORSMiddleware)`` takes it: called per request,
        # the class was built with (request, call_next) as its arguments.
        if _arity(mw.__call__, 1) == (3, 3):
            raise ConfigError(f"middleware {mw.__name__} is an ASGI middleware class; {asgi}")
        raise ConfigError(
            f"middleware {mw.__name__} is a class; pass an instance built from its config"
            f" ({mw.__name__}(...)), built once and called per request"
        )
    if not callable(mw):
        raise ConfigError(
            f"middleware must be callable as mw(request, call_next), not a {type(mw).__name__}"
        )
    # A bound method and an object's ``__call__`` are called with their instance first.
    fn: object = getattr(mw, "__func__", None)
    if fn is not None:
        arity = _arity(fn, 1)
    elif hasattr(mw, "__code__"):
        arity = _arity(mw, 0)
    else:
        arity = _arity(type(mw).__call__, _call_bound(type(mw)))
    if arity is None or arity[0] <= 2 <= arity[1]:
        return
    name = getattr(mw, "__qualname__", type(mw).__qualname__)
    hint = f"; {asgi}" if arity == (3, 3) else ""
    raise ConfigError(f"middleware {name} cannot be called as mw(request, call_next){hint}")


def _call_bound(cls: type) -> int:
    """How many arguments a call of an instance of ``cls`` binds first: none for a
    ``staticmethod`` ``__call__``, which Python calls without the instance."""
    for klass in cls.__mro__:
        found = vars(klass).get("__call__")
        if found is not None:
            return 0 if isinstance(found, staticmethod) else 1
    return 1


def _arity(fn: object, bound: int) -> tuple[int, int] | None:
    """How many positional arguments ``fn`` needs and takes at most, past the ``bound``
    first ones; None when that cannot be told (a builtin, a partial, ``*args``). With a
    keyword-only argument that has no default, no positional call fits (at most -1)."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_flags & _CO_VARARGS:
        return None
    given = code.co_argcount - bound
    needed = given - len(getattr(fn, "__defaults__", None) or ())
    if code.co_kwonlyargcount > len(getattr(fn, "__kwdefaults__", None) or {}):
        return needed, -1
    return needed, given


def decorated_middleware(endpoint: Endpoint) -> tuple[Middleware, ...]:
    """The middleware ``use(...)`` wrapped around ``endpoint`` (outermost first)."""
    found = getattr(endpoint, "daloy_middleware", ())
    return tuple(found) if isinstance(found, tuple) else ()
