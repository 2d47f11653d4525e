"""The route table a :class:`~daloy_edge.Router` compiles to, and the dispatcher that
picks each request's handler from it (404 and 405 rendered there)."""

from __future__ import annotations

from daloy_edge._errors import MethodNotAllowed, NotFound
from daloy_edge._templates import template_matcher

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from re import Pattern

    from daloy_edge._chain import Endpoint
    from daloy_edge._problem import ErrorRenderer
    from daloy_edge._request import Request
    from daloy_edge._response import Response
    from daloy_edge._router import Router
    from daloy_edge._template_index import TemplateIndex
    from daloy_edge._templates import SegmentPattern
    from daloy_edge.types import Handler, Middleware

__all__ = [
    "INDEXED_FROM",
    "Compiled",
    "Mount",
    "Registration",
    "Route",
    "body_limit_finder",
    "dispatcher",
    "template_match",
]


INDEXED_FROM = 16
"""Fewer template routes than this are tried in turn: indexing them saves nothing, and
the index module is not even loaded (a cold start of a small app)."""

# Plain slotted classes rather than records: every app builds these, and a record class
# costs more to create, which is cold-start time.


class Registration:
    __slots__ = ("endpoint", "max_body", "middleware")

    def __init__(
        self, endpoint: Endpoint, middleware: tuple[Middleware, ...], max_body: int | None
    ) -> None:
        self.endpoint, self.middleware, self.max_body = endpoint, middleware, max_body


class Route:
    __slots__ = ("handlers", "max_body", "pattern", "regex")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        # A template route's pattern, compiled by the first request that tries the route:
        # ``Router.compile`` itself runs within the first request of a cold start.
        self.regex: Pattern[str] | SegmentPattern | None = None
        self.handlers: dict[str, Handler] = {}
        self.max_body: dict[str, int] = {}  # the methods registered with their own limit


class Mount:
    __slots__ = ("middleware", "prefix", "router")

    def __init__(self, prefix: str, router: Router, middleware: tuple[Middleware, ...]) -> None:
        self.prefix, self.router, self.middleware = prefix, router, middleware


class Compiled:
    __slots__ = ("exact", "index", "mount_index", "mounts", "patterns")

    def __init__(self) -> None:
        self.exact: dict[str, Route] = {}
        self.patterns: list[Route] = []
        # Set by ``seal`` for a router with many template routes.
        self.index: TemplateIndex | None = None
        # (prefix, the mounted router behind its middleware, that router's routes)
        self.mounts: list[tuple[str, Handler, Compiled]] = []
        # Set by ``seal`` for a router with many mounts: each prefix length in use, the
        # longest first, with the mounts of that length by prefix.
        self.mount_index: tuple[tuple[int, dict[str, int]], ...] | None = None

    def seal(self) -> None:
        """Index the template routes and the mounts, once all are added (the mounts
        longest prefix first), if there are many."""
        if len(self.patterns) >= INDEXED_FROM:
            from daloy_edge._template_index import TemplateIndex

            self.index = TemplateIndex([route.pattern for route in self.patterns])
        if len(self.mounts) >= INDEXED_FROM:
            by_length: dict[int, dict[str, int]] = {}
            for number, (prefix, _, _) in enumerate(self.mounts):
                by_length.setdefault(len(prefix), {})[prefix] = number
            self.mount_index = tuple(sorted(by_length.items(), reverse=True))

    def mounts_of(self, path: str) -> list[int]:
        """The mounts whose prefix ``path`` is at or below, the longest prefix first: a
        lookup per prefix length in use, not a comparison per mount."""
        index = self.mount_index
        if index is None:
            return [
                number
                for number, (prefix, _, _) in enumerate(self.mounts)
                if path == prefix or path.startswith(prefix + "/")
            ]
        found: list[int] = []
        size = len(path)
        for length, prefixes in index:
            if length == size or (length < size and path[length] == "/"):
                number = prefixes.get(path[:length])
                if number is not None:
                    found.append(number)
        return found

    def candidates(self, path: str) -> list[Route]:
        """The template routes that may match ``path``, in registration order."""
        index, patterns = self.index, self.patterns
        if index is None or "\n" in path:
            # A regex's "$" matches before a final newline, which no segment shows.
            return patterns
        return [patterns[number] for number in index.candidates(path)]

    def route_of(self, path: str, method: str) -> str | None:
        """The pattern that would serve ``method`` on ``path`` (mount prefixes included),
        without running anything; None when it would be a 404 or a 405."""
        route = self.exact.get(path)
        if route is None:
            if self.mounts:
                for number in self.mounts_of(path)[:1]:
                    return _mounted_route(self.mounts[number], path, method)
            route = template_match(self.candidates(path), path)[0]
        if route is None:
            return None
        if serves(route, method):
            return route.pattern
        other = self.elsewhere(path, method, route)
        if other is None:
            return None
        if isinstance(other, int):
            return _mounted_route(self.mounts[other], path, method)
        return other[0].pattern

    def elsewhere(
        self, path: str, method: str, first: Route
    ) -> int | tuple[Route, dict[str, str]] | None:
        """Where ``method`` on ``path`` goes when ``first``, the route matching it first,
        has no such method: the index of a mount serving it (after an exact route),
        or the next template route that matches and has it; None when none does (405).
        As Starlette and Hono route, so that ``GET /users/{id}`` still serves
        ``/users/me`` beside ``PUT /users/me``."""
        candidates = self.candidates(path)
        if self.exact.get(path) is first:
            for number in self.mounts_of(path):
                if _mounted_route(self.mounts[number], path, method) is not None:
                    return number
            later = candidates
        else:
            later = candidates[candidates.index(first) + 1 :]
        for route in later:
            params = _params(route, path)
            if params is not None and serves(route, method):
                return route, params
        return None

    def allowed(self, path: str) -> set[str]:
        """Every method some route of this router serves on ``path`` (HEAD with GET)."""
        methods: set[str] = set()
        route = self.exact.get(path)
        if route is not None:
            methods.update(route.handlers)
        for number in self.mounts_of(path):
            prefix, _, inner = self.mounts[number]
            methods |= inner.allowed(path[len(prefix) :] or "/")
        for route in self.candidates(path):
            if _params(route, path) is not None:
                methods.update(route.handlers)
        if "GET" in methods:
            methods.add("HEAD")
        return methods


