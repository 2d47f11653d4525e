"""A logger bound to one request: every record carries its trace, span and request id."""

from __future__ import annotations

import os
import sys
import time

from daloy_edge.observability._logger import (
    STATE_KEY,
    RequestLog,
    _Active,
    current_request_log,
)
from daloy_edge.observability._record import (
    SEVERITIES,
    exception_attributes,
    log_record,
    severity_name,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from daloy_edge._request import Request
    from daloy_edge.observability._trace import TraceContext
    from daloy_edge.types import JSON

__all__ = ["RequestLogger", "get_logger"]

_fallback: RequestLog | None = None


def _default_log() -> RequestLog:
    global _fallback
    if _fallback is None:
        # The operator's variables, as the app's own log reads them: built with the
        # defaults, a record from a thread or a start-up hook wrote the keys
        # ``DALOY_LOG_REDACT_KEYS`` names in clear and ignored ``DALOY_LOG_LEVEL``.
        _fallback = RequestLog.from_env(os.environ)
    return _fallback


class RequestLogger:
    """Writes OTel log records correlated with the request being served.

    Keyword arguments become ``Attributes`` after redaction:

    >>> from daloy_edge import App
    >>> app = App()
    >>> @app.get("/orders/{id}")
    ... async def order(request):
    ...     get_logger(request).info("order viewed", order_id=request.path_params["id"])
    ...     return {"ok": True}
    """

    __slots__ = ("_base", "_log", "_runtime", "_trace")

    def __init__(
        self,
        log: RequestLog,
        trace: TraceContext | None,
        base: dict[str, JSON],
        runtime: str = "",
    ) -> None:
        self._log = log
        self._trace = trace
        self._base = base
        self._runtime = runtime

    def log(self, level: str, message: str, /, **attributes: object) -> None:
        """Log ``message`` at ``level`` (``debug`` … ``fatal``) with ``attributes``."""
        severity = severity_name(level)
        if SEVERITIES[severity] >= self._log.min_severity:
            self._write(severity, message, attributes, None)

    def debug(self, message: str, /, **attributes: object) -> None:
        """Log at DEBUG."""
        self.log("DEBUG", message, **attributes)

    def info(self, message: str, /, **attributes: object) -> None:
        """Log at INFO."""
        self.log("INFO", message, **attributes)

    def warning(self, message: str, /, **attributes: object) -> None:
        """Log at WARN."""
        self.log("WARN", message, **attributes)

    def error(self, message: str, /, **attributes: object) -> None:
        """Log at ERROR."""
        self.log("ERROR", message, **attributes)

    def exception(self, message: str, /, **attributes: object) -> None:
        """Log at ERROR with the exception being handled (type, message, redacted trace)."""
        if SEVERITIES["ERROR"] >= self._log.min_severity:
            self._write("ERROR", message, attributes, sys.exc_info()[1])

    def _write(
        self,
        severity: str,
        message: str,
        attributes: dict[str, object],
        error: BaseException | None,
    ) -> None:
        redactor = self._log.redactor
        fields: dict[str, JSON] = dict(self._base)
        if attributes:
            redacted = redactor.redact(attributes)
            if isinstance(redacted, dict):
                fields.update(redacted)
        if error is not None:
            fields.update(exception_attributes(error, redactor, with_trace=True))
        # Callers without type checks pass anything, as they would to ``logging``: a
        # message that is not a string is redacted as a value (an OTel Body may be one),
        # never handed to ``scrub``, which gave a short dict back unredacted.
        body = redactor.scrub(message) if type(message) is str else redactor.redact(message)
        now = time.time_ns()
        record = log_record(
            timestamp_ns=now,
            observed_ns=now,
            severity=severity,
            body=body,
            attributes=fields,
            trace=self._trace,
            resource=self._log.resource(self._runtime),
        )
        self._log.emit(record)


def _base(request: Request) -> dict[str, JSON]:
    base: dict[str, JSON] = {
        "http.request.id": request.request_id,
        "http.request.method": request.method,
    }
    if request.route is not None:
        base["http.route"] = request.route
    return base


def get_logger(request: Request | None = None) -> RequestLogger:
    """The logger bound to ``request`` (or to the request being served in this task).

    Without ``request``, its records carry the trace, span, request id and method of
    the request current here, also in a task or ``asyncio.to_thread`` call it started
    and after it was answered; ``http.route`` only with ``request``.

    Outside any request, and without an app request log (``App(request_log=False)``),
    records go to stdout with the redaction rules and level of the ``DALOY_LOG_*``
    variables, still correlated when a trace is current.
    """
    active = request.state.get(STATE_KEY) if request is not None else None
    if request is not None and isinstance(active, _Active):
        if not isinstance(active.logger, RequestLogger):
            active.logger = RequestLogger(
                active.owner, active.trace, _base(request), request.runtime
            )
        return active.logger
    current = current_request_log()
    if request is not None:
        log = _default_log() if current is None else current.owner
        trace = None if current is None else current.trace
        return RequestLogger(log, trace, _base(request), request.runtime)
    if current is None:
        return RequestLogger(_default_log(), None, {})
    base: dict[str, JSON] = {
        "http.request.id": current.request_id,
        "http.request.method": current.method,
    }
    return RequestLogger(current.owner, current.trace, base, current.runtime)
