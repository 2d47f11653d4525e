from daloy_edge._lazy import lazy_exports

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

TYPE_CHECKING = False
if TYPE_CHECKING:
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

# Each name loads its module on first access: the request log an app writes by default
# needs a few of these modules, not all of them.
_HOME = {
    "RequestLogger": "_bound",
    "get_logger": "_bound",
    "EMF_UNITS": "_emf",
    "emf_document": "_emf",
    "request_metrics": "_emf",
    "LogConfig": "_logger",
    "RequestLog": "_logger",
    "current_trace": "_logger",
    "TracePropagatingTransport": "_propagate",
    "outbound_headers": "_propagate",
    "SEVERITIES": "_record",
    "encode": "_record",
    "DEFAULT_SECRET_KEYS": "_redact",
    "REDACTED": "_redact",
    "Redactor": "_redact",
    "redact": "_redact",
    "scrub_text": "_redact",
    "detect_resource": "_resource",
    "LoggerSink": "_sinks",
    "MemorySink": "_sinks",
    "Sink": "_sinks",
    "StreamSink": "_sinks",
    "Timed": "_timing",
    "phase": "_timing",
    "trusted_clients": "_timing",
    "TraceContext": "_trace",
    "extract": "_trace",
    "format_traceparent": "_trace",
    "format_xray": "_trace",
    "parse_traceparent": "_trace",
    "parse_tracestate": "_trace",
    "parse_xray": "_trace",
}


__getattr__, __dir__ = lazy_exports(__name__, _HOME, globals())
