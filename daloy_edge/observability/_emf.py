"""CloudWatch Embedded Metric Format: metrics as log lines that Lambda ships for free.

A line with an ``_aws`` member printed to stdout in Lambda (or sent to CloudWatch Logs
with the EMF header) becomes CloudWatch metrics without a PutMetricData call.
"""

from __future__ import annotations

from daloy_edge._charset import Charset, span
from daloy_edge._errors import ConfigError
from daloy_edge.observability._line import json_scalar, json_string
from daloy_edge.observability._record import encode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from daloy_edge._request import Request
    from daloy_edge._response import Response
    from daloy_edge.observability._line import RequestShape
    from daloy_edge.types import JSON

__all__ = [
    "EMF_UNITS",
    "check_namespace",
    "dimension_value",
    "emf_document",
    "request_metrics",
]

EMF_UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)
"""Units CloudWatch accepts."""

_MAX_METRICS = 100
_MAX_DIMENSIONS = 30
_MAX_DIMENSION_VALUE = 1024
# The specification's schema takes a DimensionReference of at most 250 characters, where
# the API's Dimension names take 255: a longer one fails the document whole.
_MAX_DIMENSION_NAME = 250
_MAX_VALUE = 2.0**360
_NAME = Charset(span(" ", "~"), max_len=255)
_PRINTABLE = span(" ", "~")
_DIMENSION_VALUE = Charset(_PRINTABLE, max_len=_MAX_DIMENSION_VALUE)
_RESERVED = frozenset({"_aws"})
_LAST_MILLISECOND = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
_STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


def _check_name(kind: str, name: str) -> None:
    # All spaces is no name to CloudWatch, and neither a namespace nor a dimension name
    # may start with ":" (the CloudWatch API's Namespace pattern is "[^:].*").
    if (
        not _NAME.fullmatch(name)
        or name.isspace()
        or name in _RESERVED
        or (kind != "metric" and name[0] == ":")
        or (kind == "dimension" and len(name) > _MAX_DIMENSION_NAME)
    ):
        raise ConfigError(f"invalid EMF {kind} name {name!r}")


def _check_timestamp(timestamp_ms: int) -> None:
    # The specification's schema types it an integer: 1.7e12, "1700000000000" or true
    # is a document CloudWatch refuses whole. Past the year 9999 it is no milliseconds
    # but a clock read in micro- or nanoseconds (time.time_ns()), a time thousands of
    # years ahead, whose metrics CloudWatch drops (it takes none over two hours ahead).
    if type(timestamp_ms) is not int or not 0 <= timestamp_ms <= _LAST_MILLISECOND:
        raise ConfigError(f"EMF timestamp_ms needs whole milliseconds, got {timestamp_ms!r}")


def dimension_value(text: str) -> str:
    """``text`` as a dimension value CloudWatch keeps: as it is when it is 1-1024
    printable ASCII characters, not all spaces; otherwise percent-encoded (UTF-8) and cut.

    CloudWatch drops every metric of a line whose dimension value is anything else, so
    a route or service name with an ``ü`` would silently cost each request its metrics.

    >>> dimension_value("/orders/{id}"), dimension_value("/café")
    ('/orders/{id}', '/caf%C3%A9')
    """
    if _DIMENSION_VALUE.fullmatch(text) and not text.isspace():
        return text
    from urllib.parse import quote  # only for a name CloudWatch would refuse

    escaped = quote(text, safe=_PRINTABLE, errors="backslashreplace")
    if escaped.isspace() or not escaped:
        escaped = quote(text, safe="") or "-"
    return escaped[:_MAX_DIMENSION_VALUE]


def check_namespace(namespace: str) -> None:
    """Raise :class:`~daloy_edge.ConfigError` for a namespace CloudWatch would refuse."""
    _check_name("namespace", namespace)


