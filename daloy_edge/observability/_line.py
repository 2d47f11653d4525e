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
from daloy_edge.observability._redact import REDACTED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge._request import Request
    from daloy_edge._response import Response
    from daloy_edge.observability._redact import Redactor
    from daloy_edge.observability._trace import TraceContext
    from daloy_edge.types import JSON

__all__ = [
    "HTTP_ATTRIBUTE_KEYS",
    "KNOWN_METHODS",
    "SEVERITY_JSON",
    "SHAPES_KEPT",
    "RequestShape",
    "http_attributes_json",
    "json_decimal",
    "json_scalar",
    "json_string",
    "open_record_line",
    "request_shape",
    "with_attributes",
]

json_string = _string
"""A JSON string literal, every control character and non-ASCII character escaped."""

HTTP_ATTRIBUTE_KEYS = frozenset(
    {
        "http.request.method",
        "http.request.method_original",
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
        "server.port",
        "http.response.body.size",
        "error.type",
        "faas.invocation_id",
    }
)
"""Every key :func:`http_attributes_json` may write."""

KNOWN_METHODS = frozenset(
    {"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY", "TRACE"}
)
"""The methods the OTel HTTP conventions name as they are; any other is ``_OTHER``."""

SEVERITY_JSON = {
    name: f'"SeverityText":"{name}","SeverityNumber":{number}'
    for name, number in SEVERITIES.items()
}
"""The severity members of a record, by ``SeverityText``."""


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


SHAPES_KEPT = 256
"""How many request shapes one request log keeps (routes x methods x statuses x hosts)."""
_KEPT_HOST_LEN = 259
"""The longest ``Host`` a kept shape has: a DNS name (253 characters) and a port. A
client's made-up 8 KiB hosts, 256 shapes of them, held 2.5 MB until the cache emptied."""
_KEPT_METHOD_LEN = 16
"""The longest method a kept shape has: the longest a request is served with. Made-up
8 KiB methods, each refused 400 and logged, 256 shapes of them, held 2 MB."""


class RequestShape:
    """The parts of a request line that the request's method, route, status, scheme and
    host alone decide, encoded once: a request's members in the order
    :func:`http_attributes_json` writes them (the host scrubbed by ``redactor``), its
    severity and body, its EMF route, its Cloud Logging severity and message."""

    __slots__ = (
        "body",
        "digit",
        "error",
        "gcp",
        "head",
        "host",
        "level",
        "message",
        "middle",
        "route",
        "route_json",
    )

    def __init__(
        self,
        method: str,
        route: str | None,
        status: int,
        scheme: str,
        host: str | None,
        *,
        redactor: Redactor,
    ) -> None:
        severity = "ERROR" if status >= 500 else "WARN" if status >= 400 else "INFO"
        digit = status // 100
        if method in KNOWN_METHODS:
            self.head = f'{{"http.request.method":{_string(method)},"url.path":'
        else:
            # The client chose it (any text where a runtime does not check it): OTel's
            # _OTHER, with the method itself, scrubbed and cut, as its original.
            original = redactor.scrub(method, limit=min(MAX_FIELD, redactor.max_string))
            self.head = (
                '{"http.request.method":"_OTHER",'
                f'"http.request.method_original":{_string(original)},"url.path":'
            )
        # Named as its span is: a route serves only the methods the app chose.
        named = method if route or method in KNOWN_METHODS else "HTTP"
        body = f"{named} {route or 'UNMATCHED'} {status}"
        self.middle = (
            f',"url.scheme":{_string(scheme)},"http.response.status_code":{json_scalar(status)},'
            '"http.server.request.duration":'
        )
        self.route = "" if route is None else f',"http.route":{_string(route)}'
        self.host = _server(host, redactor) if host else ""
        self.error = f',"error.type":{_string(str(status))}' if status >= 500 else ""
        self.level = SEVERITIES[severity]
        self.body = f'{SEVERITY_JSON[severity]},"Body":{_string(body)}'
        self.message = body
        self.gcp: str | None = None  # Cloud Logging's members, made on Google Cloud only
        # The status class for EMF (1xx counts as 2xx: it never ends a request).
        self.digit = 2 if digit < 2 else 5 if digit > 5 else digit
        # Made once per shape: routes are the app's, but one with an ``ü`` or past 1024
        # characters is no dimension value CloudWatch keeps.
        from daloy_edge.observability._emf import dimension_value

        self.route_json = _string(dimension_value(route or "UNMATCHED"))


def _server(host: str, redactor: Redactor) -> str:
    """The ``server.address`` member, and ``server.port`` when the ``Host`` header names a
    port: OTel writes the name without its port (``example.com``, 8443), and an IPv6
    literal without its brackets."""
    name, port = _split_port(host)
    if name[:1] == "[" and name[-1:] == "]":
        name = name[1:-1]
    member = f',"server.address":{_string(_address(name, redactor))}'
    return member if port is None else f'{member},"server.port":{port}'


