"""What Google Cloud Logging reads from a line on stdout, and Cloud Trace's own header.

Cloud Run and Cloud Functions hand every JSON line to Cloud Logging, which takes a few
members by name: ``severity`` (else every entry is DEFAULT and Error Reporting ignores it),
``logging.googleapis.com/trace`` with ``spanId`` and ``trace_sampled`` (which join the line
to the platform's request log and to Cloud Trace), ``timestamp``, ``message`` (the summary
the Logs Explorer shows) and, for Error Reporting, ``stack_trace``. On those runtimes the
records carry them after their OTel members, which stay as they are.
"""

from __future__ import annotations

from daloy_edge._charset import DIGITS, LOWER, Charset
from daloy_edge._json import string_ascii as _string
from daloy_edge.observability._record import SEVERITIES
from daloy_edge.observability._trace import new_span_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge.observability._line import RequestShape
    from daloy_edge.observability._trace import TraceIds
    from daloy_edge.types import JSON, RandomBytes

__all__ = ["LOG_SEVERITIES", "CloudLogging", "cloud_trace_ids", "shape_members"]

LOG_SEVERITIES = {
    "TRACE": "DEBUG",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "CRITICAL",
}
"""Cloud Logging's ``LogSeverity`` for each OTel ``SeverityText``."""
_BY_NUMBER = {SEVERITIES[name]: level for name, level in LOG_SEVERITIES.items()}

# A project id (``my-project``), or a domain-scoped one (``example.com:my-project``).
_PROJECT = Charset(LOWER + DIGITS + "-.:", max_len=100)
_TRACE_ID = Charset(DIGITS + "abcdef", min_len=32, max_len=32)
_SPAN_DIGITS = Charset(DIGITS, max_len=20)
_HEX = Charset(DIGITS + "abcdef", max_len=64)
_MAX_SPAN = 0xFFFF_FFFF_FFFF_FFFF
_ZERO_TRACE = "0" * 32
# The last nanosecond of 9999, the last year a Cloud Logging timestamp holds.
_LAST_STAMP = 253_402_300_799_999_999_999
_MAX_DIGITS = 21
_MAX_HEADER = 64  # 32 + "/" + 20 digits + ";o=" + a few flag digits


_SPAN = '","logging.googleapis.com/spanId":"'
_SAMPLED = (
    '","logging.googleapis.com/trace_sampled":false',
    '","logging.googleapis.com/trace_sampled":true',
)