def emf_document(
    *,
    namespace: str,
    metrics: Mapping[str, tuple[float, str]],
    dimensions: Mapping[str, str],
    dimension_sets: Sequence[Sequence[str]] | None = None,
    properties: Mapping[str, JSON] | None = None,
    timestamp_ms: int,
) -> dict[str, JSON]:
    """One EMF document: ``metrics`` maps a name to ``(value, unit)``.

    ``dimension_sets`` defaults to one set holding every dimension. Raises
    :class:`~daloy_edge.ConfigError` for what CloudWatch would drop silently: more than 100
    metrics or 30 dimensions in a set, unknown units, names outside 1-255 printable ASCII
    (1-250 for a dimension), a metric value that is not a finite number within 2**360 of
    zero, a namespace or dimension name that starts with ``:``, a dimension value that is
    not 1-1024 printable ASCII characters (nor all spaces), a name given to a metric and a
    dimension both (or to a property and either), a ``timestamp_ms`` that is not an
    ``int`` of milliseconds from 1970 to the year 9999 (``time.time_ns()`` is refused).

    >>> doc = emf_document(namespace="shop", metrics={"Orders": (1, "Count")},
    ...                    dimensions={"Service": "api"}, timestamp_ms=0)
    >>> doc["Orders"], doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    (1, [['Service']])
    """
    _check_name("namespace", namespace)
    _check_timestamp(timestamp_ms)
    if not metrics or len(metrics) > _MAX_METRICS:
        raise ConfigError(f"an EMF document holds 1 to {_MAX_METRICS} metrics")
    sets = [list(s) for s in (dimension_sets or [list(dimensions)])]
    for dim_set in sets:
        if len(dim_set) > _MAX_DIMENSIONS:
            raise ConfigError(f"an EMF dimension set holds at most {_MAX_DIMENSIONS} names")
        for name in dim_set:
            if name not in dimensions:
                raise ConfigError(f"dimension {name!r} has no value")
    document: dict[str, JSON] = {}
    for name, value in (properties or {}).items():
        # A metric, a dimension or ``_aws`` would overwrite it without a word.
        if name in metrics or name in dimensions or name in _RESERVED:
            raise ConfigError(f"{name!r} names a property and a metric, dimension or _aws")
        document[name] = value
    definitions: list[JSON] = []
    for name, (value, unit) in metrics.items():
        _check_name("metric", name)
        if unit not in EMF_UNITS:
            raise ConfigError(f"unknown EMF unit {unit!r}")
        # JSON's true is no number to CloudWatch, NaN is no JSON at all, and CloudWatch
        # refuses values past 2**360 either way (10**400 is a finite int).
        if (
            type(value) is bool
            or not isinstance(value, int | float)
            or value - value != 0
            or abs(value) > _MAX_VALUE
        ):
            raise ConfigError(f"EMF metric {name!r} needs a finite number, got {value!r}")
        definitions.append({"Name": name, "Unit": unit})
        document[name] = value
    for name, dim_value in dimensions.items():
        _check_name("dimension", name)
        if name in metrics:
            raise ConfigError(f"{name!r} names both a metric and a dimension")
        if (
            not isinstance(dim_value, str)
            or not _DIMENSION_VALUE.fullmatch(dim_value)
            or dim_value.isspace()
        ):
            raise ConfigError(f"dimension {name!r} needs 1 to 1024 printable ASCII characters")
        document[name] = dim_value
    document["_aws"] = {
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": [
            {"Namespace": namespace, "Dimensions": sets, "Metrics": definitions}  # type: ignore[dict-item]
        ],
    }
    return document


def _class_digit(status: int) -> int:
    """2 … 5, the status class (1xx counts as 2xx: it never ends a request here)."""
    digit = status // 100
    return 2 if digit < 2 else 5 if digit > 5 else digit


_REQUEST_METRICS = (
    ("Requests", "Count"),
    ("Latency", "Milliseconds"),
    *((f"Status{name}", "Count") for name in _STATUS_CLASSES),
    ("RateLimited", "Count"),
    ("Shed", "Count"),
)


_DIRECTIVES_KEPT = 8
_directives: dict[str, str] = {}


def _request_directive(namespace: str) -> str:
    """The ``CloudWatchMetrics`` member of the per-request document as JSON text (built,
    checked and encoded once per namespace)."""
    found = _directives.get(namespace)
    if found is None:
        found = _build_directive(namespace)
        # Namespaces come from configuration, so a few at most; the bound is a backstop.
        if len(_directives) >= _DIRECTIVES_KEPT:
            _directives.clear()
        _directives[namespace] = found
    return found


def _build_directive(namespace: str) -> str:
    template = emf_document(
        namespace=namespace,
        metrics={name: (0, unit) for name, unit in _REQUEST_METRICS},
        dimensions={"Service": "-", "Route": "-"},
        dimension_sets=[["Service"], ["Service", "Route"]],
        timestamp_ms=0,
    )
    aws: dict[str, JSON] = template["_aws"]  # type: ignore[assignment]
    return encode({"m": aws["CloudWatchMetrics"]})[len('{"m":') : -1]


