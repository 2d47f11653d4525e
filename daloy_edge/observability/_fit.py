"""Lines past :data:`~daloy_edge.observability._record.MAX_LINE`: shortened, still JSON.

CloudWatch Logs cuts an event at 256 KB, Lambda's runtime splits a longer stdout line
into several events, and Cloud Logging refuses an entry past 256 KB: a line cut there is
no JSON, and its error, trace ids and EMF metrics are lost with it. Every field has a
limit in characters, but an escaped character takes up to twelve bytes (``\\ud83d\\ude00``)
and a line holds many fields, so an error line with user attributes could pass that.

Only a line past the bound comes here (the caller compares its length: lines are ASCII,
so that is its size in bytes). The largest strings that identify nothing are shortened
first, all to one common length, each marked ``…[N more]`` (a stack trace keeps its end,
where the exception is); the record's ids, times, severity, status, route, method, error
type and metrics stay whole, and ``Attributes["daloy.truncated"]`` holds the size the
line had. Should that not be enough (thousands of small values), only those members are
kept.
"""

from __future__ import annotations

from daloy_edge._json import encode_ascii, string_ascii
from daloy_edge.observability._record import MAX_LINE, encode
from daloy_edge.observability._sinks import parse_line

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from daloy_edge.types import JSON

__all__ = ["TRUNCATED", "fit_head", "fit_line"]

TRUNCATED = "daloy.truncated"
"""The attribute that marks a shortened line; its value is the line's size before."""

_KEPT_MEMBERS = frozenset(
    {
        "Timestamp",
        "ObservedTimestamp",
        "SeverityText",
        "SeverityNumber",
        "EventName",
        "TraceId",
        "SpanId",
        "TraceFlags",
        "Resource",
        "_aws",
        TRUNCATED,
        # Lambda's JSON log format and Cloud Logging read these by name.
        "level",
        "timestamp",
        "severity",
        "logging.googleapis.com/trace",
        "logging.googleapis.com/spanId",
        "logging.googleapis.com/trace_sampled",
        # A metrics line's own properties.
        "StatusClass",
        "StatusCode",
        "RequestId",
    }
)
"""Top-level members never shortened (with the metric and dimension names ``_aws``
lists, whose values CloudWatch reads from the top level)."""

_KEPT_ATTRIBUTES = frozenset(
    {
        TRUNCATED,
        "http.request.method",
        "http.response.status_code",
        "http.server.request.duration",
        "http.route",
        "http.request.id",
        "url.scheme",
        "client.address",
        "network.peer.address",
        "server.port",
        "error.type",
        "exception.type",
        "faas.invocation_id",
    }
)
"""Attributes never shortened: what finds and counts the request, and what failed."""

_TAILS = frozenset({"exception.stacktrace", "stack_trace"})
_FLOOR = 64  # the shortest a shortened string is made (in bytes, with its quotes)
_LAST_RESORT = 1024  # each string kept when only the essential members are


def fit_line(line: str, bound: int = MAX_LINE) -> str:
    """``line`` (one JSON object, ASCII) within ``bound`` bytes: as it is when it fits,
    else with its largest non-essential strings shortened. Raises ``ValueError`` for a
    line that is no JSON object."""
    if len(line) <= bound:
        return line
    record = parse_line(line)
    if type(record) is not dict:
        raise ValueError("not a JSON object")
    attributes = record.get("Attributes")
    marks = attributes if type(attributes) is dict else record
    marks[TRUNCATED] = len(line)
    leaves = list(_leaves(record))
    text = encode(record)
    if leaves and len(text) > bound:
        _shorten(leaves, len(text) - bound)
        text = encode(record)
    if len(text) > bound:
        text = encode(_essentials(record, bound))
    return text


def fit_head(head: str, bound: int) -> str:
    """:func:`fit_line` for a record still open (no closing brace), which it stays."""
    return fit_line(f"{head}}}", bound + 1)[:-1]


