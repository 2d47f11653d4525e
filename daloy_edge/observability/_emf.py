"""CloudWatch Embedded Metric Format: metrics as log lines that Lambda ships for free.

A line with an ``_aws`` member printed to stdout in Lambda (or sent to CloudWatch Logs
with the EMF header) becomes CloudWatch metrics without a PutMetricData call.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, cast

from daloy_edge._errors import ConfigError
from daloy_edge.observability._record import encode
from daloy_edge.types import JSON

if TYPE_CHECKING:
    from daloy_edge._request import Request
    from daloy_edge._response import Response

__all__ = ["EMF_UNITS", "emf_document", "request_metrics"]

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
_NAME = re.compile(r"^[\x20-\x7e]{1,255}$")
_RESERVED = frozenset({"_aws"})
_STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


def _check_name(kind: str, name: str) -> None:
    if not _NAME.match(name) or name in _RESERVED:
        raise ConfigError(f"invalid EMF {kind} name {name!r}")


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
    metrics or 30 dimensions in a set, unknown units, names outside 1-255 printable ASCII.

    >>> doc = emf_document(namespace="shop", metrics={"Orders": (1, "Count")},
    ...                    dimensions={"Service": "api"}, timestamp_ms=0)
    >>> doc["Orders"], doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    (1, [['Service']])
    """
    _check_name("namespace", namespace)
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
        document[name] = value
    definitions: list[JSON] = []
    for name, (value, unit) in metrics.items():
        _check_name("metric", name)
        if unit not in EMF_UNITS:
            raise ConfigError(f"unknown EMF unit {unit!r}")
        definitions.append({"Name": name, "Unit": unit})
        document[name] = value
    for name, dim_value in dimensions.items():
        _check_name("dimension", name)
        document[name] = dim_value
    document["_aws"] = {
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": [
            {"Namespace": namespace, "Dimensions": sets, "Metrics": definitions}  # type: ignore[dict-item]
        ],
    }
    return document


def status_class(status: int) -> str:
    """``2xx`` … ``5xx`` (1xx counts as ``2xx``: it never ends a request here)."""
    return f"{max(2, min(5, status // 100))}xx"


_REQUEST_METRICS = (
    ("Requests", "Count"),
    ("Latency", "Milliseconds"),
    *((f"Status{name}", "Count") for name in _STATUS_CLASSES),
    ("RateLimited", "Count"),
    ("Shed", "Count"),
)


@functools.lru_cache(maxsize=8)
def _request_directive(namespace: str) -> list[JSON]:
    """The ``CloudWatchMetrics`` member of the per-request document (built and checked once)."""
    template = emf_document(
        namespace=namespace,
        metrics={name: (0, unit) for name, unit in _REQUEST_METRICS},
        dimensions={"Service": "-", "Route": "-"},
        dimension_sets=[["Service"], ["Service", "Route"]],
        timestamp_ms=0,
    )
    aws = cast("dict[str, JSON]", template["_aws"])
    return cast("list[JSON]", aws["CloudWatchMetrics"])


@functools.lru_cache(maxsize=8)
def _request_directive_json(namespace: str) -> str:
    return encode(cast("dict[str, JSON]", {"d": _request_directive(namespace)}))[5:-1]


def encode_request_metrics(document: dict[str, JSON], namespace: str) -> str:
    """One EMF line for a :func:`request_metrics` document; the constant metric directive
    is encoded once per namespace and spliced in."""
    aws = cast("dict[str, JSON]", document.pop("_aws"))
    try:
        head = encode(document)
    finally:
        document["_aws"] = aws
    stamp = int(cast(int, aws["Timestamp"]))
    directive = _request_directive_json(namespace)
    return f'{head[:-1]},"_aws":{{"Timestamp":{stamp},"CloudWatchMetrics":{directive}}}}}'


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
    shed on ``request.state["shed"]`` or a 503 with ``Retry-After``.
    """
    status = response.status
    klass = status_class(status)
    state = request.state
    limited = status == 429 or bool(state.get("rate_limited"))
    shed = bool(state.get("shed")) or (status == 503 and "retry-after" in response.headers)
    document: dict[str, JSON] = {
        "StatusClass": klass,
        "StatusCode": status,
        "RequestId": request.request_id,
    }
    if trace_id is not None:
        document["TraceId"] = trace_id
    document["Requests"] = 1
    document["Latency"] = round(duration_s * 1000, 3)
    for name in _STATUS_CLASSES:
        document[f"Status{name}"] = 1 if name == klass else 0
    document["RateLimited"] = 1 if limited else 0
    document["Shed"] = 1 if shed else 0
    document["Service"] = service
    document["Route"] = request.route or "UNMATCHED"
    document["_aws"] = {
        "Timestamp": timestamp_ms,
        "CloudWatchMetrics": _request_directive(namespace),
    }
    return document
