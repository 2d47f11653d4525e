"""The Lambda entry point: invocations run through one :class:`~daloy_edge._runner.Runner`
per container (no event loop until an invocation waits on I/O, then one loop for good on
each thread that invokes)."""

from __future__ import annotations

import os
import time
from _contextvars import copy_context  # contextvars only re-exports these

from daloy_edge import App, ConfigError, _copies
from daloy_edge._runner import Runner
from daloy_edge_aws_lambda._events import Translation, UnsupportedEvent, detect

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from daloy_edge import Response
    from daloy_edge.types import Handler
    from daloy_edge_aws_lambda._types import (
        LambdaContext,
        LambdaEvent,
        LambdaHandler,
        LambdaResult,
    )

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

_TYPES = frozenset({"LambdaContext", "LambdaEvent", "LambdaHandler", "LambdaResult"})


def __getattr__(name: str) -> object:
    if name in _TYPES:
        from daloy_edge_aws_lambda import _types

        return getattr(_types, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Container:
    """What lives as long as the execution environment: the runner and the built app."""

    __slots__ = ("app", "dispatch", "runner")

    def __init__(self, app: App) -> None:
        self.app = app
        self.runner = Runner()
        self.dispatch: Handler | None = None

    def start(self) -> Handler:
        # Start-up hooks run once per container, before the first request is served.
        dispatch = self.app.build(buffered=True)
        try:
            self.runner.run(self.app.startup())
        except Exception as exc:
            # Kept for this invocation only: the next one runs the hooks again.
            return self.app.start_failed(exc, buffered=True)
        self.dispatch = dispatch
        return dispatch


def handler(
    app: App,
    *,
    flush_margin_ms: int = DEFAULT_FLUSH_MARGIN_MS,
    trust_alb_forwarded_for: bool = False,
) -> LambdaHandler:
    """The Lambda handler serving ``app`` for REST, HTTP API, Function URL and ALB events.

    The event shape is detected per invocation and the result is written in the same
    shape; any other event, or an HTTP one with a field of the wrong type, raises
    :class:`UnsupportedEvent`. The request deadline is the earlier of the app's timeout and Lambda's
    remaining time less ``flush_margin_ms`` (the app's timeout alone for a context that cannot
    tell it or tells none left, such as a test's stand-in). The raw event and context stay reachable
    as ``request.state["aws.event"]`` and ``request.state["aws.context"]``.

    Security: the client address is ``requestContext``'s source IP, never a header. ALB
    events carry none; ``trust_alb_forwarded_for=True`` takes the last
    ``X-Forwarded-For`` entry instead, correct only while the load balancer appends to
    that header (its default mode) and nothing else can invoke the function.

    >>> from daloy_edge import App
    >>> lambda_handler = handler(App())
    """
    if not flush_margin_ms >= 0:  # NaN too: the deadline would ignore the time left
        raise ConfigError("flush_margin_ms must not be negative")
    container = _Container(app)
    translation = Translation(env=app.env, trust_alb_forwarded_for=trust_alb_forwarded_for)
    margin = flush_margin_ms / 1000
    monotonic = time.monotonic
    run = container.runner.run

    def lambda_handler(event: LambdaEvent, context: LambdaContext | None) -> LambdaResult:
        shape = detect(event)
        try:
            request = shape.to_request(event, translation)
        except (AttributeError, TypeError, ValueError) as exc:
            # A field of the wrong type (a list for a path, a string for the headers):
            # only a hand-made invocation sends one, and it has no client to answer.
            raise UnsupportedEvent(f"malformed {shape.name} event") from exc
        # A stand-in context (a test's dataclass or MagicMock) may lack the method, raise
        # from it, or answer something other than milliseconds: the app's own timeout
        # then bounds the request, as it does without a context. So does an answer of
        # none left: Lambda never starts an invocation past its deadline, but
        # Powertools' LambdaContext answers 0, and every request was a 504 under it.
        # (Asked directly: getattr() with a default costs every invocation more than
        # the rare exception.)
        try:
            ms = context.get_remaining_time_in_millis()  # type: ignore[union-attr]
        except Exception:
            ms = None
        if type(ms) is int and ms > 0:
            request.deadline = monotonic() + ms / 1000 - margin
        request.state = {"aws.event": event, "aws.context": context}
        # Checked before the request is logged: past the limit, the service would answer
        # with its own 502.
        request._deliverable = shape.check
        dispatch = container.dispatch or container.start()
        # The app's handler is a coroutine function (Handler only promises an awaitable);
        # built buffered, it has read a streamed body already.
        response: Response = run(dispatch(request), copy_context())  # type: ignore[arg-type]
        return shape.from_response(response, response.body)

    return lambda_handler


def hook_snapstart_restore(environ: Mapping[str, str] = os.environ) -> bool:
    """Have the runtime treat each environment SnapStart restores as a copy of the process.

    SnapStart initialises the function once and restores many environments from that
    snapshot: each would hand out the request, trace and span ids left in the snapshot's
    block of random bytes (the same ids in every environment), and write on connections
    pooled before it was taken. A restore runs no at-fork hook, so the runtime's own
    after-restore hook runs the core's copy hooks. Imports ``snapshot_restore_py`` (which
    the runtime provides) only for a function being snapshotted.
    """
    if environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != "snap-start":
        return False
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:
        from daloy_edge_aws_lambda._stderr import warn

        warn(
            "SnapStart without snapshot_restore_py: restored environments may repeat"
            " request and trace ids"
        )
        return False
    register_after_restore(_copies.copied)
    return True


hook_snapstart_restore()
