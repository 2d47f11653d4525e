"""Building OTel log records: severities, HTTP attributes, exceptions, JSON encoding."""

from __future__ import annotations

from daloy_edge._errors import HTTPError
from daloy_edge._json import encode_ascii

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge.observability._redact import Redactor
    from daloy_edge.observability._trace import TraceContext
    from daloy_edge.types import JSON

__all__ = [
    "MAX_FIELD",
    "MAX_LINE",
    "SEVERITIES",
    "encode",
    "exception_attributes",
    "exception_text",
    "log_record",
    "scrubbed_trace",
    "severity_for_status",
    "span_record",
]

SEVERITIES: dict[str, int] = {
    "TRACE": 1,
    "DEBUG": 5,
    "INFO": 9,
    "WARN": 13,
    "ERROR": 17,
    "FATAL": 21,
}
"""OTel severity numbers for each ``SeverityText``."""

_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL", "EXCEPTION": "ERROR"}
_MAX_TRACE_CHARS = 16_384
_CHAIN_LIMIT = 256
MAX_FIELD = 1024
"""Longest path, header or message kept in a record (in characters)."""
MAX_LINE = 131_072
"""Longest line the request log writes (in bytes: its lines are ASCII). CloudWatch Logs
cuts an event at 256 KB, Lambda splits a longer stdout line, Cloud Logging refuses an
entry past 256 KB; a longer line is shortened (see ``_fit``), never cut into no JSON."""


def severity_name(level: str) -> str:
    """The canonical severity text for ``level`` (``warning`` -> ``WARN``)."""
    upper = level.upper()
    upper = _ALIASES.get(upper, upper)
    if upper not in SEVERITIES:
        raise ValueError(f"unknown log level {level!r}")
    return upper


def severity_for_status(status: int) -> str:
    """ERROR for 5xx, WARN for 4xx, INFO otherwise."""
    if status >= 500:
        return "ERROR"
    if status >= 400:
        return "WARN"
    return "INFO"


def encode(record: dict[str, JSON]) -> str:
    """One line of JSON; every control character and non-ASCII byte is escaped.

    Escaping CR, LF, ANSI ESC, C1 controls and U+2028/2029 means a user-controlled
    string can neither forge a second log line nor drive a terminal. NaN and infinities
    raise ``ValueError``, other values JSON lacks ``TypeError``, a circular structure
    ``ValueError`` as well.
    """
    # The C encoder built once, without importing ``json`` (which imports ``re``). It
    # keeps no record of the containers it is inside, so a cycle ends in recursion.
    try:
        return encode_ascii(record)
    except RecursionError:
        raise ValueError("Circular reference detected") from None


def log_record(
    *,
    timestamp_ns: int,
    observed_ns: int,
    severity: str,
    body: JSON,
    attributes: dict[str, JSON],
    trace: TraceContext | None,
    resource: dict[str, str],
    event_name: str | None = None,
) -> dict[str, JSON]:
    """An OTel log data model record (64-bit times as decimal strings, as OTLP/JSON)."""
    record: dict[str, JSON] = {
        "Timestamp": str(timestamp_ns),
        "ObservedTimestamp": str(observed_ns),
        "SeverityText": severity,
        "SeverityNumber": SEVERITIES[severity],
        "Body": body,
    }
    if event_name is not None:
        record["EventName"] = event_name
    record["Attributes"] = attributes
    if trace is not None:
        record["TraceId"] = trace.trace_id
        record["SpanId"] = trace.span_id
        record["TraceFlags"] = f"{trace.flags:02x}"
    shared: JSON = resource  # type: ignore[assignment]  # shared, never mutated: records are read-only
    record["Resource"] = shared
    return record


def exception_attributes(
    error: BaseException, redactor: Redactor, *, with_trace: bool
) -> dict[str, JSON]:
    """``exception.type``, ``exception.message`` and (optionally) a scrubbed stack trace."""
    attributes: dict[str, JSON] = {
        "exception.type": _type_name(type(error)),
        "exception.message": redactor.scrub(
            exception_text(error), limit=min(MAX_FIELD, redactor.max_string)
        ),
    }
    if with_trace:
        attributes["exception.stacktrace"] = scrubbed_trace(error, redactor)
    return attributes


