"""Trace context: W3C ``traceparent``/``tracestate`` and AWS ``X-Amzn-Trace-Id``.

Inbound headers are validated strictly; anything malformed starts a new trace rather
than being trusted or echoed. Trace ids generated here start with the Unix time in
seconds, so the same id is valid for W3C and for AWS X-Ray.
"""

from __future__ import annotations

import os
import re
import time

from daloy_edge._record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from daloy_edge._headers import Headers
    from daloy_edge.types import RandomBytes

__all__ = [
    "TraceContext",
    "extract",
    "format_traceparent",
    "format_xray",
    "parse_traceparent",
    "parse_tracestate",
    "parse_xray",
]

# Patterns are compiled on first use (``re`` caches them): a request without trace
# headers never needs one.
_TRACEPARENT = r"[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})"
_HEX16 = r"[0-9a-f]{16}"
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_TRACEPARENT_LEN = 55
_STATE_KEY = r"(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})"
_STATE_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
_MAX_STATE_MEMBERS = 32
_MAX_STATE_LEN = 512
_XRAY_ROOT = r"1-([0-9a-f]{8})-([0-9a-f]{24})"
_XRAY_CANONICAL = (
    r"Root=1-([0-9a-f]{8})-([0-9a-f]{24})(?:;Parent=([0-9a-f]{16}))?(?:;Sampled=([01]))?"
)
_SAMPLED = 0x01


