"""The application: routing plus the defenses every request passes through."""

from __future__ import annotations

import os
import sys
import time
from _operator import itemgetter  # operator would load a Python module for it

from daloy_edge._chain import STREAMED_ANSWER, chain_caught, check_middleware, is_awaitable
from daloy_edge._charset import ALNUM, allowed, only
from daloy_edge._deadline import Deadline
from daloy_edge._errors import ConfigError, ServiceUnavailable, check_problem
from daloy_edge._guards import RequestLimits, check_request, header_fields, text_fields
from daloy_edge._idbytes import id_bytes
from daloy_edge._problem import error_renderer
from daloy_edge._request import DEFAULT_MAX_BODY
from daloy_edge._router import Router
from daloy_edge._routes import body_limit_finder, dispatcher
from daloy_edge.observability._logger import RequestLog
from daloy_edge.observability._sinks import complain

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
    from types import TracebackType
    from typing import Any, Literal, TypeAlias, TypeVar

    from daloy_edge._errors import HTTPError, Problems
    from daloy_edge._problem import ErrorRenderer
    from daloy_edge._request import DeliveryCheck, Request
    from daloy_edge._response import Response
    from daloy_edge.types import Clock, Handler, Middleware, RequestObserver

    Environment: TypeAlias = Literal["production", "development"]
    LifespanHook: TypeAlias = Callable[[], "Awaitable[None] | None"]
    Hook = TypeVar("Hook", bound=LifespanHook)  # a hook keeps its own type as decorated
    E = TypeVar("E", bound=BaseException)
    TimingDetail: TypeAlias = bool | Callable[[Request], bool]
    _Failure: TypeAlias = tuple[Exception, TracebackType | None]  # a failed start-up

__all__ = ["App"]

# One to 128 of these, checked with ``_charset``'s expression written out. Unlike the
# ``^...$`` regex it replaces, it lets no trailing newline through.
_REQUEST_ID = allowed(ALNUM + "._:-")
_first = itemgetter(0)
# A root path's segments: RFC 3986 unreserved characters and the sub-delims a path keeps
# literally; no "%" (a prefix is compared as the client's text), "/", "?" or "#".
_ROOT_SEGMENT = allowed(ALNUM + "-._~!$&'()*+,;=:@")