def _kept_names(record: dict[str, JSON]) -> frozenset[str]:
    """The top-level members never shortened: :data:`_KEPT_MEMBERS`, and the metrics and
    dimensions an EMF ``_aws`` directive names (CloudWatch drops a metric whose
    dimension value is missing or other than the one the request had)."""
    directive = record.get("_aws")
    groups = directive.get("CloudWatchMetrics") if type(directive) is dict else None
    names: set[str] = set()
    for group in groups if type(groups) is list else ():
        if type(group) is not dict:
            continue
        metrics = group.get("Metrics")
        for metric in metrics if type(metrics) is list else ():
            name = metric.get("Name") if type(metric) is dict else None
            if type(name) is str:
                names.add(name)
        dimensions = group.get("Dimensions")
        for dimension_set in dimensions if type(dimensions) is list else ():
            if type(dimension_set) is list:
                names.update(name for name in dimension_set if type(name) is str)
    return _KEPT_MEMBERS | names


_Leaf = tuple["dict[str, JSON] | list[JSON]", "str | int", str, int, bool]
"""A string that may be shortened: its container, its key there, the string, the
length of its literal, and whether its end is what is kept."""


def _leaves(record: dict[str, JSON]) -> Iterator[_Leaf]:
    kept = _kept_names(record)
    for key, value in record.items():
        if key == "Attributes" and type(value) is dict:
            for name, item in value.items():
                if name not in _KEPT_ATTRIBUTES:
                    yield from _strings(value, name, item, name in _TAILS)
        elif key not in kept:
            yield from _strings(record, key, value, key in _TAILS)


def _strings(
    container: dict[str, JSON] | list[JSON], key: str | int, value: JSON, tail: bool
) -> Iterator[_Leaf]:
    """The strings in ``value`` (``container[key]``), at any depth."""
    if type(value) is str:
        yield (container, key, value, len(string_ascii(value)), tail)
    elif type(value) is dict:
        for name, item in value.items():
            yield from _strings(value, name, item, tail)
    elif type(value) is list:
        for index, item in enumerate(value):
            yield from _strings(value, index, item, tail)


def _shorten(leaves: list[_Leaf], excess: int) -> None:
    """Cut the longest strings to one common length, so that they lose ``excess`` bytes
    together (none below :data:`_FLOOR`)."""
    leaves.sort(key=lambda leaf: leaf[3], reverse=True)
    total = 0
    cap = _FLOOR
    for count, leaf in enumerate(leaves, 1):
        total += leaf[3]
        following = leaves[count][3] if count < len(leaves) else 0
        # Cutting the first ``count`` down to the length of the next saves this much.
        if total - count * max(following, _FLOOR) >= excess:
            cap = max((total - excess) // count, _FLOOR)
            break
    for container, key, value, size, tail in leaves:
        if size <= cap:
            break
        container[key] = _cut(value, cap, tail=tail)  # type: ignore[index]


def _cut(text: str, room: int, *, tail: bool = False) -> str:
    """``text`` shortened so that its JSON literal takes at most ``room`` bytes, marked
    with how many characters went; its end kept when ``tail``."""
    if len(string_ascii(text)) <= room:
        return text
    mark = f"…[{len(text)} more]"
    budget = room - len(string_ascii(mark))
    low, high = 0, min(len(text), max(budget, 0))
    # The longest part whose escaped form fits (escapes take 1 to 12 bytes a character).
    while low < high:
        middle = (low + high + 1) // 2
        part = text[len(text) - middle :] if tail else text[:middle]
        if len(string_ascii(part)) <= budget:
            low = middle
        else:
            high = middle - 1
    gone = f"…[{len(text) - low} more]"
    return f"{gone}{text[len(text) - low :]}" if tail else f"{text[:low]}{gone}"


def _essentials(record: dict[str, JSON], bound: int) -> dict[str, JSON]:
    """What must survive, when shortening strings was not enough: the members
    :func:`_kept_names` and :data:`_KEPT_ATTRIBUTES` name, and any other top-level
    string, each cut to :data:`_LAST_RESORT` bytes, as long as the line stays within
    ``bound``."""
    kept = _kept_names(record)
    result: dict[str, JSON] = {}
    size = 2
    for key, value in record.items():
        shown = value
        if key == "Attributes" and type(value) is dict:
            shown = {
                name: _cut(item, _LAST_RESORT) if type(item) is str else item
                for name, item in value.items()
                if name in _KEPT_ATTRIBUTES
            }
        elif key not in kept:
            shown = _cut(value if type(value) is str else encode_ascii(value), _LAST_RESORT)
        member = len(encode({key: shown})) - 1
        if size + member <= bound:
            result[key] = shown
            size += member
    return result
