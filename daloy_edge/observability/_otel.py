"""Export server spans through the OpenTelemetry SDK, only when one is configured.

Nothing here imports OpenTelemetry unless the application already did: detection looks
in ``sys.modules``, so cold starts of apps that do not use the SDK pay nothing.
"""

from __future__ import annotations

import sys

from daloy_edge.observability._config import OTEL_SDK_MODULE
from daloy_edge.observability._trace import TraceContext

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.trace import Span, Tracer, TraceState

    from daloy_edge.types import JSON

__all__ = ["OTelBridge", "current_span_trace"]

_PRIMITIVES = (str, bool, int, float)


def _sdk_tracer(provider: object | None) -> Tracer | None:
    sdk = sys.modules.get(OTEL_SDK_MODULE)
    if sdk is None:
        return None
    from opentelemetry import trace

    chosen = provider if provider is not None else trace.get_tracer_provider()
    if not isinstance(chosen, sdk.TracerProvider):
        return None
    tracer: Tracer = chosen.get_tracer("daloy_edge")
    return tracer


def _otel_attributes(attributes: Mapping[str, JSON]) -> dict[str, str | bool | int | float]:
    return {k: v for k, v in attributes.items() if isinstance(v, _PRIMITIVES)}


class OTelBridge:
    """Starts and ends one SDK span per request, sharing ids with the log records.

    ``enabled=None`` exports when an SDK ``TracerProvider`` is installed globally;
    ``False`` never does; ``provider`` pins a specific provider.
    """

    __slots__ = ("_enabled", "_provider", "_tracer")

    def __init__(self, *, enabled: bool | None = None, provider: object | None = None) -> None:
        self._enabled = enabled
        self._provider = provider
        self._tracer: Tracer | None = None

    def tracer(self) -> Tracer | None:
        """The SDK tracer, once the application has configured one."""
        tracer = self._tracer
        # Asked on every request: the module check (what ``_sdk_tracer`` starts with)
        # comes first, so an application without the SDK pays no call for it.
        if tracer is None and self._enabled is not False and OTEL_SDK_MODULE in sys.modules:
            tracer = self._tracer = _sdk_tracer(self._provider)
        return tracer

    def start(
        self, name: str, context: TraceContext, start_ns: int
    ) -> tuple[Span, TraceContext, Token[Context]]:
        """Start the server span and make it the current one (spans the handler starts
        are its children); returns it, the trace context with the SDK's ids, and the
        token :meth:`deactivate` takes."""
        from opentelemetry import trace
        from opentelemetry.context import Context, attach

        tracer = self.tracer()
        if tracer is None:
            raise RuntimeError("no OpenTelemetry SDK tracer is configured")
        parent_id = context.parent_span_id
        if parent_id is not None:
            remote = trace.SpanContext(
                trace_id=int(context.trace_id, 16),
                span_id=int(parent_id, 16),
                is_remote=True,
                trace_flags=trace.TraceFlags(context.flags),
                trace_state=_trace_state(context.tracestate),
            )
            parent = trace.set_span_in_context(trace.NonRecordingSpan(remote))
        else:
            # No caller's span: one current here (an outer instrumentation's, as the
            # OpenTelemetry Lambda layer starts around the handler) is the parent, as
            # OTel's own extraction falls back to the current context; else a new trace.
            parent = Context()
            outer = trace.get_current_span().get_span_context()
            if outer.is_valid:
                parent = trace.set_span_in_context(trace.NonRecordingSpan(outer))
                parent_id = f"{outer.span_id:016x}"
        span = tracer.start_span(
            name, context=parent, kind=trace.SpanKind.SERVER, start_time=start_ns
        )
        token = attach(trace.set_span_in_context(span))
        ids = span.get_span_context()
        if not ids.is_valid or ids.is_remote or f"{ids.span_id:016x}" == parent_id:
            # A disabled SDK (OTEL_SDK_DISABLED) answers with a no-op span holding no ids,
            # or the parent's: the request keeps its own, as without an SDK.
            return span, context, token
        bound = TraceContext(
            trace_id=f"{ids.trace_id:032x}",
            span_id=f"{ids.span_id:016x}",
            parent_span_id=parent_id,
            flags=int(ids.trace_flags),
            # The span's own: its sampler may have written to it (a consistent probability
            # sampler's "ot=th:..."), and calls must carry what the SDK's propagator would.
            tracestate=ids.trace_state.to_header() or None,
        )
        return span, bound, token

    @staticmethod
    def activate(span: Span) -> Token[Context]:
        """Make ``span`` the current one again (while a streamed body is made); returns
        the token :meth:`deactivate` takes."""
        from opentelemetry import trace
        from opentelemetry.context import attach

        return attach(trace.set_span_in_context(span))

    @staticmethod
    def deactivate(token: Token[Context]) -> None:
        """Restore the current span the request's :meth:`start` replaced."""
        from opentelemetry.context import detach

        detach(token)

    @staticmethod
    def end(
        span: Span,
        *,
        name: str,
        attributes: Mapping[str, JSON],
        error: Mapping[str, JSON] | None,
        failed: bool,
        end_ns: int,
    ) -> None:
        """Finish the span with the request's (already redacted) attributes."""
        from opentelemetry.trace import Status, StatusCode

        span.update_name(name)
        span.set_attributes(_otel_attributes(attributes))
        if failed:
            # Only a server error is an exception: a refused request (404, 401) is the
            # client's, and tracing backends count each exception event as a failure.
            if error is not None:
                span.add_event("exception", _otel_attributes(error), timestamp=end_ns)
            span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=end_ns)


def current_span_trace(context: TraceContext) -> TraceContext:
    """``context`` with the SDK span current here as the span outbound calls name, when it
    belongs to the request's trace (a span started under the request's); else as it is.

    A call made inside a client span must name that span as its parent, as OpenTelemetry's
    own propagator does: the request's span would leave the client span without the
    downstream service's spans under it."""
    from opentelemetry import trace

    ids = trace.get_current_span().get_span_context()
    if not ids.is_valid or ids.is_remote:
        return context
    trace_id, span_id = f"{ids.trace_id:032x}", f"{ids.span_id:016x}"
    if trace_id != context.trace_id or span_id == context.span_id:
        return context
    return TraceContext(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=context.span_id,
        flags=int(ids.trace_flags),
        tracestate=ids.trace_state.to_header() or None,
    )


def _trace_state(value: str | None) -> TraceState:
    from opentelemetry.trace import TraceState

    if not value:
        return TraceState()
    pairs = [tuple(member.split("=", 1)) for member in value.split(",")]
    return TraceState([(k, v) for k, v in pairs])
