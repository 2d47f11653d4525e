"""Trace context: W3C ``traceparent``/``tracestate`` and AWS ``X-Amzn-Trace-Id``.

Inbound headers are validated strictly; anything malformed starts a new trace rather
than being trusted or echoed. Trace ids generated here start with the Unix time in
seconds, so the same id is valid for W3C and for AWS X-Ray.
"""

from __future__ import annotations

import os
import time

from daloy_edge._charset import DIGITS, Charset
from daloy_edge._idbytes import id_bytes
from daloy_edge._lazy import LazyPattern
from daloy_edge._record import record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from daloy_edge._headers import Headers
    from daloy_edge.types import RandomBytes

    TraceIds = tuple[str, str, str | None, int, str | None]
    """The fields of a :class:`TraceContext`, in order."""

__all__ = [
    "TraceContext",
    "extract",
    "format_traceparent",
    "format_xray",
    "parse_traceparent",
    "parse_tracestate",
    "parse_xray",
]

# The forms every request may carry (a traceparent, Lambda's X-Ray header) are checked
# by position and one hex check, without ``re``: its import costs a cold start and the
# check runs on every request. The rarer forms compile their pattern on first use.
_LOWER_HEX = Charset(DIGITS + "abcdef")
_HEX16 = Charset(DIGITS + "abcdef", min_len=16, max_len=16)
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_TRACEPARENT_LEN = 55
_STATE_KEY = LazyPattern(
    r"(?:[a-z][a-z0-9_\-*/]{0,255}|[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13})"
)
_STATE_VALUE = LazyPattern(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_MAX_STATE_MEMBERS = 32
_MAX_STATE_LEN = 512
_LARGE_STATE_MEMBER = 128
# The longest valid list (32 members of 513 characters and their commas), with room for
# whitespace around them: anything longer is refused before it is split.
_MAX_STATE_INPUT = 32 * 1024
_SAMPLED = 0x01
_MAX_XRAY_LEN = 1024
_XRAY_FIELDS = frozenset({"root", "parent", "sampled"})


@record(frozen=True)
class TraceContext:
    """The trace this request belongs to and the server span it is.

    ``parent_span_id`` is the caller's span (None when this request starts the trace);
    ``tracestate`` is the validated vendor state, passed on (cut past 512 characters).
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
    # version "-" trace id (32 hex) "-" parent id (16 hex) "-" flags (2 hex), lower case.
    if value[2] != "-" or value[35] != "-" or value[52] != "-":
        return None
    trace_id = value[3:35]
    parent_id = value[36:52]
    flags = value[53:55]
    if not _LOWER_HEX.fullmatch(version + trace_id + parent_id + flags):
        return None
    if trace_id == _ZERO_TRACE or parent_id == _ZERO_SPAN:
        return None
    return trace_id, parent_id, int(flags, 16) & _SAMPLED


def format_traceparent(trace_id: str, span_id: str, flags: int = _SAMPLED) -> str:
    """The version-00 ``traceparent`` value."""
    return f"00-{trace_id}-{span_id}-{flags & 0xFF:02x}"


def parse_tracestate(values: list[str]) -> str | None:
    """The combined ``tracestate`` if every member is well formed, else None (dropped).

    Past 512 characters (commas counted, the whitespace around them not) it is cut as
    W3C Trace Context 3.3.1.5 asks: members longer than 128 characters go first, then
    members from the end, until it fits.
    """
    joined = ",".join(values)
    if len(joined) > _MAX_STATE_INPUT or joined.count(",") >= 2 * _MAX_STATE_MEMBERS:
        # More items than 32 members and as many blanks: refused before it is split,
        # where 8 KiB of commas cost a millisecond of CPU, item by item.
        return None
    members = [m.strip(" \t") for m in joined.split(",")]
    members = [m for m in members if m]
    if not members or len(members) > _MAX_STATE_MEMBERS:
        return None
    seen: set[str] = set()
    for member in members:
        key, sep, val = member.partition("=")
        if (
            not sep
            or not _STATE_KEY.fullmatch(key)
            or not _STATE_VALUE.fullmatch(val)
            or key in seen
        ):
            return None
        seen.add(key)
    combined = ",".join(members)
    return combined if len(combined) <= _MAX_STATE_LEN else _truncated(members)


def _truncated(members: list[str]) -> str | None:
    size = len(members) - 1 + sum(map(len, members))
    for large_only in (True, False):
        for index in range(len(members) - 1, -1, -1):
            if size <= _MAX_STATE_LEN:
                break
            member = members[index]
            if member and (len(member) > _LARGE_STATE_MEMBER or not large_only):
                size -= len(member) + 1
                members[index] = ""
    return ",".join(m for m in members if m) or None


def parse_xray(value: str) -> tuple[str, str | None, int] | None:
    """``(trace_id, parent_id, flags)`` from an ``X-Amzn-Trace-Id`` value, or None.

    >>> parse_xray("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
    ('5759e988bd862e3fe1be46a994272793', '53995c3f42cd8ad8', 1)
    """
    if len(value) > _MAX_XRAY_LEN:
        return None
    # The form Lambda, API Gateway and the X-Ray SDKs write is checked by position; any
    # other spelling (spaces, case, more fields, repeats) takes the general route.
    return _canonical_xray(value) or _parse_xray_fields(value)


def _xray_form(tail: str) -> bytes:
    return ("Root=h-" + "h" * 8 + "-" + "h" * 24 + tail).encode()


# The canonical X-Ray header: "Root=1-" <8 hex> "-" <24 hex> (40 characters), then
# optionally ";Parent=" <16 hex> (24) and ";Sampled=" <0 or 1> (10), in that order.
# Below, its forms by length with each lowercase hex digit as "h".
# Through ``_XRAY_TABLE`` a header becomes its form in one C call when every hex position
# holds a lowercase hex digit and every other position its literal character ("h" itself
# becomes NUL, so it cannot pass for a digit). Literal characters that are hex digits
# (the "1" of "Root=1-", the "a" and "e" of "Parent" and "Sampled") are compared apart.
_XRAY_TABLE = bytes(
    0x68 if chr(code) in DIGITS + "abcdef" else 0 if code == 0x68 else code for code in range(256)
)
_XRAY_FORMS = {
    40: _xray_form(""),
    50: _xray_form(";Shmplhh=h"),
    64: _xray_form(";Phrhnt=" + "h" * 16),
    74: _xray_form(";Phrhnt=" + "h" * 16 + ";Shmplhh=h"),
}


def _canonical_xray(value: str) -> tuple[str, str | None, int] | None:
    """The parsed canonical X-Ray header; None when ``value`` is not in that form (or
    has an all-zero trace id, which the general route refuses as well)."""
    size = len(value)
    form = _XRAY_FORMS.get(size)
    # Every request from API Gateway or a function URL carries this header.
    if (
        form is None
        or not value.isascii()
        or value.encode().translate(_XRAY_TABLE) != form
        or value[5] != "1"
    ):
        return None
    trace_id = value[7:15] + value[16:40]
    if trace_id == _ZERO_TRACE:
        return None
    if size == 40:
        return trace_id, None, _SAMPLED
    parent = None
    if size >= 64:
        if value[40:48] != ";Parent=":
            return None
        parent = value[48:64]
        if parent == _ZERO_SPAN:
            parent = None
    if size == 64:
        return trace_id, parent, _SAMPLED
    flag = value[-1]
    if value[-10:-1] != ";Sampled=" or flag not in {"0", "1"}:
        return None
    return trace_id, parent, _SAMPLED if flag == "1" else 0


def _xray_root(root: str) -> str | None:
    """The trace id of an X-Ray root ``1-<8 hex>-<24 hex>``, or None."""
    if len(root) != 35 or root[:2] != "1-" or root[10] != "-":
        return None
    trace_id = root[2:10] + root[11:]
    return trace_id if _LOWER_HEX.fullmatch(trace_id) else None


def _parse_xray_fields(value: str) -> tuple[str, str | None, int] | None:
    if "," in value:
        # No field holds a comma: this is the header sent twice, as a runtime that joins
        # repeated lines (HTTP APIs, Function URLs) delivers it. Which one to believe is
        # ambiguous, as for a repeated traceparent.
        return None
    fields: dict[str, str] = {}
    for part in value.split(";"):
        name, _, val = part.strip().partition("=")
        key = name.strip().lower()
        if key in fields and key in _XRAY_FIELDS:
            # Root, Parent or Sampled twice: the X-Ray SDKs believe the last, a first-wins
            # reader the first, so the header names two traces, as a repeated one does.
            return None
        fields[key] = val.strip()
    trace_id = _xray_root(fields.get("root", ""))
    if trace_id is None or trace_id == _ZERO_TRACE:
        return None
    parent = fields.get("parent")
    if parent is not None and (not _HEX16.fullmatch(parent) or parent == _ZERO_SPAN):
        parent = None
    flags = _SAMPLED if fields.get("sampled", "1") != "0" else 0
    return trace_id, parent, flags


def format_xray(trace_id: str, span_id: str | None, flags: int = _SAMPLED) -> str:
    """The ``X-Amzn-Trace-Id`` value for a W3C trace id (X-Ray's epoch + random split)."""
    header = f"Root=1-{trace_id[:8]}-{trace_id[8:]}"
    if span_id:
        header += f";Parent={span_id}"
    return header + f";Sampled={flags & _SAMPLED}"


def new_span_id(random_bytes: RandomBytes = id_bytes) -> str:
    """A fresh non-zero span id."""
    span = random_bytes(8).hex()
    return span if span != _ZERO_SPAN else "0000000000000001"


def inbound_ids(headers: Headers, random_bytes: RandomBytes = id_bytes) -> TraceIds | None:
    """:func:`from_headers` as the fields of the :class:`TraceContext` it would build.

    The request log builds the context itself only when something asks for it: most
    requests only write its ids into their line.
    """
    index = headers._index
    if index is not None:  # fields from an event's dict: one lookup each
        if "traceparent" in index:
            found = _traceparent_ids(headers, random_bytes)
            if found is not None:
                return found
        return xray_ids(index.get("x-amzn-trace-id"), random_bytes)
    # One pass for both headers: a traceparent anywhere comes first, and most requests
    # carry none, so they would otherwise pay for a scan of every header to learn it.
    xray = None
    for name, value in headers._items:
        if name == "traceparent":
            found = _traceparent_ids(headers, random_bytes)
            if found is not None:
                return found
            xray = headers.get_joined("x-amzn-trace-id")
            break
        if name == "x-amzn-trace-id":
            # Repeated lines are joined as the runtimes that join them deliver them, up to
            # the longest value read: thousands of lines, each joined to all before it,
            # took time quadratic in their number (a request refused 431 for them too).
            if xray is None:
                xray = value
            elif len(xray) <= _MAX_XRAY_LEN:
                xray = f"{xray}, {value}"
    return xray_ids(xray, random_bytes)


def _traceparent_ids(headers: Headers, random_bytes: RandomBytes) -> TraceIds | None:
    parents = headers.get_all("traceparent")
    parsed = parse_traceparent(parents[0].strip(" \t")) if len(parents) == 1 else None
    if parsed is None:
        return None
    trace_id, parent, flags = parsed
    state = headers.get_all("tracestate")
    tracestate = parse_tracestate(state) if state else None
    return trace_id, new_span_id(random_bytes), parent, flags, tracestate


def xray_ids(value: str | None, random_bytes: RandomBytes = id_bytes) -> TraceIds | None:
    """:func:`from_xray` as the fields of the :class:`TraceContext` it would build."""
    if not value:
        return None
    xray = _canonical_xray(value)
    if xray is None:
        if len(value) > _MAX_XRAY_LEN:
            return None
        xray = _parse_xray_fields(value)
        if xray is None:
            return None
    span = random_bytes(8).hex()
    if span == _ZERO_SPAN:
        span = "0000000000000001"
    return xray[0], span, xray[1], xray[2], None


def fresh_ids(random_bytes: RandomBytes = id_bytes, now_ns: int | None = None) -> TraceIds:
    """:func:`new_trace` as the fields of the :class:`TraceContext` it would build.

    ``now_ns`` (epoch nanoseconds, the request's start) gives the trace id's epoch seconds
    without another clock reading."""
    seconds = ((time.time_ns() if now_ns is None else now_ns) // 1_000_000_000) & 0xFFFFFFFF
    epoch = _epoch_hex
    if epoch[0] != seconds:
        # One tuple, replaced whole: a thread never sees one second's text with another's.
        epoch = _remember_epoch(seconds)
    raw = random_bytes(20).hex()
    return f"{epoch[1]}{raw[:24]}", raw[24:40], None, _SAMPLED, None


# The last epoch second a trace id began with, and its hex text: most requests in a
# second start with the same eight digits.
_epoch_hex: tuple[int, str] = (-1, "")


def _remember_epoch(seconds: int) -> tuple[int, str]:
    global _epoch_hex
    epoch = _epoch_hex = (seconds, f"{seconds:08x}")
    return epoch


def from_headers(headers: Headers, random_bytes: RandomBytes = id_bytes) -> TraceContext | None:
    """The trace a valid ``traceparent`` (with its ``tracestate``) or ``X-Amzn-Trace-Id``
    header continues, with a new server span id; None when neither is usable."""
    ids = inbound_ids(headers, random_bytes)
    return None if ids is None else TraceContext(*ids)


def from_xray(value: str | None, random_bytes: RandomBytes = id_bytes) -> TraceContext | None:
    """The trace an ``X-Amzn-Trace-Id`` value continues, or None when it is not valid."""
    ids = xray_ids(value, random_bytes)
    return None if ids is None else TraceContext(*ids)


def new_trace(random_bytes: RandomBytes = id_bytes) -> TraceContext:
    """A new trace whose first span is this request's."""
    return TraceContext(*fresh_ids(random_bytes))


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