@record(frozen=True)
class TraceContext:
    """The trace this request belongs to and the server span it is.

    ``parent_span_id`` is the caller's span (None when this request starts the trace);
    ``tracestate`` is the validated vendor state, passed on unchanged.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    flags: int = _SAMPLED
    tracestate: str | None = None

    @property
    def sampled(self) -> bool:
        """Whether the caller asked for this trace to be recorded."""
        return bool(self.flags & _SAMPLED)

    def outbound_headers(self) -> dict[str, str]:
        """Headers that carry this trace to a downstream call (W3C and X-Ray)."""
        headers = {
            "traceparent": format_traceparent(self.trace_id, self.span_id, self.flags),
            "x-amzn-trace-id": format_xray(self.trace_id, self.span_id, self.flags),
        }
        if self.tracestate:
            headers["tracestate"] = self.tracestate
        return headers


def parse_traceparent(value: str) -> tuple[str, str, int] | None:
    """``(trace_id, parent_id, flags)`` from a W3C ``traceparent``, or None if invalid.

    >>> parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    ('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', 1)
    """
    if len(value) < _TRACEPARENT_LEN or len(value) > 512:
        return None
    version = value[:2]
    if version == "00" and len(value) != _TRACEPARENT_LEN:
        return None
    if version == "ff" or (len(value) > _TRACEPARENT_LEN and value[_TRACEPARENT_LEN] != "-"):
        return None
    match = re.match(_TRACEPARENT, value)
    if match is None:
        return None
    trace_id, parent_id, flags = match.groups()
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    return trace_id, parent_id, int(flags, 16) & _SAMPLED


def format_traceparent(trace_id: str, span_id: str, flags: int = _SAMPLED) -> str:
    """The version-00 ``traceparent`` value."""
    return f"00-{trace_id}-{span_id}-{flags & 0xFF:02x}"


def parse_tracestate(values: list[str]) -> str | None:
    """The combined ``tracestate`` if every member is well formed, else None (dropped)."""
    joined = ",".join(values)
    if not joined.strip() or len(joined) > _MAX_STATE_LEN:
        return None
    members = [m.strip() for m in joined.split(",")]
    members = [m for m in members if m]
    if len(members) > _MAX_STATE_MEMBERS:
        return None
    seen: set[str] = set()
    for member in members:
        key, sep, val = member.partition("=")
        if (
            not sep
            or not re.fullmatch(_STATE_KEY, key)
            or not re.fullmatch(_STATE_VALUE, val)
            or key in seen
        ):
            return None
        seen.add(key)
    return ",".join(members)


def parse_xray(value: str) -> tuple[str, str | None, int] | None:
    """``(trace_id, parent_id, flags)`` from an ``X-Amzn-Trace-Id`` value, or None.

    >>> parse_xray("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    ('5759e988bd862e3fe1be46a994272793', '53995c3f42cd8ad8', 1)
    """
    if len(value) > 1024:
        return None
    # The form Lambda, API Gateway and the X-Ray SDKs write is matched in one step; any
    # other spelling (spaces, case, more fields, repeats) takes the general route.
    canonical = re.fullmatch(_XRAY_CANONICAL, value)
    if canonical is not None:
        epoch, unique, parent, sampled = canonical.groups()
        trace_id = epoch + unique
        if trace_id == _ZERO_TRACE:
            return None
        return trace_id, None if parent == _ZERO_SPAN else parent, int(sampled != "0")
    return _parse_xray_fields(value)


def _parse_xray_fields(value: str) -> tuple[str, str | None, int] | None:
    fields: dict[str, str] = {}
    for part in value.split(";"):
        name, _, val = part.strip().partition("=")
        fields.setdefault(name.strip().lower(), val.strip())
    root = re.fullmatch(_XRAY_ROOT, fields.get("root", ""))
    if root is None:
        return None
    trace_id = root.group(1) + root.group(2)
    if trace_id == _ZERO_TRACE:
        return None
    parent = fields.get("parent")
    if parent is not None and (not re.fullmatch(_HEX16, parent) or parent == _ZERO_SPAN):
        parent = None
    flags = _SAMPLED if fields.get("sampled", "1") != "0" else 0
    return trace_id, parent, flags


def format_xray(trace_id: str, span_id: str | None, flags: int = _SAMPLED) -> str:
    """The ``X-Amzn-Trace-Id`` value for a W3C trace id (X-Ray's epoch + random split)."""
    header = f"Root=1-{trace_id[:8]}-{trace_id[8:]}"
    if span_id:
        header += f";Parent={span_id}"
    return header + f";Sampled={flags & _SAMPLED}"


# Random bytes for trace and span ids: one ``getrandom`` call each, without a Python
# frame around it; ``random`` is not imported, which keeps it off the cold-start path.
id_bytes = os.urandom


def new_ids(random_bytes: RandomBytes = id_bytes, now: float | None = None) -> tuple[str, str]:
    """A fresh ``(trace_id, span_id)``; the trace id begins with the epoch seconds."""
    seconds = int(time.time() if now is None else now) & 0xFFFFFFFF
    raw = random_bytes(20).hex()
    return f"{seconds:08x}{raw[:24]}", raw[24:40]


def new_span_id(random_bytes: RandomBytes = id_bytes) -> str:
    """A fresh non-zero span id."""
    span = random_bytes(8).hex()
    return span if span != _ZERO_SPAN else "0000000000000001"


def from_headers(headers: Headers, random_bytes: RandomBytes = id_bytes) -> TraceContext | None:
    """The trace a valid ``traceparent`` (with its ``tracestate``) or ``X-Amzn-Trace-Id``
    header continues, with a new server span id; None when neither is usable."""
    parents = headers.get_all("traceparent")
    parsed = parse_traceparent(parents[0].strip()) if len(parents) == 1 else None
    if parsed is not None:
        trace_id, parent, flags = parsed
        state = headers.get_all("tracestate")
        tracestate = parse_tracestate(state) if state else None
        return TraceContext(trace_id, new_span_id(random_bytes), parent, flags, tracestate)
    return from_xray(headers.get("x-amzn-trace-id"), random_bytes)


def from_xray(value: str | None, random_bytes: RandomBytes = id_bytes) -> TraceContext | None:
    """The trace an ``X-Amzn-Trace-Id`` value continues, or None when it is not valid."""
    xray = parse_xray(value) if value else None
    if xray is None:
        return None
    return TraceContext(xray[0], new_span_id(random_bytes), xray[1], xray[2])


def new_trace(random_bytes: RandomBytes = id_bytes) -> TraceContext:
    """A new trace whose first span is this request's."""
    trace_id, span_id = new_ids(random_bytes)
    return TraceContext(trace_id, span_id)


def extract(
    headers: Headers,
    *,
    lambda_trace: str | None = None,
    random_bytes: RandomBytes = id_bytes,
) -> TraceContext:
    """The trace context for an inbound request, with a new server span id.

    Order: a valid ``traceparent`` (with its ``tracestate``), then ``X-Amzn-Trace-Id``,
    then Lambda's ``_X_AMZN_TRACE_ID`` (``lambda_trace``); otherwise a new trace.
    """
    return (
        from_headers(headers, random_bytes)
        or from_xray(lambda_trace, random_bytes)
        or new_trace(random_bytes)
    )


def lambda_trace_header(env: Mapping[str, str]) -> str | None:
    """Lambda's per-invocation X-Ray header, from the process or adapter environment.

    The runtime sets ``_X_AMZN_TRACE_ID`` afresh for every invocation, so it is read
    each time it is needed (only when the request carries no trace header).
    """
    found = env.get("_X_AMZN_TRACE_ID")
    if found or env is os.environ:
        return found
    return os.environ.get("_X_AMZN_TRACE_ID")
