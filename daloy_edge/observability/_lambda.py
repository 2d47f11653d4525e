"""What AWS Lambda's log-level filtering reads from a line on stdout.

With the JSON log format (``LoggingConfig.LogFormat: JSON``, which sets
``AWS_LAMBDA_LOG_FORMAT=JSON``) Lambda keeps a JSON object written to stdout as it is,
and with an application log level (``AWS_LAMBDA_LOG_LEVEL``) drops every line below
that level. It reads the level from the line's ``level`` member (``TRACE`` … ``FATAL``)
and believes it only beside an RFC 3339 ``timestamp``: a line without both counts as
INFO, so under ``WARN`` or ``ERROR`` every line, 5xx lines included, was dropped. On that
format the records carry both after their OTel members, which stay as they are.
"""

from __future__ import annotations

import time

from daloy_edge.observability._record import SEVERITIES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from daloy_edge.observability._line import RequestShape
    from daloy_edge.observability._trace import TraceIds
    from daloy_edge.types import JSON

__all__ = ["LambdaLogging", "lambda_log_format", "lambda_log_level"]

_LEVEL = {name: f',"level":"{name}","timestamp":"' for name in SEVERITIES}
_LEVEL_BY_NUMBER = {number: _LEVEL[name] for name, number in SEVERITIES.items()}
_LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z: RFC 3339 has four-digit years
_MAX_STAMP = 21  # digits of the last nanosecond before it: int() of more is never needed


def lambda_log_format(env: Mapping[str, str]) -> bool:
    """True when Lambda runs this function with the JSON log format."""
    return env.get("AWS_LAMBDA_LOG_FORMAT", "").strip().upper() == "JSON"


def lambda_log_level(env: Mapping[str, str]) -> str | None:
    """The level below which Lambda drops this function's lines (its application log
    level, under the JSON log format only); None when it drops none."""
    if not lambda_log_format(env):
        return None
    level = env.get("AWS_LAMBDA_LOG_LEVEL", "").strip().upper()
    return level if level in SEVERITIES else None


class LambdaLogging:
    """The ``level`` and ``timestamp`` members for one function, under the JSON log format.

    ``level`` is Lambda's application log level (None: none configured); a line below
    it never reaches CloudWatch, so metrics go out on a line of their own at it.
    """

    __slots__ = ("_metrics_level", "_second", "floor")

    def __init__(self, level: str | None) -> None:
        self.floor = SEVERITIES[level] if level else 0
        # Metrics are no event of any severity: the lowest level Lambda keeps.
        self._metrics_level = _LEVEL[level or "INFO"]
        # The last second written, and its text: most lines fall in the second before.
        self._second = ("", "")

    def request_members(
        self, shape: RequestShape, start: str, ids: TraceIds, stack_trace: JSON | None
    ) -> str:
        """The members of a request line: its shape's level and its start time (epoch
        nanoseconds as text)."""
        return f'{_LEVEL_BY_NUMBER[shape.level]}{self._timestamp(start)}"'

    def record_members(self, record: dict[str, JSON]) -> str:
        """The members of any other record (a handler's, a span, an aborted response),
        from its own ``SeverityText`` and ``Timestamp``; none for a record that has no
        severity Lambda knows or names ``level`` or ``timestamp`` itself."""
        # A record handed to ``RequestLog.emit`` may hold anything: only what is checked
        # here is written unescaped.
        severity = record.get("SeverityText")
        if type(severity) is not str or severity not in _LEVEL:
            return ""
        if "level" in record or "timestamp" in record:
            return ""
        stamp = record.get("Timestamp")
        if not (type(stamp) is str and stamp.isascii() and stamp.isdigit()):
            stamp = f"{time.time_ns()}"
        elif len(stamp) > _MAX_STAMP or int(stamp) // 1_000_000_000 > _LAST_SECOND:
            # Past 4,300 digits int() raises, and the record was not written at all.
            return ""
        return f'{_LEVEL[severity]}{self._timestamp(stamp)}"'

    def metrics_members(self, start: str) -> str:
        """The members of a metrics line of its own: the lowest level Lambda keeps, so
        its metrics reach CloudWatch whatever the level of the request's line."""
        return f'{self._metrics_level}{self._timestamp(start)}"'

    def _timestamp(self, nanoseconds: str) -> str:
        """RFC 3339 UTC with microseconds, from epoch nanoseconds written as decimal text."""
        if len(nanoseconds) < 10:
            nanoseconds = nanoseconds.zfill(10)
        seconds = nanoseconds[:-9]
        cached = self._second
        if cached[0] != seconds:
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(seconds)))
            # Replaced whole: another thread may be reading the pair.
            cached = self._second = (seconds, text)
        return f"{cached[1]}.{nanoseconds[-9:-3]}Z"