class CloudLogging:
    """The Cloud Logging members for one runtime, their constant parts encoded once.

    ``project`` is the Google Cloud project id; without one (or with one that is no
    project id) lines carry no trace members, since Cloud Logging takes a trace only
    as ``projects/PROJECT/traces/TRACE_ID``.
    """

    __slots__ = ("trace_head",)

    def __init__(self, project: str | None) -> None:
        self.trace_head = (
            f',"logging.googleapis.com/trace":"projects/{project}/traces/'
            if project and _PROJECT.fullmatch(project)
            else None
        )

    def trace_ids(self, value: str | None, random_bytes: RandomBytes) -> TraceIds | None:
        """:func:`cloud_trace_ids`, for the logger, which does not load this module."""
        return cloud_trace_ids(value, random_bytes)

    def request_members(
        self, shape: RequestShape, start: str, ids: TraceIds, stack_trace: JSON | None
    ) -> str:
        """The members of a request line: its shape's (its severity and message), its
        start time (epoch nanoseconds as text), trace and, when the request ended in an
        unexpected exception, the stack trace the line already carries."""
        head = self.trace_head
        of_shape = shape.gcp
        if of_shape is None:  # once per shape
            of_shape = shape.gcp = shape_members(shape.level, shape.message)
        # One f-string: every request on Google Cloud pays for it.
        members = (
            f'{of_shape},"timestamp":{{"seconds":{start[:-9] or "0"},'
            f'"nanos":{start[-9:].lstrip("0") or "0"}}}'
            f"{'' if head is None else f'{head}{ids[0]}{_SPAN}{ids[1]}{_SAMPLED[ids[3] & 1]}'}"
        )
        if type(stack_trace) is str:
            members = f'{members},"stack_trace":{_string(stack_trace)}'
        return members

    def record_members(self, record: dict[str, JSON]) -> str:
        """The members of any other record (a handler's, a span, an aborted response),
        from its own OTel members."""
        # A record handed to ``RequestLog.emit`` may hold anything: only what is checked
        # here is written unescaped.
        severity = record.get("SeverityText")
        level = LOG_SEVERITIES.get(severity, "DEFAULT") if type(severity) is str else "DEFAULT"
        members = f',"severity":"{level}"'
        body = record.get("Body")
        if type(body) is str:
            members = f'{members},"message":{_string(body)}'
        stamp = record.get("Timestamp")
        if (
            type(stamp) is str
            and stamp.isascii()
            and stamp.isdigit()
            and len(stamp) <= _MAX_DIGITS  # before int(), which raises past 4,300
            and int(stamp) <= _LAST_STAMP
        ):
            members += _timestamp(stamp)
        trace_id = record.get("TraceId")
        span_id = record.get("SpanId")
        flags = record.get("TraceFlags")
        if (
            type(trace_id) is str
            and type(span_id) is str
            and type(flags) is str
            and _HEX.fullmatch(f"{trace_id}{span_id}{flags}")
        ):
            members += self._trace(trace_id, span_id, int(flags, 16))
        attributes = record.get("Attributes")
        stack_trace = attributes.get("exception.stacktrace") if type(attributes) is dict else None
        if type(stack_trace) is str:
            members = f'{members},"stack_trace":{_string(stack_trace)}'
        return members

    def metrics_members(self, start: str) -> str:
        """The members of a metrics line of its own: none, Cloud Logging drops no line
        for its severity."""
        return ""

    def _trace(self, trace_id: str, span_id: str, flags: int) -> str:
        head = self.trace_head
        if head is None:
            return ""
        # Trace and span ids are lowercase hex (validated or generated): no escaping.
        return f"{head}{trace_id}{_SPAN}{span_id}{_SAMPLED[flags & 1]}"


def shape_members(level: int, body: str) -> str:
    """The members a request's shape alone decides: its severity (from the OTel severity
    number) and message."""
    return f',"severity":"{_BY_NUMBER[level]}","message":{_string(body)}'


def _timestamp(nanoseconds: str) -> str:
    """``timestamp`` from epoch nanoseconds written as decimal text."""
    # No leading zero: "0017" is no JSON number, and the line was no JSON at all.
    seconds = nanoseconds[:-9].lstrip("0") or "0"
    nanos = nanoseconds[-9:].lstrip("0") or "0"
    return f',"timestamp":{{"seconds":{seconds},"nanos":{nanos}}}'


def cloud_trace_ids(value: str | None, random_bytes: RandomBytes) -> TraceIds | None:
    """The trace an ``X-Cloud-Trace-Context`` value (``TRACE_ID/SPAN_ID;o=1``) continues,
    with a new span id; None when it is not valid.

    Cloud Run and Cloud Functions set it on every request they trace; a request that
    carries no ``traceparent`` is joined to the platform's trace through it. The form is
    the OpenTelemetry propagator's: 32 lowercase hex digits, optionally a decimal span
    id, optionally ``;o=`` and the decimal options (bit 0: sampled).
    """
    if not value or len(value) > _MAX_HEADER:
        return None
    ids, semicolon, options = value.partition(";")
    trace_id, slash, span = ids.partition("/")
    if not _TRACE_ID.fullmatch(trace_id) or trace_id == _ZERO_TRACE:
        return None
    parent = None
    if slash:
        if not _SPAN_DIGITS.fullmatch(span) or int(span) > _MAX_SPAN:
            return None
        parent = f"{int(span):016x}" if int(span) else None
    flags = 0
    if semicolon:
        name, _, number = options.partition("=")
        if name != "o" or not _SPAN_DIGITS.fullmatch(number):
            return None
        flags = int(number) & 1
    return trace_id, new_span_id(random_bytes), parent, flags, None