class App(Router):
    """A daloy_edge application, secure by default.

    With no arguments it already enforces: a body limit (413), a request deadline (504),
    header count and size limits (431), path and header sanitation (400), hardened JSON,
    problem+json errors without internals in production, request ids, Server-Timing and
    one redacted, OTel-shaped JSON log line per request on stdout (``request_log``).

    >>> app = App()
    >>> @app.get("/health")
    ... async def health(request): return {"status": "ok"}

    ``root_path`` (``"/prod"``) is a prefix the platform leads the path with (a named
    API Gateway stage, a custom domain's base path mapping, an ALB or Workers route such
    as ``/api/*``): a path that starts with it, at a segment boundary, is routed below
    it, and one that does not is routed as it is (Powertools' ``strip_prefixes``,
    Mangum's ``api_gateway_base_path``). ``request.root_path`` and ``request.url`` keep
    it; ``Response.redirect`` does not add it. An ASGI server's own ``root_path``
    (``uvicorn --root-path``) is taken off by the ASGI adapter without this.

    Whatever the request's code raises is answered with a problem, ``BaseException``
    included (``sys.exit()``, ``KeyboardInterrupt``): a request never stops the process.
    Only the cancellation of the task serving it propagates, logged as a 499.

    Security: ``environment="development"`` (or ``DALOY_ENV=development``) puts exception
    text and traces into 500 responses; never use it where clients are untrusted.
    Server-Timing phases (auth, handler …) sharpen timing measurements for whoever
    receives them; ``server_timing_phases=False`` (or a predicate such as
    :func:`daloy_edge.observability.trusted_clients`) leaves other clients ``total`` only
    (and every client, for a request the predicate raises on).
    """

    def __init__(
        self,
        *,
        middleware: Sequence[Middleware] = (),
        environment: Environment | None = None,
        env: Mapping[str, str] | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        request_timeout: float = 10.0,
        limits: RequestLimits | None = None,
        observers: Sequence[RequestObserver] = (),
        expose_server_timing: bool = True,
        server_timing_phases: TimingDetail = True,
        request_log: RequestLog | bool = True,
        clock: Clock = time.monotonic,
        name: str = "daloy-edge",
        root_path: str = "",
    ) -> None:
        super().__init__()
        self.env: Mapping[str, str] = os.environ if env is None else env
        chosen = environment or self.env.get("DALOY_ENV", "production") or "production"
        if chosen not in ("production", "development"):
            raise ConfigError("environment must be 'production' or 'development'")
        if not max_body > 0:  # NaN too: no body would ever exceed it
            raise ConfigError("max_body must be positive")
        if not request_timeout > 0:  # NaN too: every request would end in a 504
            raise ConfigError("request_timeout must be positive")
        self.environment: Environment = chosen  # type: ignore[assignment]
        self.root_path = _checked_root_path(root_path)
        self.name = name
        self.max_body = max_body
        self.request_timeout = request_timeout
        self.limits = limits or RequestLimits()
        self.expose_server_timing = expose_server_timing
        self.server_timing_phases: TimingDetail = server_timing_phases
        self.clock = clock
        self._middleware: list[Middleware] = list(middleware)
        self.request_log: RequestLog | None = _request_log(request_log, self.env, name)
        self._observers: list[RequestObserver] = list(observers)
        if self.request_log is not None:
            self._observers.insert(0, self.request_log)
        self._startup: list[LifespanHook] = []
        self._shutdown: list[LifespanHook] = []
        self._started = False
        self._starting: list[asyncio.Future[_Failure | None]] | None = None  # waiting for start-up
        self._handler: Handler | None = None
        self._buffering: Handler | None = None
        self._problems: Problems = {}

    @property
    def debug(self) -> bool:
        """True in development: 500s then carry exception text."""
        return self.environment == "development"

    def use(self, *middleware: Middleware) -> None:
        """Add app-wide middleware (runs before routing, in the order given)."""
        self._ensure_open()
        self._middleware.extend(middleware)

    def observe(self, observer: RequestObserver) -> None:
        """Add an observer told about every finished request (before the first one).

        One added once the app serves was told how requests ended but never that they
        began (``on_request`` is looked up when the app is built).
        """
        self._ensure_open()
        self._observers.append(observer)

    def register_problem(self, exc_type: type[E], factory: Callable[[E], HTTPError]) -> None:
        """Map ``exc_type`` (and its subclasses) to an :class:`HTTPError` in this app only.

        :func:`daloy_edge.register_problem` maps for every app in the process: two APIs in
        one function, tenants or tests building apps side by side would each change the
        others' answers. For one exception class, this app's mapping comes first.
        """
        check_problem(exc_type, factory)
        self._problems[exc_type] = factory  # type: ignore[assignment]

    def on_startup(self, hook: Hook) -> Hook:
        """Run ``hook`` once before the first request (ASGI lifespan, Lambda init).

        If a hook raises, start-up did not happen: the request (and those that waited for
        it) is refused with a 503, and the next request runs every hook again. A hook
        added once start-up has begun is refused: it would never run.
        """
        if self._started:
            raise ConfigError("start-up has begun; add start-up hooks before the first request")
        self._startup.append(hook)
        return hook

    def on_shutdown(self, hook: Hook) -> Hook:
        """Run ``hook`` when the runtime shuts the app down."""
        self._shutdown.append(hook)
        return hook

    async def startup(self) -> None:
        """Run the start-up hooks once; if one fails, the next call runs them all again.

        A call made while another is still running its hooks waits for them to end, and
        raises what they raised.
        """
        if self._started:
            if self._starting is not None:
                await self._wait_for_startup()
            return
        self._started = True
        self._starting = []
        failure: _Failure | None = None
        try:
            for hook in self._startup:
                result = hook()
                if is_awaitable(result):
                    await result  # type: ignore[misc]
        except BaseException as exc:
            # A failed start-up is none: a warm Lambda container (or the next request
            # without an ASGI lifespan) must not serve without the hooks that never ran.
            self._started = False
            if isinstance(exc, Exception):
                failure = exc, exc.__traceback__
            elif not _cancelled(exc):
                error = _hook_failed(exc)
                failure = error, None
                raise error from exc
            raise
        finally:
            waiting, self._starting = self._starting, None
            for waiter in waiting:
                # A waiter may belong to another thread's loop (two servers serving one
                # app): woken from here, that loop would sleep on until something else
                # woke it.
                loop = waiter.get_loop()
                if not loop.is_closed():
                    loop.call_soon_threadsafe(_wake, waiter, failure)

    async def _wait_for_startup(self) -> None:
        # Only a request that arrives while an awaited hook runs (no ASGI lifespan) gets
        # here: it would otherwise be served before start-up has finished.
        starting = self._starting
        if starting is not None:
            import asyncio

            waiter: asyncio.Future[_Failure | None] = asyncio.get_running_loop().create_future()
            starting.append(waiter)
            # Start-up on another thread may have ended since ``starting`` was read: its
            # wake-ups then went out before this waiter was in the list, so none comes.
            if self._starting is starting:
                failed = await waiter
                if failed is not None:
                    # What the hooks raised, traced from them (not through the other
                    # waiters): the request is refused as the one that ran them.
                    error, trace = failed
                    raise error.with_traceback(trace)
        # Cancelled hooks, or a start-up already begun again by another waiter: join that
        # one (or run the hooks) rather than be served while they run.
        await self.startup()

    @property
    def started(self) -> bool:
        """True once every start-up hook has run (until then, requests run them first)."""
        return self._started and self._starting is None

    async def shutdown(self) -> None:
        """Run the shut-down hooks, every one even when some fail; then raise the first
        failure (a ``BaseException`` a hook raised as a ``RuntimeError``, as at start-up).
        """
        first: BaseException | None = None
        for hook in self._shutdown:
            try:
                result = hook()
                if is_awaitable(result):
                    await result  # type: ignore[misc]
            except BaseException as exc:
                # A hook that fails (a pool already closed) would leave the rest (the
                # log flush, the connection close) undone.
                if _cancelled(exc):
                    raise
                if first is None and isinstance(exc, Exception):
                    first = exc
                elif first is None:
                    first = _hook_failed(exc)
                    first.__cause__ = exc
        if first is not None:
            raise first

    def _ensure_open(self) -> None:
        if self._handler is not None:
            raise ConfigError("the app is already serving; configure it before the first request")

    def build(self, *, buffered: bool = False) -> Handler:
        """Freeze routes and middleware into the request handler (done once, lazily).

        ``buffered`` is for a runtime that sends a body whole (Lambda, functions-framework,
        Workers): its handler reads a streamed body to the end itself, under the request's
        deadline, so that a stream that fails or runs late is answered (500, 504) and
        logged as such, like an error in the handler, rather than after its 200 was logged.
        """
        handler, buffering = self._handler, self._buffering
        if handler is None or buffering is None:
            self._run_build_checks()
            render = error_renderer(debug=self.debug, problems=self._problems)
            compiled = self._compile(render)
            inner = chain_caught(self._middleware, dispatcher(compiled, render), render)
            limit_of = body_limit_finder(compiled)
            self._handler = handler = self._boundary(inner, render, limit_of, buffered=False)
            self._buffering = buffering = self._boundary(inner, render, limit_of, buffered=True)
        return buffering if buffered else handler

    def _run_build_checks(self) -> None:
        """Let middleware refuse an insecure app: ``check_app(app)`` runs once per object."""
        seen: set[int] = set()
        app_wide = self._middleware
        _refuse_repeated(app_wide, "every request")
        every = [*app_wide]
        listed = self.route_middleware()
        for pattern, method, route_mw in listed:
            if route_mw:  # a route without its own runs the app-wide chain, checked above
                _refuse_repeated([*app_wide, *route_mw], f"{method} {pattern}")
                every.extend(route_mw)
        # Each check_app that looks at every route gets this one listing: a rate limit
        # on each of a thousand routes listed the thousand routes a thousand times.
        self._listed = listed
        try:
            # Each object once: a mount's middleware is on the chain of each of its routes.
            for mw in every:
                if id(mw) in seen:
                    continue
                seen.add(id(mw))
                check_middleware(mw)
                check = getattr(mw, "check_app", None)
                if check is not None:
                    check(self)
        finally:
            self._listed = None

    # One long function on purpose: ``handle`` runs on every request, and each helper
    # call it does not make is time saved per request.
    def _boundary(  # noqa: PLR0915
        self,
        inner: Handler,
        render: ErrorRenderer,
        limit_of: Callable[[Request], int | None] | None = None,
        *,
        buffered: bool,
    ) -> Handler:
        limits, clock, max_body = self.limits, self.clock, self.max_body
        observers, timing = self._observers, self.expose_server_timing
        deadline = Deadline(self.request_timeout)
        # Requests the sanitation guard rejects, and requests cut off by the deadline, never
        # get an answer from the middleware; app-wide middleware that only adds response
        # headers can still mark those answers (``on_rejected``).
        on_rejected = [h for mw in self._middleware if (h := getattr(mw, "on_rejected", None))]
        starters = [f for o in observers if callable(f := getattr(o, "on_request", None))]
        detail = self.server_timing_phases
        root = self.root_path
        phases_of = detail if callable(detail) else None
        fixed_phases = False if callable(detail) else detail
        # Every handler the app builds is a coroutine function; ``handle`` steps it itself.
        first: Callable[[Request], Coroutine[Any, Any, Response]] = inner  # type: ignore[assignment]

        def rejected(request: Request, exc: BaseException) -> Response:
            response = render(request, exc)
            for hook in on_rejected:
                try:
                    hook(request, response)
                except Exception as failure:
                    # Raised from here, it left the app with no answer and no log line.
                    _on_rejected_failed(hook, failure)
            return response

        async def handle(request: Request) -> Response:  # noqa: PLR0915
            start = clock()
            if root:
                _below_root(request, root)
            try:
                fields = header_fields(request.headers)
            except TypeError:
                fields = text_fields(request)
            request.request_id = _request_id(fields[2], fields[3])
            request.max_body = max_body
            if limit_of is not None:  # some route has a body limit of its own
                request._limit_of = limit_of
            for on_request in starters:
                try:
                    on_request(request)
                except Exception as exc:
                    _start_failed(on_request, exc)
            try:
                check_request(request, limits, fields)
                # ``inner`` renders every error itself; only the deadline's 504 gets here.
                # Its first step runs here: most requests finish in it and need no timer.
                # Kept on the request: what waits on the way (a shedding queue, a body
                # read) can then give up before it rather than be cut off by it.
                request.deadline = end = deadline.end(request)
                coro = first(request)
                try:
                    pending = coro.send(None)
                except StopIteration as done:
                    response: Response = done.value
                else:
                    response = await deadline.watch(coro, pending, end)
                if buffered and getattr(response, "stream", None) is not None:
                    await _read_whole(request, response, end)
            except Exception as exc:
                response = rejected(request, exc)
            except BaseException as exc:
                if _cancelled(exc):
                    # The client left, the server stops, a caller gave up: the request
                    # still gets its line, and its trace stops being the current one.
                    _observe_cancelled(request, clock() - start, observers)
                    raise
                # Raised by the request's own code (``sys.exit()`` from argparse or click
                # reading client input, a BaseException subclass or group, a
                # CancelledError nobody asked this request for): a bug answered 500 like
                # any other. Let through, it ended the Lambda environment or the worker
                # (and with it the in-memory rate-limit and replay state) or reached
                # the server, which answered a bare 500; it was logged as a 499.
                response = rejected(request, exc)
            if STREAMED_ANSWER in request.state:
                await _close_dropped(request, response)
            # One lookup for the common answer; a HEAD request, a status without content,
            # a status no runtime can send (a 1xx as the final one, 600 and past, one set
            # as no int), a body middleware set to no bytes, an empty (or streamed) body and
            # no Response at all (middleware that forgot to return one) take the slow path.
            try:
                body = response.body
                plain = (
                    type(status := response.status) is int
                    and status in _PLAIN_STATUSES
                    and type(body) is bytes
                    and body != b""
                )
            except AttributeError:
                plain = False
            if not plain or request.method == "HEAD":
                response = await _framed(request, response, rejected)
            if request.principal is not None:
                _not_stored(response)
            duration = clock() - start
            if timing:
                if phases_of is None:
                    phases = fixed_phases
                else:
                    # Run after the answer was made, outside every error boundary: a
                    # predicate that raised left no answer and no log line.
                    try:
                        phases = phases_of(request)
                    except Exception as exc:
                        phases = _phases_failed(phases_of, exc)
                response.headers.put_lowered_pair(
                    "x-request-id",
                    request.request_id,
                    "server-timing",
                    _server_timing(request, duration, phases),
                )
            else:
                response.headers.put_lowered("x-request-id", request.request_id)
            # A length test here, not a call: almost every body is far below the bound.
            if (
                buffered
                and (check := request._deliverable) is not None
                and len(response.body) > check.unmeasured
            ):
                response = _delivered(check, request, response, rejected)
            if observers:
                error = request.state.get("error")
                if not isinstance(error, BaseException):
                    error = None
                for observer in observers:
                    try:
                        observer.on_response(request, response, duration, error)
                    except Exception as exc:
                        _observer_failed(observer, exc)
            return response

        return handle

    async def handle(self, request: Request, *, buffered: bool = False) -> Response:
        """Serve one request; adapters call this (start-up hooks run first, once).
        ``buffered``: the response's body is read whole (see :meth:`build`)."""
        if not self._started or self._starting is not None:
            try:
                await self.startup()
            except Exception as exc:
                return await self.start_failed(exc, buffered=buffered)(request)
        return await self.build(buffered=buffered)(request)

    def start_failed(self, error: Exception, *, buffered: bool = False) -> Handler:
        """The handler for a request whose start-up failed with ``error``.

        It answers 503 with ``Retry-After: 1`` through the same boundary as every answer:
        request id, Server-Timing, the headers ``on_rejected`` middleware adds, and one
        ERROR log line carrying ``error``. An adapter running :meth:`startup` itself
        serves the request with it rather than let ``error`` escape (a bare 502 or 500
        from the platform, and no request line); it keeps no such handler, so the next
        request runs the hooks again.

        Security: clients get the problem type only, never ``error``'s text.
        """
        self.build(buffered=buffered)  # the app's checks, as for a started app
        render = error_renderer(debug=self.debug, problems=self._problems)

        async def refuse(request: Request) -> Response:
            request.state["error"] = error
            raise ServiceUnavailable(
                "the service could not start; retry later",
                slug="startup-failed",
                headers={"retry-after": "1"},
            )

        return self._boundary(refuse, render, buffered=buffered)