def _split_port(host: str) -> tuple[str, int | None]:
    """``host`` as its name and port (None when it names none). A port is at most five
    digits, up to 65535, after the last colon of a name that holds no other colon
    outside an IPv6 literal's brackets; anything else is all name."""
    name, colon, digits = host.rpartition(":")
    bare = name.rpartition("@")[2]  # the name without any userinfo
    if not colon or not bare or len(digits) > 5:
        return host, None
    if ":" in bare and not (bare[0] == "[" and bare[-1] == "]"):
        return host, None
    if not digits:
        return name, None
    if not (digits.isascii() and digits.isdigit()) or int(digits) > 0xFFFF:
        return host, None
    return name, int(digits)


def _address(host: str, redactor: Redactor) -> str:
    """The ``Host`` header scrubbed; it has no userinfo, so all before an ``@`` is taken
    for one (``admin:hunter2@example.com``)."""
    if "@" in host:
        host = f"{REDACTED}@{host.rpartition('@')[2]}"
    return redactor.scrub(host, limit=min(MAX_FIELD, redactor.max_string))


def request_shape(
    shapes: dict[tuple[object, ...], RequestShape],
    request: Request,
    status: int,
    redactor: Redactor,
) -> RequestShape:
    """The shape of ``request`` answered with ``status``, from ``shapes`` when an equal
    request came before (at most :data:`SHAPES_KEPT` are kept; ``shapes`` belongs to
    ``redactor``'s request log)."""
    method = request.method
    route = request.route
    scheme = request.scheme
    host = request.headers.get("host")
    if type(status) is not int:
        # An int subclass (an IntEnum) may print itself otherwise than the int it equals.
        return RequestShape(method, route, status, scheme, host, redactor=redactor)
    key = (method, route, status, scheme, host)
    shape = shapes.get(key)
    if shape is None:
        shape = RequestShape(method, route, status, scheme, host, redactor=redactor)
        # Clients choose methods and hosts: a full cache starts over rather than grow, and
        # a method no request is served with, or a host no name can be, is not kept at all.
        if len(method) <= _KEPT_METHOD_LEN and (host is None or len(host) <= _KEPT_HOST_LEN):
            if len(shapes) >= SHAPES_KEPT:
                shapes.clear()
            shapes[key] = shape
    return shape


def http_attributes_json(
    request: Request,
    response: Response,
    duration_s: float,
    redactor: Redactor,
    shape: RequestShape | None = None,
) -> str:
    """OTel HTTP server semantic-convention attributes for one finished request, as a
    JSON object (the query string is never included). ``shape`` is the request's
    :class:`RequestShape`, when the caller has it."""
    if duration_s - duration_s != 0:
        raise ValueError(f"out of range float value {duration_s!r} is not JSON compliant")
    if shape is None:
        shape = request_shape({}, request, response.status, redactor)
    peer = request.client
    # None when trusted-proxy resolution could not tell the client (a hop that is no
    # address, a chain past its bound): the peer is then a proxy, or no address at all,
    # and goes out as the peer only, never as the client.
    client = request.client_ip
    agent = request.headers.get("user-agent")
    invocation = getattr(request.state.get("aws.context"), "aws_request_id", None)
    # Every request pays for this: one f-string whose optional members are each their
    # text or empty, instead of a string grown member by member.
    return (
        f"{shape.head}{redactor.scrub_json(request.path, MAX_FIELD)}"
        f"{shape.middle}{duration_s:.6f},"
        f'"http.request.id":{_string(request.request_id)}{shape.route}'
        f"{_CLIENT + _string(client) if client else ''}"
        f"{_PEER + _string(peer) if peer and peer != client else ''}"
        f"{_AGENT + redactor.scrub_json(agent, MAX_FIELD) if agent else ''}"
        f"{shape.host}"
        f"{'' if response.stream is not None else f'{_BODY_SIZE}{len(response.body)}'}"
        f"{shape.error}"
        f"{_INVOCATION + _string(invocation[:MAX_FIELD]) if isinstance(invocation, str) else ''}"
        "}"
    )


_CLIENT = ',"client.address":'
_PEER = ',"network.peer.address":'
_AGENT = ',"user_agent.original":'
_BODY_SIZE = ',"http.response.body.size":'
_INVOCATION = ',"faas.invocation_id":'


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
        f"{SEVERITY_JSON[severity]},"
        f'"Body":{body_json},"EventName":{_string(event_name)},'
        f'"Attributes":{attributes_json},"TraceId":{_string(trace.trace_id)},'
        f'"SpanId":{_string(trace.span_id)},"TraceFlags":"{trace.flags:02x}",'
        f'"Resource":{resource_json}'
    )
