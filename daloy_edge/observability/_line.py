"""The request line as JSON text: constant fragments encoded once, variable parts per request.

The text is the document :func:`~daloy_edge.observability._record.log_record` describes
(same keys in the same order) with the escaping of
:func:`~daloy_edge.observability._record.encode`: strings go through the same C escaper,
numbers through the same ``repr``. Building it directly skips a dict per request and the
general encoder's per-call set-up, which were most of what a request line cost.
"""

from __future__ import annotations

from daloy_edge._json import string_ascii as _string
from daloy_edge.observability._record import MAX_FIELD, SEVERITIES, encode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge._request import Request
    from daloy_edge._response import Response
    from daloy_edge.observability._redact import Redactor
    from daloy_edge.observability._trace import TraceContext
    from daloy_edge.types import JSON

__all__ = [
    "HTTP_ATTRIBUTE_KEYS",
    "http_attributes_json",
    "json_decimal",
    "json_scalar",
    "json_string",
    "open_record_line",
    "with_attributes",
]

json_string = _string
"""A JSON string literal, every control character and non-ASCII character escaped."""

HTTP_ATTRIBUTE_KEYS = frozenset(
    {
        "http.request.method",
        "url.path",
        "url.scheme",
        "http.response.status_code",
        "http.server.request.duration",
        "http.request.id",
        "http.route",
        "client.address",
        "network.peer.address",
        "user_agent.original",
        "server.address",
        "http.response.body.size",
        "error.type",
        "faas.invocation_id",
    }
)
"""Every key :func:`http_attributes_json` may write."""

_SEVERITY = {
    name: f'"SeverityText":"{name}","SeverityNumber":{number}'
    for name, number in SEVERITIES.items()
}


def json_scalar(value: str | float) -> str:
    """A JSON literal for a string or number, exactly as :func:`encode` writes it.

    Anything else (a subclass, or a float that is not finite, which raises ``ValueError``
    as the encoder does) goes through the general encoder.
    """
    kind = type(value)
    if kind is str:
        return _string(value)  # type: ignore[arg-type]
    if kind is int:
        return int.__repr__(value)
    if kind is float and value - value == 0:  # type: ignore[operator]
        return float.__repr__(value)
    return encode(value)  # type: ignore[arg-type]


def json_decimal(value: float, digits: int) -> str:
    """``value`` rounded to ``digits`` decimals, as a JSON number.

    The number is the one ``round(value, digits)`` gives (both round the exact binary
    value half to even), written with a fixed number of decimals: one conversion
    instead of two. Raises ``ValueError`` for a value that is not finite, as the
    encoder does.
    """
    if value - value != 0:
        raise ValueError(f"out of range float value {value!r} is not JSON compliant")
    return f"{value:.{digits}f}"


def http_attributes_json(
    request: Request,
    response: Response,
    duration_s: float,
    redactor: Redactor,
) -> str:
    """OTel HTTP server semantic-convention attributes for one finished request, as a
    JSON object (the query string is never included)."""
    text = (
        f'{{"http.request.method":{_string(request.method)},'
        f'"url.path":{_string(redactor.scrub(request.path[:MAX_FIELD]))},'
        f'"url.scheme":{_string(request.scheme)},'
        f'"http.response.status_code":{json_scalar(response.status)},'
        f'"http.server.request.duration":{json_decimal(duration_s, 6)},'
        f'"http.request.id":{_string(request.request_id)}'
    )
    if request.route is not None:
        text += f',"http.route":{_string(request.route)}'
    client = request.client_ip or request.client
    if client:
        text += f',"client.address":{_string(client)}'
    if request.client and request.client != client:
        text += f',"network.peer.address":{_string(request.client)}'
    agent = request.headers.get("user-agent")
    if agent:
        text += f',"user_agent.original":{_string(redactor.scrub(agent[:MAX_FIELD]))}'
    host = request.headers.get("host")
    if host:
        text += f',"server.address":{_string(host[:MAX_FIELD])}'
    if response.stream is None:
        text += f',"http.response.body.size":{len(response.body):d}'
    if response.status >= 500:
        text += f',"error.type":{_string(str(response.status))}'
    invocation = getattr(request.state.get("aws.context"), "aws_request_id", None)
    if isinstance(invocation, str):
        text += f',"faas.invocation_id":{_string(invocation[:MAX_FIELD])}'
    return text + "}"


def with_attributes(attributes_json: str, extra: dict[str, JSON]) -> str:
    """``attributes_json`` with ``extra`` added; a key already there takes the new value."""
    if not extra:
        return attributes_json
    if extra.keys() & HTTP_ATTRIBUTE_KEYS:
        import json  # only when an extra attribute replaces an HTTP one

        merged: dict[str, JSON] = json.loads(attributes_json)
        merged.update(extra)
        return encode(merged)
    return f"{attributes_json[:-1]},{encode(extra)[1:]}"


def open_record_line(
    *,
    timestamp_ns: int,
    observed_ns: int,
    severity: str,
    body_json: str,
    event_name: str,
    attributes_json: str,
    trace: TraceContext,
    resource_json: str,
) -> str:
    """An OTel log record as JSON text without its closing brace, so members (EMF
    metrics) can be added before it is closed."""
    return (
        f'{{"Timestamp":"{timestamp_ns:d}","ObservedTimestamp":"{observed_ns:d}",'
        f"{_SEVERITY[severity]},"
        f'"Body":{body_json},"EventName":{_string(event_name)},'
        f'"Attributes":{attributes_json},"TraceId":{_string(trace.trace_id)},'
        f'"SpanId":{_string(trace.span_id)},"TraceFlags":"{trace.flags:02x}",'
        f'"Resource":{resource_json}'
    )
