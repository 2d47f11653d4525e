"""What Google Cloud Logging reads from a line on stdout.

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

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge.observability._trace import TraceIds
    from daloy_edge.types import JSON

__all__ = ["LOG_SEVERITIES", "CloudLogging", "shape_members"]

LOG_SEVERITIES = {
    "TRACE": "DEBUG",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "WARN": "WARNING",
    "ERROR": "ERROR",
    "FATAL": "CRITICAL",
}
"""Cloud Logging's ``LogSeverity`` for each OTel ``SeverityText``."""

# A project id (``my-project``), or a domain-scoped one (``example.com:my-project``).
_PROJECT = Charset(LOWER + DIGITS + "-.:", max_len=100)


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

    def request_members(
        self, shape_members: str, start: str, ids: TraceIds, stack_trace: JSON | None
    ) -> str:
        """The members of a request line: ``shape_members`` (its severity and message),
        its start time (epoch nanoseconds as text), trace and, when the request ended
        in an unexpected exception, the stack trace the line already carries."""
        members = f"{shape_members}{_timestamp(start)}{self._trace(ids[0], ids[1], ids[3])}"
        if type(stack_trace) is str:
            members = f'{members},"stack_trace":{_string(stack_trace)}'
        return members

    def record_members(self, record: dict[str, JSON]) -> str:
        """The members of any other record (a handler's, a span, an aborted response),
        from its own OTel members."""
        severity = record.get("SeverityText")
        members = f',"severity":"{LOG_SEVERITIES.get(severity, "DEFAULT")}"'  # type: ignore[arg-type]
        body = record.get("Body")
        if type(body) is str:
            members = f'{members},"message":{_string(body)}'
        stamp = record.get("Timestamp")
        if type(stamp) is str and stamp.isascii() and stamp.isdigit():
            members += _timestamp(stamp)
        trace_id = record.get("TraceId")
        span_id = record.get("SpanId")
        flags = record.get("TraceFlags")
        if type(trace_id) is str and type(span_id) is str and type(flags) is str:
            members += self._trace(trace_id, span_id, int(flags, 16))
        attributes = record.get("Attributes")
        stack_trace = attributes.get("exception.stacktrace") if type(attributes) is dict else None
        if type(stack_trace) is str:
            members = f'{members},"stack_trace":{_string(stack_trace)}'
        return members

    def _trace(self, trace_id: str, span_id: str, flags: int) -> str:
        head = self.trace_head
        if head is None:
            return ""
        # Trace and span ids are lowercase hex (validated or generated): no escaping.
        return (
            f'{head}{trace_id}","logging.googleapis.com/spanId":"{span_id}",'
            f'"logging.googleapis.com/trace_sampled":{"true" if flags & 1 else "false"}'
        )


def shape_members(severity: str, body: str) -> str:
    """The members a request's shape alone decides: its severity and message."""
    return f',"severity":"{LOG_SEVERITIES[severity]}","message":{_string(body)}'


def _timestamp(nanoseconds: str) -> str:
    """``timestamp`` from epoch nanoseconds written as decimal text."""
    seconds, nanos = nanoseconds[:-9] or "0", nanoseconds[-9:].lstrip("0") or "0"
    return f',"timestamp":{{"seconds":{seconds},"nanos":{nanos}}}'