def body_limit_finder(compiled: Compiled) -> Callable[[Request], int | None] | None:
    """What gives a request its route's own body limit before routing has (for middleware
    that reads the body first); None when no route has one."""
    limits = _route_limits(compiled, "")
    if not limits:
        return None

    def limit_of(request: Request) -> int | None:
        method = request.method
        pattern = compiled.route_of(request.path, method)
        if pattern is None:
            return None
        limit = limits.get((pattern, method))
        if limit is None and method == "HEAD":
            limit = limits.get((pattern, "GET"))
        return limit

    return limit_of


def _route_limits(compiled: Compiled, base: str) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for route in (*compiled.exact.values(), *compiled.patterns):
        for method, limit in route.max_body.items():
            found[base + route.pattern, method] = limit
    for prefix, _, inner in compiled.mounts:
        found.update(_route_limits(inner, base + prefix))
    return found


def serves(route: Route, method: str) -> bool:
    handlers = route.handlers
    return method in handlers or (method == "HEAD" and "GET" in handlers)


def _mounted_route(mount: tuple[str, Handler, Compiled], path: str, method: str) -> str | None:
    """The pattern (its prefix included) the mount would serve ``method`` on ``path`` by."""
    prefix, _, inner = mount
    found = inner.route_of(path[len(prefix) :] or "/", method)
    return None if found is None else prefix + found


def _enter_mount(
    request: Request, base: str, path: str, mount: tuple[str, Handler, Compiled], method: str
) -> Handler:
    """Hand ``request`` to the mount: its handler, with the prefix noted for the mounted
    router and the route it would reach known before the mount's middleware runs, so
    that a request it refuses (401, 403, 429) is logged and counted under its route."""
    request.state["_route_base"] = base + mount[0]
    found = _mounted_route(mount, path, method)
    if found is not None:
        request.route = base + found
    return mount[1]


def template_match(patterns: list[Route], path: str) -> tuple[Route | None, dict[str, str]]:
    """The first template route matching ``path``, with its parameters."""
    for candidate in patterns:
        regex = candidate.regex
        if regex is None:
            regex = candidate.regex = template_matcher(candidate.pattern)
        match = regex.match(path)
        if match:
            return candidate, match.groupdict()
    return None, {}


def _params(route: Route, path: str) -> dict[str, str] | None:
    """The parameters of ``route`` for ``path``; None when it does not match."""
    found, params = template_match([route], path)
    return params if found is not None else None


async def _ready(response: Response) -> Response:
    return response


def dispatcher(compiled: Compiled, render: ErrorRenderer) -> Handler:
    """Route a request; routing errors (404, 405) are rendered here, and route handlers
    render their own, so what this returns needs no further catching."""
    exact, patterns, mounts = compiled.exact, compiled.patterns, compiled.mounts
    candidates = compiled.candidates if compiled.index is not None else None
    mounts_of = compiled.mounts_of if compiled.mount_index is not None else None

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
            if mounts_of is None:
                for mount in mounts:
                    prefix = mount[0]
                    if path == prefix or path.startswith(prefix + "/"):
                        return _enter_mount(request, base, path, mount, request.method)
            else:
                for number in mounts_of(path)[:1]:
                    return _enter_mount(request, base, path, mounts[number], request.method)
            if patterns:
                route, params = template_match(
                    patterns if candidates is None else candidates(path), path
                )
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
                return _enter_mount(request, base, path, mounts[other], method)
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