def _checked_root_path(root: str) -> str:
    """``root`` when it is empty or "/" and segments of path characters, not dots."""
    segments = root.split("/")
    if root and (
        segments[0]
        or not all(only(part, _ROOT_SEGMENT) and part.strip(".") for part in segments[1:])
    ):
        raise ConfigError(
            f"root_path {root!r} must be '/' and one or more segments of path characters"
            " (no '%', '?', '#', empty, '.' or '..' segment, nor a trailing '/')"
        )
    return root


def _below_root(request: Request, root: str) -> None:
    """Route ``request`` below ``root`` when its path starts with it, as a gateway's stage
    or base path mapping sends it; a path without it is the app's own already."""
    raw, size = request.raw_path, len(root)
    if raw.startswith(root) and raw[size : size + 1] in ("", "/"):
        request.raw_path = raw[size:] or "/"
        request._path = None
        request.root_path += root


def _refuse_repeated(chain: Sequence[Middleware], where: str) -> None:
    """Refuse one middleware object twice in a request's chain (app-wide, per mount, per
    route, ``use``): its state would see each request twice. A rate limit counted it
    twice, a webhook was refused as its own replay, a load shedder with one slot
    waited on itself, and sessions failed with a 500."""
    if len({id(mw) for mw in chain}) == len(chain):
        return
    twice = next(mw for i, mw in enumerate(chain) if any(mw is other for other in chain[:i]))
    raise ConfigError(
        f"the same {type(twice).__name__} object runs twice on {where} (app-wide, per"
        " mount, per route or through use()); each request would pass it twice: apply it once"
    )


