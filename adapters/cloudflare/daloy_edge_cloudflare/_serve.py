"""Serving an :class:`App` from a Worker: the fetch handler and the entrypoint class."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from daloy_edge import App
from daloy_edge.jose import set_default_backend
from daloy_edge.observability._sinks import set_console
from daloy_edge.transport import set_default_transport
from daloy_edge_cloudflare._env import WorkerEnv
from daloy_edge_cloudflare._fetch import FetchTransport
from daloy_edge_cloudflare._js import console_line, keep_running, promise_of
from daloy_edge_cloudflare._request import to_request
from daloy_edge_cloudflare._response import ResponseCheck
from daloy_edge_cloudflare._webcrypto import WebCryptoBackend

__all__ = ["WAIT_UNTIL", "AppFactory", "WorkersApp", "entrypoint"]

AppFactory = Callable[[Mapping[str, str]], App]
"""Builds the app from the Worker's string bindings, e.g. ``examples.secure_app.create_app``."""

Flush = Callable[[], Awaitable[None]]
_CHECK = ResponseCheck()

WAIT_UNTIL = "wait_until"
"""``request.state`` key of a function that keeps an awaitable running after the response.

Middleware and observers call ``request.state["wait_until"](coro)`` to flush logs or
metrics without delaying the client; on Workers it is ``ctx.waitUntil``.
"""


class WorkersApp:
    """The fetch handler for an :class:`App` (or a factory building one from ``env``).

    The app is built once per isolate, from the first request's ``env``, and reused;
    before it is built, :class:`FetchTransport` becomes the default transport, so the
    JWKS client and the Upstash store reach the network through ``fetch``, and log lines
    of WARN and above go to ``console.warn`` / ``console.error`` (the level Workers Logs
    records; other lines stay on stdout, ``console.log``). ``flush``,
    when given, runs after every response under ``ctx.waitUntil``. A factory that
    raises (a configuration error) answers that request 503 (``Retry-After: 1``, the
    problem type ``startup-failed``) and logs the error, and the next request builds
    again.

    >>> # module-level handler style:
    >>> # on_fetch = WorkersApp(create_app).fetch
    """

    __slots__ = ("_app", "_env", "_flush", "_source")

    def __init__(self, app: App | AppFactory, *, flush: Flush | None = None) -> None:
        self._source = app
        self._flush = flush
        self._app: App | None = None
        self._env: WorkerEnv | None = None

    def app_for(self, env: object) -> tuple[App, WorkerEnv]:
        """The app and its bindings, both built on first use from ``env``."""
        if self._app is None or self._env is None:
            bindings = WorkerEnv(env)
            # Before the app is built, so whatever it builds reaches out through fetch.
            set_default_transport(FetchTransport())
            set_default_backend(WebCryptoBackend())
            # Lines of WARN and above reach Workers Logs at their level, not at ``log``.
            set_console(console_line)
            source = self._source
            self._app = source if isinstance(source, App) else source(bindings)
            self._env = bindings
        return self._app, self._env

    async def fetch(self, request: object, env: object, ctx: object = None) -> Any:
        """Serve one JS ``Request`` and return the JS ``Response``."""
        try:
            app, bindings = self.app_for(env)
        except Exception as exc:
            # Other runtimes build the app as they start and fail there; here the first
            # request builds it, and the error reached the runtime (its error page, no
            # request id, no log line). The next request tries again.
            bindings = WorkerEnv(env)
            app = _failing_start(exc, bindings)
        incoming = to_request(request, bindings)
        incoming.state[WAIT_UNTIL] = _deferrer(ctx)
        incoming._deliverable = _CHECK
        response = await app.handle(incoming, buffered=True)
        if self._flush is not None:
            _deferrer(ctx)(self._flush())
        return await _CHECK.built(incoming, response)


def _failing_start(error: Exception, bindings: WorkerEnv) -> App:
    """An app whose start-up fails with ``error``: it answers the start-up 503 problem
    and logs ``error`` on its ERROR line, as an app whose start-up hook fails does."""
    try:
        app = App(environment="production", env=bindings)
    except Exception:  # the bindings that broke the app may break its log settings too
        app = App(environment="production", env={})

    @app.on_startup
    def fail() -> None:
        raise error

    return app


def _deferrer(ctx: object) -> Callable[[Awaitable[object]], None]:
    wait_until = getattr(ctx, "waitUntil", None) if ctx is not None else None

    def defer(awaitable: Awaitable[object]) -> None:
        if wait_until is None:
            keep_running(awaitable)
        else:
            wait_until(promise_of(awaitable))

    return defer


def entrypoint(app: App | AppFactory, *, flush: Flush | None = None, name: str = "Default") -> type:
    """A ``workers.WorkerEntrypoint`` subclass serving ``app``: a Worker in three lines.

    >>> # src/entry.py
    >>> # from daloy_edge_cloudflare import entrypoint
    >>> # from examples.secure_app import create_app
    >>> # Default = entrypoint(create_app)

    The runtime finds the class by its ``__name__``, so assign it to a module attribute
    of the same ``name``.
    """
    from workers import WorkerEntrypoint

    served = WorkersApp(app, flush=flush)

    async def fetch(self: Any, request: object) -> Any:
        return await served.fetch(request, self.env, self.ctx)

    namespace = {"fetch": fetch, "served": served, "__doc__": "Serves a daloy_edge app."}
    return type(name, (WorkerEntrypoint,), namespace)
