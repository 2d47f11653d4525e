"""Carrying the current trace onto outbound HTTP calls."""

from __future__ import annotations

from daloy_edge.observability._logger import current_request_log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from daloy_edge.transport import HTTPTransport, TransportResponse

__all__ = ["TracePropagatingTransport", "outbound_headers"]


def outbound_headers(headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """``headers`` plus ``traceparent``, ``tracestate`` and ``X-Amzn-Trace-Id`` for the
    request being served (unchanged when no request is current).

    Trace headers the caller passed in are replaced: a downstream service must see this
    service's span as its parent, not whatever an inbound client sent. With the
    OpenTelemetry SDK, that span is the SDK span current here (a client span the handler
    started under the request's span), else the request's own.
    """
    result = {k: v for k, v in (headers or {}).items()}
    active = current_request_log()
    if active is None:
        return result
    trace = active.trace
    if active.otel_span is not None:
        from daloy_edge.observability._otel import current_span_trace

        trace = current_span_trace(trace)
    carried = trace.outbound_headers()
    for name in list(result):
        if name.lower() in carried:
            del result[name]
    result.update(carried)
    return result


class TracePropagatingTransport:
    """An :class:`~daloy_edge.transport.HTTPTransport` that adds the current trace headers.

    Wrap the transport the egress guard, the JWKS client or your own code uses:

    >>> from daloy_edge.transport import HttpxTransport
    >>> transport = TracePropagatingTransport(HttpxTransport())
    """

    __slots__ = ("inner",)

    def __init__(self, inner: HTTPTransport) -> None:
        self.inner = inner

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float = 5.0,
        max_bytes: int = 1024 * 1024,
    ) -> TransportResponse:
        """Send through the wrapped transport with trace headers added."""
        return await self.inner.request(
            method,
            url,
            headers=outbound_headers(headers),
            body=body,
            timeout=timeout,
            max_bytes=max_bytes,
        )
