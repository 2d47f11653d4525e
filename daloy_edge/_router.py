"""Routes, path parameters, mounts and per-route middleware."""

from __future__ import annotations

import time

from daloy_edge._errors import ConfigError, MethodNotAllowed, NotFound
from daloy_edge._guards import is_method_name
from daloy_edge._phased import fuse, is_phased
from daloy_edge._problem import render_error
from daloy_edge._response import Response
from daloy_edge._templates import (
    check_template,
    literal_brace,
    path_parameter_misuse,
    template_matcher,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from functools import partial
    from re import Pattern
    from types import GeneratorType
    from typing import TypeAlias, TypeVar

    from daloy_edge._problem import ErrorRenderer
    from daloy_edge._request import Request
    from daloy_edge._templates import SegmentPattern
    from daloy_edge.types import CallNext, Handler, Middleware

    Endpoint: TypeAlias = Callable[[Request], "Awaitable[object] | object"]
    """A route function: async or sync, returning a Response, a JSON-able value, str or None."""

    E = TypeVar("E", bound=Endpoint)
else:
    # The class ``functools`` re-exports (typeshed has no stub for ``_functools``):
    # ``functools`` itself would be one more import on the cold path.
    from _functools import partial

    # The class of generator objects, made as ``types`` makes it: importing ``types``
    # would cost about 2% of a cold start.
    def _generator():
        yield

    GeneratorType = type(_generator())

__all__ = ["Endpoint", "Router", "chain", "chain_caught", "decorated_middleware", "use"]

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


def _to_response(result: object) -> Response:
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
            return _to_response(await async_fn(request))

        return run_async

    async def run_sync(request: Request) -> Response:
        if request.sync_in_thread:
            import asyncio

            result = await asyncio.to_thread(endpoint, request)
        else:
            result = endpoint(request)
        if is_awaitable(result):
            result = await result  # type: ignore[misc]
        return _to_response(result)

    return run_sync


def chain(
    middleware: Sequence[Middleware], handler: Handler, render: ErrorRenderer = render_error
) -> Handler:
    """Compose middleware around ``handler``; the first middleware runs outermost.

    Every ``call_next`` returns a Response: an exception raised further in is rendered
    (problem+json) before the middleware outside it sees the result, so headers that
    middleware adds land on error responses too.
    """
    return chain_caught(middleware, _catching(handler, render), render)


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


def _route_handler(endpoint: Endpoint, render: ErrorRenderer) -> Handler:
    """The route function as a handler that renders its own errors and records its time
    as the ``handler`` Server-Timing phase: one coroutine per request for an async route
    function (the common case), the general path for everything else."""
    if not is_coroutine_function(endpoint):
        return _catching(_timed(normalize(endpoint)), render)
    async_fn: Callable[[Request], Awaitable[object]] = endpoint  # type: ignore[assignment]
    clock = time.perf_counter

    async def run(request: Request) -> Response:
        start = clock()
        try:
            result = await async_fn(request)
            # A dict (the usual JSON answer) goes straight to its response.
            response = Response.json(result) if type(result) is dict else _to_response(result)
        except Exception as exc:
            request.timings.append(("handler", clock() - start))
            return render(request, exc)
        request.timings.append(("handler", clock() - start))
        return response

    return run


def _layer(mw: Middleware, call_next: CallNext, render: ErrorRenderer) -> Handler:
    async def step(request: Request) -> Response:
        try:
            return await mw(request, call_next)
        except Exception as exc:
            return render(request, exc)

    return step


def _catching(handler: Handler, render: ErrorRenderer) -> Handler:
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


# Plain slotted classes rather than records: every app builds these, and a record class
# costs more to create, which is cold-start time.


class _Registration:
    __slots__ = ("endpoint", "max_body", "middleware")

    def __init__(
        self, endpoint: Endpoint, middleware: tuple[Middleware, ...], max_body: int | None
    ) -> None:
        self.endpoint, self.middleware, self.max_body = endpoint, middleware, max_body


class _Route:
    __slots__ = ("handlers", "max_body", "pattern", "regex")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        # A template route's pattern, compiled by the first request that tries the route:
        # ``Router.compile`` itself runs within the first request of a cold start.
        self.regex: Pattern[str] | SegmentPattern | None = None
        self.handlers: dict[str, Handler] = {}
        self.max_body: dict[str, int] = {}  # the methods registered with their own limit


class _Mount:
    __slots__ = ("middleware", "prefix", "router")

    def __init__(self, prefix: str, router: Router, middleware: tuple[Middleware, ...]) -> None:
        self.prefix, self.router, self.middleware = prefix, router, middleware


class _Compiled:
    __slots__ = ("exact", "mounts", "patterns")

    def __init__(self) -> None:
        self.exact: dict[str, _Route] = {}
        self.patterns: list[_Route] = []
        # (prefix, the mounted router behind its middleware, that router's routes)
        self.mounts: list[tuple[str, Handler, _Compiled]] = []

    def route_of(self, path: str, method: str) -> str | None:
        """The pattern that would serve ``method`` on ``path`` (mount prefixes included),
        without running anything; None when it would be a 404 or a 405."""
        route = self.exact.get(path)
        if route is None:
            for prefix, _, inner in self.mounts:
                if path == prefix or path.startswith(prefix + "/"):
                    found = inner.route_of(path[len(prefix) :] or "/", method)
                    return None if found is None else prefix + found
            route = _template_match(self.patterns, path)[0]
        if route is None:
            return None
        if _serves(route, method):
            return route.pattern
        other = self.elsewhere(path, method, route)
        if other is None:
            return None
        if isinstance(other, int):
            prefix, _, inner = self.mounts[other]
            pattern = inner.route_of(path[len(prefix) :] or "/", method)
            return None if pattern is None else prefix + pattern
        return other[0].pattern

    def elsewhere(
        self, path: str, method: str, first: _Route
    ) -> int | tuple[_Route, dict[str, str]] | None:
        """Where ``method`` on ``path`` goes when ``first``, the route matching it first,
        has no such method: the index of a mount serving it (after an exact route),
        or the next template route that matches and has it; None when none does (405).
        As Starlette and Hono route, so that ``GET /users/{id}`` still serves
        ``/users/me`` beside ``PUT /users/me``."""
        if self.exact.get(path) is first:
            for index, (prefix, _, inner) in enumerate(self.mounts):
                if (path == prefix or path.startswith(prefix + "/")) and inner.route_of(
                    path[len(prefix) :] or "/", method
                ) is not None:
                    return index
            later = self.patterns
        else:
            later = self.patterns[self.patterns.index(first) + 1 :]
        while later:
            route, params = _template_match(later, path)
            if route is None:
                return None
            if _serves(route, method):
                return route, params
            later = later[later.index(route) + 1 :]
        return None

    def allowed(self, path: str) -> set[str]:
        """Every method some route of this router serves on ``path`` (HEAD with GET)."""
        methods: set[str] = set()
        route = self.exact.get(path)
        if route is not None:
            methods.update(route.handlers)
        for prefix, _, inner in self.mounts:
            if path == prefix or path.startswith(prefix + "/"):
                methods |= inner.allowed(path[len(prefix) :] or "/")
        later = self.patterns
        while later:
            route = _template_match(later, path)[0]
            if route is None:
                break
            methods.update(route.handlers)
            later = later[later.index(route) + 1 :]
        if "GET" in methods:
            methods.add("HEAD")
        return methods


def _serves(route: _Route, method: str) -> bool:
    handlers = route.handlers
    return method in handlers or (method == "HEAD" and "GET" in handlers)


def _template_match(patterns: list[_Route], path: str) -> tuple[_Route | None, dict[str, str]]:
    """The first template route matching ``path``, with its parameters."""
    for candidate in patterns:
        regex = candidate.regex
        if regex is None:
            regex = candidate.regex = template_matcher(candidate.pattern)
        match = regex.match(path)
        if match:
            return candidate, match.groupdict()
    return None, {}


class Router:
    """A group of routes that can be mounted under a prefix with its own middleware."""

    def __init__(self) -> None:
        self._routes: dict[str, dict[str, _Registration]] = {}
        self._mounts: list[_Mount] = []
        self._frozen = False

    def route(
        self,
        path: str,
        methods: Sequence[str] = ("GET",),
        *,
        middleware: Sequence[Middleware] = (),
        max_body: int | None = None,
    ) -> Callable[[E], E]:
        """Register a function for ``path`` (``{name}`` one segment, ``{name:path}`` the rest)."""

        def register(fn: E) -> E:
            self.add_route(path, fn, methods, middleware=middleware, max_body=max_body)
            return fn

        return register

    def add_route(
        self,
        path: str,
        endpoint: Endpoint,
        methods: Sequence[str] = ("GET",),
        *,
        middleware: Sequence[Middleware] = (),
        max_body: int | None = None,
    ) -> None:
        """Register ``endpoint``; see :meth:`route`."""
        self._refuse_if_frozen()
        if not path.startswith("/"):
            raise ConfigError(f"route {path!r} must start with '/'")
        check_template(path)
        brace = literal_brace(path)
        if brace is not None:
            # Read as literal text, "/items/{id:int}" matched no request but itself.
            raise ConfigError(
                f"route {path!r}: {brace!r} is no parameter; write {{name}} for one segment"
                " or {name:path} for the rest of the path, and convert the value in the handler"
            )
        misuse = path_parameter_misuse(path)
        if misuse is not None:
            raise ConfigError(
                f"route {path!r}: {misuse}; {{name:path}} takes the rest of the path"
                " (matching such a route takes time that grows as a power of the path's length)"
            )
        if isinstance(methods, str):
            # Each character would be a method: methods="POST" served P, O, S and T, and
            # answered POST with a 405 whose Allow read "O, P, S, T".
            raise ConfigError(f"methods must be a sequence of names, not one string: {methods!r}")
        names = [method.upper() for method in methods]
        if not names or not all(is_method_name(name) for name in names):
            # Requests with any other method are refused (400) before routing: such a
            # route could never be reached.
            raise ConfigError(f"{path}: methods must be one to 16 letters each, not {methods!r}")
        registered = self._routes.setdefault(path, {})
        for name in names:
            if name in registered:
                raise ConfigError(f"{name} {path} is registered twice")
            registered[name] = _Registration(endpoint, tuple(middleware), max_body)

    def get(
        self, path: str, *, middleware: Sequence[Middleware] = (), max_body: int | None = None
    ) -> Callable[[E], E]:
        """Shorthand for ``route(path, ["GET"], ...)``."""
        return self.route(path, ("GET",), middleware=middleware, max_body=max_body)

    def post(
        self, path: str, *, middleware: Sequence[Middleware] = (), max_body: int | None = None
    ) -> Callable[[E], E]:
        """Shorthand for ``route(path, ["POST"], ...)``."""
        return self.route(path, ("POST",), middleware=middleware, max_body=max_body)

    def put(
        self, path: str, *, middleware: Sequence[Middleware] = (), max_body: int | None = None
    ) -> Callable[[E], E]:
        """Shorthand for ``route(path, ["PUT"], ...)``."""
        return self.route(path, ("PUT",), middleware=middleware, max_body=max_body)

    def patch(
        self, path: str, *, middleware: Sequence[Middleware] = (), max_body: int | None = None
    ) -> Callable[[E], E]:
        """Shorthand for ``route(path, ["PATCH"], ...)``."""
        return self.route(path, ("PATCH",), middleware=middleware, max_body=max_body)

    def delete(
        self, path: str, *, middleware: Sequence[Middleware] = (), max_body: int | None = None
    ) -> Callable[[E], E]:
        """Shorthand for ``route(path, ["DELETE"], ...)``."""
        return self.route(path, ("DELETE",), middleware=middleware, max_body=max_body)

    def mount(self, prefix: str, router: Router, *, middleware: Sequence[Middleware] = ()) -> None:
        """Serve ``router`` under ``prefix``; its middleware runs for every path below it,
        matched or not, so an unknown ``/admin/x`` is still behind ``/admin``'s checks.
        A path below ``prefix`` is the mount's even where a template route of this router
        (``/{page:path}``) would match it; only a route registered here for that exact
        path comes first, for the methods it has."""
        self._refuse_if_frozen()
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ConfigError("mount prefix must start with '/' and not end with '/'")
        if "{" in prefix or "}" in prefix:
            # Read as literal text: "/t/{tenant}" matched no request but itself.
            raise ConfigError(f"mount prefix {prefix!r} holds a brace; a prefix is literal text")
        if router._reaches(self):
            # Compiling it would recurse without end: a RecursionError on every request.
            raise ConfigError(f"mounting this router at {prefix!r} would mount it inside itself")
        self._mounts.append(_Mount(prefix, router, tuple(middleware)))

    def _reaches(self, other: Router) -> bool:
        return self is other or any(mount.router._reaches(other) for mount in self._mounts)

    def _refuse_if_frozen(self) -> None:
        # Routes added once requests are being served would be silently ignored.
        if self._frozen:
            raise ConfigError("routes are frozen once the app serves; add them before")

    def compile(self, render: ErrorRenderer = render_error) -> Handler:
        """Freeze the routes into one dispatch handler."""
        return _dispatcher(self._compile(render), render)

    def _compile(self, render: ErrorRenderer) -> _Compiled:
        self._frozen = True
        compiled = _Compiled()
        for pattern, registered in self._routes.items():
            route = _Route(pattern)
            for method, reg in registered.items():
                endpoint = _route_handler(reg.endpoint, render)
                route.handlers[method] = chain_caught(reg.middleware, endpoint, render)
                if reg.max_body is not None:
                    route.max_body[method] = reg.max_body
            if "{" not in pattern:
                compiled.exact[pattern] = route
            else:
                compiled.patterns.append(route)
        for mount in sorted(self._mounts, key=lambda m: len(m.prefix), reverse=True):
            inner = mount.router._compile(render)
            handler = chain(mount.middleware, _dispatcher(inner, render), render)
            compiled.mounts.append((mount.prefix, handler, inner))
        return compiled

    def route_middleware(self) -> list[tuple[str, str, tuple[Middleware, ...]]]:
        """Every (pattern, method, middleware) with mount, route and ``use`` middleware in
        the order they run (app-wide middleware not included); for build-time checks."""
        found: list[tuple[str, str, tuple[Middleware, ...]]] = []
        for pattern, registered in self._routes.items():
            for method, reg in registered.items():
                wrapped = (*reg.middleware, *decorated_middleware(reg.endpoint))
                found.append((pattern, method, wrapped))
        for mount in self._mounts:
            for pattern, method, inner in mount.router.route_middleware():
                found.append((mount.prefix + pattern, method, (*mount.middleware, *inner)))
        return found

    def routes(self) -> list[tuple[str, list[str]]]:
        """Every (pattern, methods) pair, mounts expanded; for docs and audits."""
        found = [(pattern, sorted(regs)) for pattern, regs in self._routes.items()]
        for mount in self._mounts:
            found += [(mount.prefix + p, m) for p, m in mount.router.routes()]
        return found


def _timed(handler: Handler) -> Handler:
    """Record the route function's own time as the ``handler`` Server-Timing phase."""

    async def timed(request: Request) -> Response:
        start = time.perf_counter()
        try:
            return await handler(request)
        finally:
            request.timings.append(("handler", time.perf_counter() - start))

    return timed


async def _ready(response: Response) -> Response:
    return response


def _dispatcher(compiled: _Compiled, render: ErrorRenderer) -> Handler:
    """Route a request; routing errors (404, 405) are rendered here, and route handlers
    render their own, so what this returns needs no further catching."""
    exact, patterns, mounts = compiled.exact, compiled.patterns, compiled.mounts

    # A plain function handing back the route handler's own coroutine: one coroutine
    # fewer per request than awaiting it from another.
    def dispatch(request: Request) -> Awaitable[Response]:
        try:
            handler = select(request)
        except Exception as exc:
            return _ready(render(request, exc))
        return handler(request)

    def select(request: Request) -> Handler:
        base: str = request.state.get("_route_base", "")  # type: ignore[assignment]
        path = (request.path[len(base) :] if base else request.path) or "/"
        route = exact.get(path)
        params: dict[str, str] = {}
        if route is None:
            # Mounts before templates: every path below a prefix is the mount's (behind
            # its middleware), even where a template such as "/{page:path}" matches it.
            for prefix, mounted, inner in mounts:
                if path == prefix or path.startswith(prefix + "/"):
                    request.state["_route_base"] = base + prefix
                    # Known before the mount's middleware runs, so that a request it
                    # refuses (401, 403, 429) is logged and counted under its route.
                    found = inner.route_of(path[len(prefix) :] or "/", request.method)
                    if found is not None:
                        request.route = base + prefix + found
                    return mounted
            if patterns:
                route, params = _template_match(patterns, path)
            if route is None:
                raise NotFound()
        method = request.method
        handler = route.handlers.get(method)
        if handler is None and method == "HEAD":
            handler = route.handlers.get("GET")
            method = "GET"
        if handler is None:
            # Another route may serve the method here; a 405 otherwise.
            method = request.method
            other = compiled.elsewhere(path, method, route)
            if other is None:
                allowed = ", ".join(sorted(compiled.allowed(path)))
                raise MethodNotAllowed(headers={"allow": allowed})
            if isinstance(other, int):
                prefix, mounted, inner = mounts[other]
                request.state["_route_base"] = base + prefix
                found_pattern = inner.route_of(path[len(prefix) :] or "/", method)
                if found_pattern is not None:
                    request.route = base + prefix + found_pattern
                return mounted
            route, params = other
            handler = route.handlers.get(method)
            if handler is None:  # HEAD, served by GET
                handler, method = route.handlers["GET"], "GET"
        request.route = base + route.pattern
        request.path_params = params
        limits = route.max_body
        if limits:  # empty for most routes: no lookup
            limit = limits.get(method)
            if limit is not None:
                request.max_body = limit
        return handler

    return dispatch
