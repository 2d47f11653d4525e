"""Routes, path parameters, mounts and per-route middleware."""

from __future__ import annotations

import time

from daloy_edge._chain import (
    catching,
    chain,
    chain_caught,
    decorated_middleware,
    is_coroutine_function,
    normalize,
    to_response,
)
from daloy_edge._errors import ConfigError
from daloy_edge._guards import is_method_name
from daloy_edge._problem import render_error
from daloy_edge._response import Response
from daloy_edge._routes import Compiled, Mount, Registration, Route, dispatcher
from daloy_edge._templates import (
    check_template,
    literal_brace,
    parameters,
    path_parameter_misuse,
    template_shape,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from typing import TypeVar

    from daloy_edge._chain import Endpoint
    from daloy_edge._problem import ErrorRenderer
    from daloy_edge._request import Request
    from daloy_edge.types import Handler, Middleware

    E = TypeVar("E", bound=Endpoint)

__all__ = ["Router"]


def _route_handler(endpoint: Endpoint, render: ErrorRenderer) -> Handler:
    """The route function as a handler that renders its own errors and records its time
    as the ``handler`` Server-Timing phase: one coroutine per request for an async route
    function (the common case), the general path for everything else."""
    if not is_coroutine_function(endpoint):
        return catching(_timed(normalize(endpoint)), render)
    async_fn: Callable[[Request], Awaitable[object]] = endpoint  # type: ignore[assignment]
    clock = time.perf_counter

    async def run(request: Request) -> Response:
        start = clock()
        try:
            result = await async_fn(request)
            # A dict (the usual JSON answer) goes straight to its response.
            response = (
                Response.json(result) if type(result) is dict else to_response(result, request)
            )
        except Exception as exc:
            request.timings.append(("handler", clock() - start))
            return render(request, exc)
        request.timings.append(("handler", clock() - start))
        return response

    return run


class Router:
    """A group of routes that can be mounted under a prefix with its own middleware."""

    def __init__(self) -> None:
        self._routes: dict[str, dict[str, Registration]] = {}
        self._mounts: list[Mount] = []
        self._prefixes: set[str] = set()
        # Each template with its parameters' names left out, and the template registered
        # first for it by method.
        self._shapes: dict[str, dict[str, str]] = {}
        self._frozen = False
        # What route_middleware() gives while the build checks run, listed once for them.
        self._listed: list[tuple[str, str, tuple[Middleware, ...]]] | None = None

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
        wanted = getattr(endpoint, "daloy_path_param", None)
        if wanted is not None and all(name != wanted for _, _, name, _ in parameters(path)):
            # static_files reads its file's path from that parameter: without it, every
            # request to the route was a 404.
            raise ConfigError(
                f"route {path!r} has no {{{wanted}:path}} parameter for its handler to read"
            )
        if isinstance(methods, str):
            # Each character would be a method: methods="POST" served P, O, S and T, and
            # answered POST with a 405 whose Allow read "O, P, S, T".
            raise ConfigError(f"methods must be a sequence of names, not one string: {methods!r}")
        if max_body is not None and not max_body > 0:
            # NaN too: no body would ever exceed it, and the route read bodies of any
            # size past the app-wide limit.
            raise ConfigError(f"{path}: max_body must be positive, not {max_body!r}")
        names = [method.upper() for method in methods]
        if not names or not all(is_method_name(name) for name in names):
            # Requests with any other method are refused (400) before routing: such a
            # route could never be reached.
            raise ConfigError(f"{path}: methods must be one to 16 letters each, not {methods!r}")
        registered = self._routes.get(path, {})
        for index, name in enumerate(names):
            if name in registered or name in names[:index]:
                raise ConfigError(f"{name} {path} is registered twice")
        if "{" in path:
            self._refuse_shadowed(path, names)
        registered = self._routes.setdefault(path, registered)
        for name in names:
            registered[name] = Registration(endpoint, tuple(middleware), max_body)

    def _refuse_shadowed(self, path: str, names: list[str]) -> None:
        # Templates that differ only in their parameters' names match the same paths,
        # and the first registered serves them all: the second was never called.
        taken = self._shapes.setdefault(template_shape(path), {})
        for name in names:
            by, first = name, taken.get(name, path)
            if first == path and name == "HEAD":
                # The first one's GET answers HEAD too, before any later route is tried.
                by, first = "GET", taken.get("GET", path)
            if first != path:
                raise ConfigError(
                    f"{name} {path} would never be served: {by} {first} matches every"
                    " path it does and comes first"
                )
        for name in names:
            taken[name] = path

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
        path comes first, for the methods it has. An :class:`App` is refused here: only
        its routes would be served, without its own middleware, limits or hooks."""
        self._refuse_if_frozen()
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ConfigError("mount prefix must start with '/' and not end with '/'")
        if "{" in prefix or "}" in prefix:
            # Read as literal text: "/t/{tenant}" matched no request but itself.
            raise ConfigError(f"mount prefix {prefix!r} holds a brace; a prefix is literal text")
        from daloy_edge._app import App

        if isinstance(router, App):
            # Only its routes would be served: its own middleware (authentication, say),
            # limits, start-up hooks and request log were dropped without a word.
            raise ConfigError(
                f"mount a Router at {prefix!r}, not an App: an App's own middleware, limits"
                " and hooks would not run there; give the middleware to mount(middleware=...)"
            )
        if router._reaches(self):
            # Compiling it would recurse without end: a RecursionError on every request.
            raise ConfigError(f"mounting this router at {prefix!r} would mount it inside itself")
        if prefix in self._prefixes:
            # The first mount takes every path below the prefix: the second router's
            # routes were listed by routes() and audited, yet each answered 404.
            raise ConfigError(f"{prefix!r} is mounted twice; add the routes to one router")
        self._prefixes.add(prefix)
        self._mounts.append(Mount(prefix, router, tuple(middleware)))

    def _reaches(self, other: Router) -> bool:
        return self is other or any(mount.router._reaches(other) for mount in self._mounts)

    def _refuse_if_frozen(self) -> None:
        # Routes added once requests are being served would be silently ignored.
        if self._frozen:
            raise ConfigError("routes are frozen once the app serves; add them before")

    def compile(self, render: ErrorRenderer = render_error) -> Handler:
        """Freeze the routes into one dispatch handler."""
        return dispatcher(self._compile(render), render)

    def _compile(self, render: ErrorRenderer) -> Compiled:
        self._frozen = True
        compiled = Compiled()
        for pattern, registered in self._routes.items():
            route = Route(pattern)
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
            handler = chain(mount.middleware, dispatcher(inner, render), render)
            compiled.mounts.append((mount.prefix, handler, inner))
        compiled.seal()
        return compiled

    def route_middleware(self) -> list[tuple[str, str, tuple[Middleware, ...]]]:
        """Every (pattern, method, middleware) with mount, route and ``use`` middleware in
        the order they run (app-wide middleware not included); for build-time checks."""
        if self._listed is not None:
            return self._listed
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
