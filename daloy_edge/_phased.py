"""Middleware written as a step before the handler and a step after it.

Most middleware reads the request, lets the rest of the chain answer, then touches the
response. Written as :class:`Phased`, a run of such middleware is composed into one
coroutine that calls each ``before`` in turn and each ``after`` in reverse, instead of two
coroutine frames per middleware. The result is the same as nesting them one by one: an
exception in a phase is rendered where that middleware stands, and the middleware outside
it see the rendered response.
"""

from __future__ import annotations

from daloy_edge._response import Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from daloy_edge._problem import ErrorRenderer
    from daloy_edge._request import Request
    from daloy_edge.types import CallNext, Handler, Middleware

    After = Callable[[Request, Response], Response]

__all__ = ["Phased", "fuse", "is_phased"]


class Phased:
    """Base for middleware made of a ``before`` and an ``after`` step.

    ``before(request)`` returns ``None`` to go on, a :class:`Response` to answer at once
    (this middleware's ``after`` is then skipped, the ones outside it still run), or an
    awaitable of either when it has to wait (a form body, a remote store). ``after(request,
    response)`` returns the response to pass outwards. Either may raise; the error is
    rendered as problem+json in this middleware's place.

    A subclass that defines its own ``__call__`` is run as an ordinary middleware.
    """

    __slots__ = ()

    def before(self, request: Request) -> Response | Awaitable[Response | None] | None:
        """Runs before the rest of the chain; see the class docstring."""
        return None

    def after(self, request: Request, response: Response) -> Response:
        """Runs after the rest of the chain answered; returns the response to pass out."""
        return response

    async def __call__(self, request: Request, call_next: CallNext) -> Response:
        early = self.before(request)
        if early is not None:
            if not isinstance(early, Response):
                early = await early
            if early is not None:
                return early
        return self.after(request, await call_next(request))


def is_phased(mw: object) -> bool:
    """True when ``mw`` can be composed by :func:`fuse` (a :class:`Phased` whose class
    kept the base ``__call__``)."""
    return isinstance(mw, Phased) and type(mw).__call__ is Phased.__call__


def _overrides(mw: Phased, name: str) -> bool:
    return getattr(type(mw), name) is not getattr(Phased, name)


def fuse(middleware: Sequence[Middleware], inner: Handler, render: ErrorRenderer) -> Handler:
    """One handler running the :class:`Phased` ``middleware`` (outermost first) around
    ``inner``, which renders its own errors."""
    phases: list[Phased] = [mw for mw in middleware if isinstance(mw, Phased)]
    # For each middleware with a ``before``: the bound method, and the ``after`` steps of
    # the middleware outside it (innermost first), which still run when it answers early.
    befores = tuple(
        (
            mw.before,
            tuple(o.after for o in reversed(phases[:i]) if _overrides(o, "after")),
        )
        for i, mw in enumerate(phases)
        if _overrides(mw, "before")
    )
    afters = tuple(mw.after for mw in reversed(phases) if _overrides(mw, "after"))

    async def fused(request: Request) -> Response:
        for before, outside in befores:
            try:
                early = before(request)
                if early is not None and not isinstance(early, Response):
                    early = await early
            except Exception as exc:
                early = render(request, exc)
            if early is not None:
                return _unwind(request, early, outside, render)
        return _unwind(request, await inner(request), afters, render)

    return fused


def _unwind(
    request: Request, response: Response, afters: tuple[After, ...], render: ErrorRenderer
) -> Response:
    for after in afters:
        try:
            response = after(request, response)
        except Exception as exc:
            failure: Exception = exc
            if not isinstance(response, Response):
                # What failed is the middleware inside, not this one's ``after``.
                failure = _no_response(after, response)
                failure.__cause__ = exc
            response = render(request, failure)
    return response


def _no_response(after: After, answer: object) -> TypeError:
    owner = type(getattr(after, "__self__", after)).__name__
    return TypeError(
        f"the middleware inside {owner} answered with {type(answer).__name__}, not a"
        " Response (return what call_next returns)"
    )
