"""Observability: OTel-shaped request logs, redaction, trace context, Server-Timing, EMF.

``App()`` already writes one redacted JSON line per request to stdout. Handlers log with
the same correlation fields through :func:`get_logger`:

>>> from daloy_edge import App
>>> from daloy_edge.observability import get_logger
>>> app = App()
>>> @app.get("/pay")
... async def pay(request):
...     get_logger(request).info("charged", amount=10, card_token="never logged")
...     return {"ok": True}

Everything here is standard library only; the OpenTelemetry SDK is used when the
application has configured one, and boto3-based pieces live in the AWS adapter.
"""

from daloy_edge.observability._bound import RequestLogger, get_logger
from daloy_edge.observability._emf import EMF_UNITS, emf_document, request_metrics
from daloy_edge.observability._logger import LogConfig, RequestLog, current_trace
from daloy_edge.observability._propagate import TracePropagatingTransport, outbound_headers
from daloy_edge.observability._record import SEVERITIES, encode
from daloy_edge.observability._redact import (
    DEFAULT_SECRET_KEYS,
    REDACTED,
    Redactor,
    redact,
    scrub_text,
)
from daloy_edge.observability._resource import detect_resource
from daloy_edge.observability._sinks import LoggerSink, MemorySink, Sink, StreamSink
from daloy_edge.observability._timing import Timed, phase, trusted_clients
from daloy_edge.observability._trace import (
    TraceContext,
    extract,
    format_traceparent,
    format_xray,
    parse_traceparent,
    parse_tracestate,
    parse_xray,
)

__all__ = [
    "DEFAULT_SECRET_KEYS",
    "EMF_UNITS",
    "REDACTED",
    "SEVERITIES",
    "LogConfig",
    "LoggerSink",
    "MemorySink",
    "Redactor",
    "RequestLog",
    "RequestLogger",
    "Sink",
    "StreamSink",
    "Timed",
    "TraceContext",
    "TracePropagatingTransport",
    "current_trace",
    "detect_resource",
    "emf_document",
    "encode",
    "extract",
    "format_traceparent",
    "format_xray",
    "get_logger",
    "outbound_headers",
    "parse_traceparent",
    "parse_tracestate",
    "parse_xray",
    "phase",
    "redact",
    "request_metrics",
    "scrub_text",
    "trusted_clients",
]