def _hook_failed(exc: BaseException) -> RuntimeError:
    """The failure a lifecycle hook's ``BaseException`` stands for (``sys.exit()`` from a
    configuration loader, a ``BaseException`` subclass): answered as any failed start-up
    (503, ``lifespan.startup.failed``) rather than let through to the platform, which
    printed it with its text, or to an ASGI server, which took lifespan as unsupported
    and served without the hooks."""
    return RuntimeError(f"a lifecycle hook raised {type(exc).__name__}")


def _wake(waiter: asyncio.Future[_Failure | None], failure: _Failure | None) -> None:
    if not waiter.done():
        waiter.set_result(failure)


def _request_id(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    # A repeated header is ambiguous (gateways join, keep the first or keep the last).
    if names.count("x-request-id") == 1:
        given = values[names.index("x-request-id")]
        if (
            len(given) <= 128
            and given.isascii()
            and given.encode().translate(_REQUEST_ID).isalnum()
        ):
            return given
        # Whitespace around a field value (SP and HTAB) is not part of it (RFC 9110):
        # HTTP servers strip it, event shapes and ASGI scopes may not.
        trimmed = given.strip(" \t")
        if (
            trimmed != given
            and len(trimmed) <= 128
            and trimmed.isascii()
            and trimmed.encode().translate(_REQUEST_ID).isalnum()
        ):
            return trimmed
    return new_request_id()


# Final statuses whose answer may carry content; the rest of 200-599 never does.
_FINAL_STATUSES = frozenset(range(200, 600))
_NO_CONTENT_STATUSES = frozenset({204, 205, 304})
_PLAIN_STATUSES = _FINAL_STATUSES - _NO_CONTENT_STATUSES


async def _framed(
    request: Request, response: Response, rejected: Callable[[Request, Exception], Response]
) -> Response:
    """``response`` as every runtime can send it: no content for HEAD or for a status
    without any (a dropped stream is closed, not left open), and a 500 problem for a
    status that is no final one (servers fail such a response after accepting it) or
    for an answer that is no Response (each adapter failed on it its own way)."""
    from daloy_edge._response import Response, to_body

    if not isinstance(response, Response):
        cause = f"the middleware answered with {type(response).__name__}, not a Response"
        response = rejected(request, TypeError(cause + " (return what call_next returns)"))
    elif type(response.body) is not bytes:
        # Set after the Response was made (``response.body = "..."`` in middleware): read
        # as the constructor reads it, since every adapter failed on it after the request
        # was logged as answered (a bare 500 from the server, a failed Lambda invocation).
        try:
            response.body = to_body(response.body)
        except (TypeError, ValueError) as exc:
            answer = rejected(request, exc)
            await _close(response, request)
            response = answer
    status = response.status
    # ``not isinstance``: a status set after the Response was made (``response.status =
    # item["code"]``, a Decimal read from DynamoDB, a float from JSON) equals an int, so
    # the range let it through; uvicorn's h11 then dropped the connection, Lambda failed
    # to write the result, and a Decimal failed the request log (no line at all).
    if not isinstance(status, int) or status not in _FINAL_STATUSES:
        answer = rejected(request, RuntimeError(f"the handler answered with status {status!r}"))
        await _close(response, request)
        response, status = answer, answer.status
    if status in _NO_CONTENT_STATUSES:
        # RFC 9110: no Content-Length on a 204; on a 205 only 0, and on a 304 only the
        # GET's, unknown here. A handler's went out as given from Lambda and Workers (a
        # 205 saying 3 framed 3 bytes that never came); every server states its own.
        if status == 205 and "content-length" in response.headers:
            response.headers.put_lowered("content-length", "0")
        else:
            del response.headers["content-length"]
    elif request.method != "HEAD":
        if response.stream is None and not response.body:
            # An empty body has no length but 0: a handler's "999" or "abc" went out as
            # given from Lambda and Workers, which take a bodiless answer for HEAD's.
            del response.headers["content-length"]
        return response
    else:
        _head_length(response)
    await _close(response, request)
    return response


def _head_length(response: Response) -> None:
    """State the length the GET body would have had on a HEAD answer: the body's own when
    there is one, else the handler's (a HEAD route that knows its file's size), dropped
    when it is no length. Every runtime sends a GET's length from its body, but HEAD's as
    given: "5" beside a 3-byte body, and "" or "abc", which h11 refused (the connection
    dropped) and gunicorn answered with its own bare 500."""
    headers = response.headers
    if response.stream is None and (response.body or "content-length" not in headers):
        headers.put_lowered("content-length", str(len(response.body)))
        return
    declared = headers.get_all("content-length")
    if declared and (len(declared) > 1 or not (declared[0].isdigit() and declared[0].isascii())):
        del headers["content-length"]


def _not_stored(response: Response) -> None:
    """``no-store`` on an answer for one principal (``/me``), unless the route chose its
    own caching (``public`` shares it on purpose). RFC 9111 keeps a shared cache from
    reusing an answer to ``Authorization``, but a CDN told to cache by path (CloudFront's
    default TTL for an answer without Cache-Control) and a shared browser do not ask."""
    headers = response.headers
    if "cache-control" not in map(_first, headers._items):  # a C-level pass, no copy
        headers.add_lowered("cache-control", "no-store")


async def _read_whole(request: Request, response: Response, end: float) -> None:
    """Read ``response``'s stream into its body by ``end`` (504 past it); a stream that
    fails is closed and its error raised. Not for an answer whose body framing drops."""
    if request.method == "HEAD" or response.status not in _PLAIN_STATUSES:
        return
    coro = _read(response, request)
    try:
        try:
            pending = coro.send(None)
        except StopIteration:
            return
        await Deadline.watch(coro, pending, end)
    except BaseException:
        await _close(response, request)
        raise


async def _read(response: Response, request: Request) -> Response:
    """Read the stream whole, then close it as a server closes one it sent: read to its
    end, a stream that is no generator (a cursor, a pooled connection) still held what
    it releases in ``aclose``. A close that fails is the request's error, in its log
    line, and the body read whole is answered, as a server sends it whole."""
    stream = response.stream
    await response.read()
    await _aclose(stream, request)
    return response


def _delivered(
    check: DeliveryCheck,
    request: Request,
    response: Response,
    rejected: Callable[[Request, Exception], Response],
) -> Response:
    """``response``, or the problem answering the failure the runtime's check names (a
    response the platform cannot deliver) with the request id and timing it carries."""
    failure = check(request, response)
    if failure is None:
        return response
    answer = rejected(request, failure)
    for name in ("x-request-id", "server-timing"):
        value = response.headers.get(name)
        if value is not None:
            answer.headers.put_lowered(name, value)
    return answer


async def _close_dropped(request: Request, response: Response) -> None:
    """Close the streamed answer of the route when a failure further out answered in its
    place (middleware raising after it, the deadline in its after phase). Dropped unread,
    it held whatever its stream holds (an upstream connection, a file) until collected.
    A middleware that answers with a new Response around the stream keeps it open."""
    answer: Response = request.state.pop(STREAMED_ANSWER)  # type: ignore[assignment]
    if (
        answer is not response
        and "error" in request.state
        and answer.stream is not getattr(response, "stream", None)
    ):
        await _close(answer, request)


async def _close(response: Response, request: Request) -> None:
    """Drop the body, closing a stream the handler gave. A stream that fails to close is
    the request's error, in its log line: raised, it left the app with no answer and no
    line (a HEAD on Lambda failed the invocation, and uvicorn printed the error's text)."""
    stream = response.stream
    response.body, response.stream = b"", None
    await _aclose(stream, request)


async def _aclose(stream: object, request: Request) -> None:
    """Close ``stream`` when it can be closed; a close that fails is the request's error."""
    close = getattr(stream, "aclose", None)
    if close is not None:
        try:
            await close()
        except Exception as exc:
            request.state.setdefault("error", exc)


_VARIANT = dict(zip("0123456789abcdef", "89ab89ab89ab89ab", strict=True))


def new_request_id() -> str:
    """A random UUID (version 4) string, without importing ``uuid``."""
    h = id_bytes(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def _request_log(option: RequestLog | bool, env: Mapping[str, str], name: str) -> RequestLog | None:
    if isinstance(option, RequestLog):
        return option
    if not option:
        return None
    # The default app name says nothing; let the platform's function name show instead.
    return RequestLog.from_env(env, service_name=None if name == "daloy-edge" else name)


def _phases_failed(shown: Callable[[Request], bool], exc: Exception) -> bool:
    """What ``server_timing_phases`` answers when it raised (a header it reads missing):
    ``total`` only, and a word on stderr."""
    owner = getattr(shown, "__qualname__", type(shown).__qualname__)
    complain(f"server_timing_phases {owner} failed: {type(exc).__name__}")
    return False


def _server_timing(request: Request, duration: float, phases: bool) -> str:
    # ``%`` formatting: the same digits as ``f"{x:.2f}"`` (both are
    # ``PyOS_double_to_string``), without parsing a format spec per value.
    timings = request.timings
    if not phases or not timings:
        return "total;dur=%.2f" % (duration * 1000)
    if len(timings) == 1:  # the handler phase alone, most often: no list to join
        name, seconds = timings[0]
        return "%s;dur=%.2f, total;dur=%.2f" % (name, seconds * 1000, duration * 1000)  # noqa: UP031
    parts = ["%s;dur=%.2f" % (name, seconds * 1000) for name, seconds in timings]  # noqa: UP031
    parts.append("total;dur=%.2f" % (duration * 1000))
    return ", ".join(parts)


def _cancelled(exc: BaseException) -> bool:
    """True when ``exc`` is the cancellation of the task serving the request (asked for
    from outside it: ``Task.cancel``), not one its code raised or let out of a task of
    its own."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None or not isinstance(exc, asyncio.CancelledError):
        return False
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no loop running: nothing could cancel the request
        return False
    return task is not None and task.cancelling() > 0


def _observe_cancelled(
    request: Request, duration: float, observers: Sequence[RequestObserver]
) -> None:
    """Tell the observers a request was cancelled without an answer: 499, as proxies
    log a client that closed the request."""
    from daloy_edge._response import Response

    response = Response(b"", CLIENT_CLOSED_REQUEST)
    for observer in observers:
        try:
            observer.on_response(request, response, duration, None)
        except Exception as exc:
            _observer_failed(observer, exc)


CLIENT_CLOSED_REQUEST = 499
"""The status a cancelled request is logged with (nginx's "client closed request")."""


# Reported with ``complain``, never ``print``: these run inside a failure's handler,
# where a print to a full or closed stderr raised and took the request's answer with
# it (and with no stderr at all, printed into the stdout log stream).


def _start_failed(on_request: Callable[[Request], object], exc: Exception) -> None:
    # Named, as the other reports are: reported once per message, a second observer
    # failing as the first did was never reported at all.
    owner = getattr(on_request, "__self__", on_request)
    complain(f"observer {type(owner).__name__} start failed: {type(exc).__name__}")


def _on_rejected_failed(hook: Callable[[Request, Response], object], exc: Exception) -> None:
    owner = getattr(hook, "__self__", hook)
    complain(f"on_rejected of {type(owner).__name__} failed: {type(exc).__name__}")


def _observer_failed(observer: RequestObserver, exc: Exception) -> None:
    complain(f"observer {type(observer).__name__} failed: {type(exc).__name__}")
