"""The Lambda entry point: one event loop per container, reused by every invocation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol, TypeVar

from daloy_edge import App, ConfigError, Request, Response
from daloy_edge.types import Handler
from daloy_edge_aws_lambda._events import Translation, detect

__all__ = [
    "DEFAULT_FLUSH_MARGIN_MS",
    "LambdaContext",
    "LambdaEvent",
    "LambdaHandler",
    "LambdaResult",
    "handler",
]

DEFAULT_FLUSH_MARGIN_MS = 500
"""Time kept back from Lambda's deadline to send the response and flush logs."""

T = TypeVar("T")


class LambdaContext(Protocol):
    """The part of the Lambda context object the adapter reads."""

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda stops the invocation."""
        ...


LambdaEvent = Mapping[str, object]
"""An invocation event as decoded from JSON."""

LambdaResult = dict[str, object]
"""What the handler returns to the runtime (serialised to JSON)."""

LambdaHandler = Callable[[LambdaEvent, LambdaContext | None], LambdaResult]
"""``def handler(event, context) -> dict`` as the Lambda runtime calls it."""


def run_on(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on ``loop`` as a real task.

    Most invocations never wait on I/O, so the task's first step already finishes it:
    that step is run with one loop iteration (``_run_once``) instead of a full
    ``run_until_complete``, whose set-up and tear-down cost more than serving ``/health``.
    A task that does wait continues under ``run_until_complete`` as usual. Event loops
    without ``_run_once`` (not CPython's) always take the usual path.
    """
    run_once = getattr(loop, "_run_once", None)
    if run_once is None or loop.is_running():
        return loop.run_until_complete(coro)
    task = loop.create_task(coro)
    asyncio.events._set_running_loop(loop)
    try:
        run_once()
    finally:
        asyncio.events._set_running_loop(None)
    if task.done():
        return task.result()
    return loop.run_until_complete(task)


class _Container:
    """What lives as long as the execution environment: the loop and the built app."""

    __slots__ = ("app", "dispatch", "loop")

    def __init__(self, app: App) -> None:
        self.app = app
        self.loop: asyncio.AbstractEventLoop | None = None
        self.dispatch: Handler | None = None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self.loop
        if loop is None or loop.is_closed():
            loop = self.loop = asyncio.new_event_loop()
        return run_on(loop, coro)

    def start(self) -> Handler:
        # Start-up hooks run once per container, before the first request is served.
        dispatch = self.app.build()
        self.run(self.app.startup())
        self.dispatch = dispatch
        return dispatch


async def _serve(dispatch: Handler, request: Request) -> tuple[Response, bytes]:
    response = await dispatch(request)
    body = response.body if response.stream is None else await response.read()
    return response, body


def handler(
    app: App,
    *,
    flush_margin_ms: int = DEFAULT_FLUSH_MARGIN_MS,
    trust_alb_forwarded_for: bool = False,
) -> LambdaHandler:
    """The Lambda handler serving ``app`` for REST, HTTP API, Function URL and ALB events.

    The event shape is detected per invocation and the result is written in the same
    shape. The request deadline is the earlier of the app's timeout and Lambda's
    remaining time less ``flush_margin_ms``. The raw event and context stay reachable
    as ``request.state["aws.event"]`` and ``request.state["aws.context"]``.

    Security: the client address is ``requestContext``'s source IP, never a header. ALB
    events carry none; ``trust_alb_forwarded_for=True`` takes the last
    ``X-Forwarded-For`` entry instead, correct only while the load balancer appends to
    that header (its default mode) and nothing else can invoke the function.

    >>> from daloy_edge import App
    >>> lambda_handler = handler(App())
    """
    if flush_margin_ms < 0:
        raise ConfigError("flush_margin_ms must not be negative")
    container = _Container(app)
    translation = Translation(env=app.env, trust_alb_forwarded_for=trust_alb_forwarded_for)
    margin = flush_margin_ms / 1000
    monotonic = time.monotonic
    run = container.run

    def lambda_handler(event: LambdaEvent, context: LambdaContext | None) -> LambdaResult:
        shape = detect(event)
        request = shape.to_request(event, translation)
        if context is not None:
            remaining = context.get_remaining_time_in_millis() / 1000
            request.deadline = monotonic() + remaining - margin
        state = request.state
        state["aws.event"] = event
        state["aws.context"] = context
        dispatch = container.dispatch or container.start()
        response, body = run(_serve(dispatch, request))
        return shape.from_response(response, body)

    return lambda_handler