def _counters(digit: int, limited: bool, shed: bool) -> str:
    classes = ",".join(f'"Status{name}":{int(name[0] == str(digit))}' for name in _STATUS_CLASSES)
    return f'{classes},"RateLimited":{int(limited)},"Shed":{int(shed)}'


# Every combination of status class, rate limited and shed, encoded once.
_COUNTERS = {
    (digit, limited, shed): _counters(digit, limited, shed)
    for digit in (2, 3, 4, 5)
    for limited in (False, True)
    for shed in (False, True)
}


class RequestMetrics:
    """The per-request EMF metrics of one service (see :func:`request_metrics`), with
    what does not change between requests checked and encoded once."""

    __slots__ = ("_directive", "_service")

    def __init__(self, *, namespace: str, service: str) -> None:
        self._directive = _request_directive(namespace)
        self._service = json_string(dimension_value(service))

    def members(
        self,
        request: Request,
        response: Response,
        duration_s: float,
        timestamp_ms: int | str,
        shape: RequestShape | None = None,
    ) -> str:
        """The metrics and their ``_aws`` directive as JSON members (no braces).

        Added to the request line, they make it an EMF document as well: CloudWatch
        extracts metrics from any JSON log line whose ``_aws`` member is valid, reading
        the metric and dimension values from the top level of that line.
        ``timestamp_ms`` is an integer or its decimal digits; ``shape`` is the request's
        :class:`~daloy_edge.observability._line.RequestShape`, when the caller has it.
        """
        status = response.status
        if shape is None:
            route = json_string(dimension_value(request.route or "UNMATCHED"))
            digit = _class_digit(status)
        else:
            digit, route = shape.digit, shape.route_json
        state = request.state
        # ``in`` first: most requests carry neither flag, and it costs less than ``get``.
        limited = status == 429 or ("rate_limited" in state and bool(state["rate_limited"]))
        shed = "shed" in state and bool(state["shed"])
        # What json_decimal(latency, 3) writes, without its frame: every Lambda request
        # line carries these members.
        latency = duration_s * 1000
        if latency - latency != 0:
            raise ValueError(f"out of range float value {latency!r} is not JSON compliant")
        return (
            f'"Requests":1,"Latency":{latency:.3f},{_COUNTERS[digit, limited, shed]},'
            f'"Service":{self._service},"Route":{route},'
            f'"_aws":{{"Timestamp":{timestamp_ms},"CloudWatchMetrics":{self._directive}}}'
        )

    def line(
        self,
        request: Request,
        response: Response,
        duration_s: float,
        timestamp_ms: int,
        trace_id: str | None,
        *,
        shape: RequestShape | None = None,
    ) -> str:
        """The metrics as an EMF document of their own, with the request's status,
        request id and trace id as properties."""
        status = response.status
        trace = "" if trace_id is None else f'"TraceId":{json_string(trace_id)},'
        members = self.members(request, response, duration_s, timestamp_ms, shape)
        return (
            f'{{"StatusClass":"{_class_digit(status)}xx","StatusCode":{json_scalar(status)},'
            f'"RequestId":{json_string(request.request_id)},{trace}{members}}}'
        )


def request_metrics(
    request: Request,
    response: Response,
    duration_s: float,
    *,
    namespace: str,
    service: str,
    timestamp_ms: int,
    trace_id: str | None,
) -> dict[str, JSON]:
    """The per-request EMF document: count, latency, status class, rate-limit and shed.

    Dimensions are the service and the matched route pattern (never the raw path, so
    an attacker cannot create metrics); unmatched requests share ``UNMATCHED``.
    A request counts as rate limited on 429 or ``request.state["rate_limited"]``, and as
    shed on ``request.state["shed"]``, which
    :class:`~daloy_edge.middleware.shedding.LoadShedding` sets (another 503 with
    ``Retry-After``, a dependency's, is no shed request).
    """
    import json  # only this helper wants the line back as a dict

    _check_timestamp(timestamp_ms)
    metrics = RequestMetrics(namespace=namespace, service=service)
    document: dict[str, JSON] = json.loads(
        metrics.line(request, response, duration_s, timestamp_ms, trace_id)
    )
    return document