def scrubbed_trace(error: BaseException, redactor: Redactor) -> str:
    """The trace ``traceback`` writes for ``error``, scrubbed, its last characters kept.

    Scrubbed whole before its end is kept: cut first, the trace could begin with the rest
    of a credential whose start (``password=``, ``https://user:``) was cut. The type name
    that begins each exception's line is set aside meanwhile: read as a key
    (``InvalidToken: alg not allowed``, ``KeyError: 'user_id'``), it had the first word
    of every such message replaced.
    """
    names = _chain_type_names(error)
    chunks = [_bounded(chunk, names, redactor) for chunk in _written(error)]
    lines = "".join(chunks).splitlines(keepends=True)
    kept: list[str] = []
    for index, line in enumerate(lines):
        message = line.lstrip(" |")  # an exception group's members are indented with "| "
        name, colon, _ = message.partition(": ")
        if colon and name in names:
            lines[index] = (
                f"{line[: len(line) - len(message)]}\x00{len(kept)}\x00{message[len(name) :]}"
            )
            kept.append(name)
    text = "".join(lines)
    text = redactor.scrub(text, limit=len(text))
    for index, name in enumerate(kept):
        text = text.replace(f"\x00{index}\x00", name, 1)
    if len(text) > _MAX_TRACE_CHARS:
        text = "…" + text[-_MAX_TRACE_CHARS:]
    return text


def _written(error: BaseException) -> list[str]:
    """The pieces ``traceback`` writes for ``error``; its frames and its own line when
    ``traceback`` fails on it. Python 3.11 reads ``__notes__`` unguarded: an exception
    class whose ``__getattr__`` raises for it (a payload's fields as attributes, a
    KeyError for any other name) failed its request's log line, and in development its
    answer. Its causes are then left out."""
    import traceback  # only errors pay for it, not every cold start

    try:
        return traceback.format_exception(error)
    except Exception:
        return [
            "Traceback (most recent call last):\n",
            *traceback.format_tb(error.__traceback__),
            f"{_type_name(type(error))}: {exception_text(error)}\n",
        ]


def _bounded(chunk: str, names: set[str], redactor: Redactor) -> str:
    """A piece ``traceback`` writes (a frame, an exception's line and message) as it is,
    or, when longer than the trace keeps, its head scrubbed and marked (its type name set
    aside, as above). Only a message gets that long, and it may hold a request's text:
    scrubbed whole, a megabyte of it cost over half a second of CPU for 16 KiB kept."""
    if len(chunk) <= _MAX_TRACE_CHARS:
        return chunk
    message = chunk.lstrip(" |")
    name, colon, _ = message.partition(": ")
    start = len(chunk) - len(message) + (len(name) + 2 if colon and name in names else 0)
    return f"{chunk[:start]}{redactor.scrub(chunk[start:], limit=_MAX_TRACE_CHARS)}\n"


def _type_name(kind: type[BaseException]) -> str:
    """The exception type as ``traceback`` names it (with its module, unless builtin)."""
    if kind.__module__ in ("builtins", "__main__"):
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _chain_type_names(error: BaseException) -> set[str]:
    """The type names of ``error``, its causes and contexts, and the members of exception
    groups among them (at most :data:`_CHAIN_LIMIT` exceptions, as a trace shows few)."""
    names: set[str] = set()
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending and len(seen) < _CHAIN_LIMIT:
        exc = pending.pop()
        if exc is None or id(exc) in seen:
            continue
        seen.add(id(exc))
        names.add(_type_name(type(exc)))
        pending += (exc.__cause__, exc.__context__)
        if isinstance(exc, BaseExceptionGroup):
            pending += exc.exceptions
    return names


def exception_text(error: BaseException) -> str:
    """``str(error)``, or what ``traceback`` writes when that raises: an exception whose
    ``__str__`` fails must not cost its request the log line it ended with."""
    try:
        return str(error)
    except Exception:
        return "<exception str() failed>"


def error_attributes(error: BaseException, redactor: Redactor, status: int) -> dict[str, JSON]:
    """Attributes for the exception a request ended with (trace only when unexpected).

    An exception answered with a 4xx is the client's error, whatever its type (a bad
    token's ``InvalidToken``, wrong basic credentials): its type and message are kept,
    without a stack trace or ``error.type``. A trace there cost every refused request
    the formatting and scrubbing of a trace and a kilobyte of log, for nothing to fix.
    """
    expected = status < 500 and (not isinstance(error, HTTPError) or error.status < 500)
    attributes = exception_attributes(error, redactor, with_trace=not expected)
    if not expected:
        attributes["error.type"] = attributes["exception.type"]
    return attributes


def span_record(
    name: str, trace: TraceContext, start_ns: int, end_ns: int, *, failed: bool
) -> dict[str, JSON]:
    """An OTel-shaped server span (name, kind, ids, start/end, status) as a JSON map."""
    return {
        "Name": name,
        "Kind": "SERVER",
        "TraceId": trace.trace_id,
        "SpanId": trace.span_id,
        "ParentSpanId": trace.parent_span_id,
        "TraceState": trace.tracestate,
        "StartTimeUnixNano": str(start_ns),
        "EndTimeUnixNano": str(end_ns),
        "Status": {"Code": "ERROR" if failed else "UNSET"},
    }
