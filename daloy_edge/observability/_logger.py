"""The request log: one OTel-shaped JSON line per request, plus a logger for handlers."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from daloy_edge._errors import ConfigError
from daloy_edge.observability._emf import encode_request_metrics, request_metrics
from daloy_edge.observability._otel import OTelBridge
from daloy_edge.observability._record import (
    SEVERITIES,
    encode,
    error_attributes,
    http_attributes,
    log_record,
    severity_for_status,
    severity_name,
    span_record,
)
from daloy_edge.observability._redact import Redactor
from daloy_edge.observability._resource import detect_resource, is_lambda
from daloy_edge.observability._sinks import Sink, StreamSink
from daloy_edge.observability._trace import (
    TraceContext,
    extract,
    id_bytes,
    lambda_trace_header,
)
from daloy_edge.types import JSON, RandomBytes

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from daloy_edge._request import Request
    from daloy_edge._response import Response

__all__ = ["LogConfig", "RequestLog", "current_trace"]

STATE_KEY = "observability"
"""Where the per-request observation lives in ``request.state``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LogConfig:
    """How requests are logged, traced and measured.

    ``level`` filters records below it (request lines are INFO, WARN for 4xx, ERROR for
    5xx). ``stdout`` writes lines to standard output; ``sinks`` get every record too.
    ``redact_keys`` adds secret-shaped key fragments. ``log_headers`` adds the request
    and response headers, redacted. ``spans`` adds a span record per request.
    ``metrics`` writes EMF lines (None: only on AWS Lambda). ``otel`` exports spans
    through the OpenTelemetry SDK (None: when one is configured). ``random_bytes`` makes
    trace and span ids.
    """

    service_name: str | None = None
    level: str = "INFO"
    stdout: bool = True
    sinks: Sequence[Sink] = ()
    redact_keys: Sequence[str] = ()
    log_headers: bool = False
    spans: bool = False
    metrics: bool | None = None
    metrics_namespace: str = "daloy-edge"
    metrics_sinks: Sequence[Sink] | None = None
    otel: bool | None = None
    tracer_provider: object | None = None
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    random_bytes: RandomBytes = id_bytes

    def __post_init__(self) -> None:
        try:
            severity_name(self.level)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if not self.metrics_namespace:
            raise ConfigError("metrics_namespace must not be empty")

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: object) -> LogConfig:
        """Read ``DALOY_LOG_LEVEL``, ``DALOY_LOG_REDACT_KEYS`` (comma-separated),
        ``DALOY_LOG_SPANS`` and ``DALOY_LOG_HEADERS`` (``1``) from ``env``; keyword
        arguments win."""
        values: dict[str, object] = {"env": env}
        if env.get("DALOY_LOG_LEVEL"):
            values["level"] = env["DALOY_LOG_LEVEL"]
        extra = env.get("DALOY_LOG_REDACT_KEYS", "")
        if extra.strip():
            values["redact_keys"] = tuple(k.strip() for k in extra.split(",") if k.strip())
        for variable, option in (
            ("DALOY_LOG_SPANS", "spans"),
            ("DALOY_LOG_HEADERS", "log_headers"),
        ):
            if env.get(variable, "").lower() in ("1", "true", "yes"):
                values[option] = True
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


class _Active:
    """What is known about a request between its start and its end."""

    __slots__ = ("logger", "otel_span", "owner", "start_ns", "token", "trace")

    def __init__(self, owner: RequestLog, trace: TraceContext, start_ns: int) -> None:
        self.owner = owner
        self.trace = trace
        self.start_ns = start_ns
        self.otel_span: Span | None = None
        self.logger: object | None = None
        self.token: Token[_Active | None] = _active.set(self)

    def release(self) -> None:
        try:
            _active.reset(self.token)
        except (ValueError, RuntimeError):
            # The response finished in another context than the one the request
            # started in; that context ends with its task, so there is nothing to undo.
            _active.set(None)


_active: ContextVar[_Active | None] = ContextVar("daloy_edge_request", default=None)


def current_trace() -> TraceContext | None:
    """The trace of the request being served in this task or thread, if any."""
    active = _active.get()
    return active.trace if active is not None else None


def current_request_log() -> tuple[RequestLog, TraceContext] | None:
    """The request log and trace of the request being served here, if any."""
    active = _active.get()
    return (active.owner, active.trace) if active is not None else None


class RequestLog:
    """The request observer: trace context in, one OTel log line (and EMF, spans) out.

    ``App()`` installs one by default; reach it as ``app.request_log``.

    >>> from daloy_edge.observability import MemorySink
    >>> log = RequestLog(LogConfig(stdout=False, sinks=[MemorySink()]))

    Security: headers such as ``Authorization`` and ``Cookie``, secret-shaped keys and
    inline credentials are redacted before anything reaches a sink.
    """

    def __init__(self, config: LogConfig | None = None, **options: object) -> None:
        if config is None:
            config = LogConfig(**options)  # type: ignore[arg-type]
        elif options:
            raise TypeError("pass either a LogConfig or keyword options, not both")
        self.config = config
        self.redactor = Redactor(extra_keys=config.redact_keys)
        self.min_severity = SEVERITIES[severity_name(config.level)]
        self._sinks: list[Sink] = ([StreamSink()] if config.stdout else []) + list(config.sinks)
        metrics_sinks = config.metrics_sinks
        self._metric_sinks: list[Sink] = (
            list(metrics_sinks) if metrics_sinks is not None else [StreamSink()]
        )
        self._resources: dict[str, dict[str, str]] = {}
        self._on_lambda: dict[str, bool] = {}
        self._extra_resource: dict[str, str] = {}
        self._last_runtime: str | None = None
        self._resource_json = "{}"
        self._otel = OTelBridge(enabled=config.otel, provider=config.tracer_provider)

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: object) -> RequestLog:
        """A request log configured by :meth:`LogConfig.from_env`."""
        return cls(LogConfig.from_env(env, **overrides))

    @property
    def sinks(self) -> tuple[Sink, ...]:
        """Where records go, in order."""
        return tuple(self._sinks)

    def add_sink(self, sink: Sink) -> None:
        """Send every record to ``sink`` as well (a CloudWatch shipper, a test sink …)."""
        self._sinks.append(sink)

    def update_resource(self, attributes: Mapping[str, str]) -> None:
        """Add resource attributes (adapters call this with what only they know)."""
        self._extra_resource.update(attributes)
        self._resources.clear()
        self._last_runtime = None

    def resource(self, runtime: str) -> dict[str, str]:
        """The resource attributes for ``runtime`` (computed once per runtime)."""
        found = self._resources.get(runtime)
        if found is None:
            found = detect_resource(self.config.env, runtime, service_name=self.config.service_name)
            found.update(self._extra_resource)
            self._resources[runtime] = found
        if runtime != self._last_runtime:
            self._last_runtime = runtime
            self._resource_json = encode(dict(found))
        return found

    def _lambda(self, runtime: str) -> bool:
        known = self._on_lambda.get(runtime)
        if known is None:
            known = self._on_lambda[runtime] = is_lambda(self.config.env, runtime)
        return known

    def on_request(self, request: Request) -> None:
        """Bind the request's trace context before anything else runs."""
        start_ns = time.time_ns()
        lambda_trace = lambda_trace_header(request.env) if self._lambda(request.runtime) else None
        trace = extract(
            request.headers, lambda_trace=lambda_trace, random_bytes=self.config.random_bytes
        )
        span = None
        if self._otel.tracer() is not None:
            try:
                span, trace = self._otel.start(request.method, trace, start_ns)
            except Exception as exc:
                _complain(f"OpenTelemetry span start failed: {type(exc).__name__}")
        active = _Active(self, trace, start_ns)
        active.otel_span = span
        request.state[STATE_KEY] = active

    def on_response(
        self,
        request: Request,
        response: Response,
        duration_s: float,
        error: BaseException | None,
    ) -> None:
        """Write the request's log line (and span record, EMF line, SDK span)."""
        active = request.state.get(STATE_KEY)
        if not isinstance(active, _Active):
            return
        active.release()
        now_ns = time.time_ns()
        error_attrs = error_attributes(error, self.redactor) if error is not None else None
        attributes = self._attributes(request, response, duration_s, error_attrs)
        resource = self.resource(request.runtime)
        severity = severity_for_status(response.status)
        if SEVERITIES[severity] >= self.min_severity:
            route = request.route or "UNMATCHED"
            record = log_record(
                timestamp_ns=active.start_ns,
                observed_ns=now_ns,
                severity=severity,
                body=f"{request.method} {route} {response.status}",
                attributes=attributes,
                trace=active.trace,
                resource=resource,
                event_name="http.server.request",
            )
            self.emit(record)
        name = f"{request.method} {request.route}" if request.route else request.method
        failed = response.status >= 500
        if self.config.spans:
            span = span_record(name, active.trace, active.start_ns, now_ns, failed=failed)
            self.emit(self._span_log(span, attributes, active, now_ns, resource))
        if active.otel_span is not None:
            OTelBridge.end(
                active.otel_span,
                name=name,
                attributes=attributes,
                error=error_attrs,
                failed=failed,
                end_ns=now_ns,
            )
        if self._metrics_on(request):
            self._emit_metrics(request, response, duration_s, active, resource)

    def emit(self, record: dict[str, JSON]) -> None:
        """Encode ``record`` once and hand it to every sink (a failing sink is skipped)."""
        resource = record.get("Resource")
        last = self._last_runtime
        if (
            isinstance(resource, dict)
            and last is not None
            and resource is self._resources.get(last)
        ):
            # The resource is the same object on every record: splice its cached encoding
            # in instead of serialising it again per request.
            del record["Resource"]
            head = encode(record)
            record["Resource"] = resource
            line = f'{head[:-1]},"Resource":{self._resource_json}}}'
        else:
            line = encode(record)
        for sink in self._sinks:
            _safe_emit(sink, record, line)

    def _attributes(
        self,
        request: Request,
        response: Response,
        duration_s: float,
        error_attrs: dict[str, JSON] | None,
    ) -> dict[str, JSON]:
        attributes = http_attributes(request, response, duration_s, self.redactor)
        extra = request.state.get("log.attributes")
        if isinstance(extra, Mapping):
            redacted = self.redactor.redact(dict(extra))
            if isinstance(redacted, dict):
                attributes.update(redacted)
        if error_attrs is not None:
            attributes.update(error_attrs)
        if self.config.log_headers:
            attributes["http.request.header"] = self.redactor.headers(request.headers)
            attributes["http.response.header"] = self.redactor.headers(response.headers)
        return attributes

    @staticmethod
    def _span_log(
        span: dict[str, JSON],
        attributes: dict[str, JSON],
        active: _Active,
        end_ns: int,
        resource: dict[str, str],
    ) -> dict[str, JSON]:
        return log_record(
            timestamp_ns=active.start_ns,
            observed_ns=end_ns,
            severity="INFO",
            body=span,
            attributes=attributes,
            trace=active.trace,
            resource=resource,
            event_name="daloy.span",
        )

    def _metrics_on(self, request: Request) -> bool:
        enabled = self.config.metrics
        if enabled is None:
            return self._lambda(request.runtime)
        return enabled

    def _emit_metrics(
        self,
        request: Request,
        response: Response,
        duration_s: float,
        active: _Active,
        resource: dict[str, str],
    ) -> None:
        document = request_metrics(
            request,
            response,
            duration_s,
            namespace=self.config.metrics_namespace,
            service=resource["service.name"],
            timestamp_ms=active.start_ns // 1_000_000,
            trace_id=active.trace.trace_id,
        )
        line = encode_request_metrics(document, self.config.metrics_namespace)
        for sink in self._metric_sinks:
            _safe_emit(sink, document, line)


def _complain(message: str) -> None:
    # stderr is the last place left to report a logging failure; the record itself is
    # never included (it may be what failed).
    with contextlib.suppress(OSError):
        os.write(2, f"daloy_edge: {message}\n".encode())


def _safe_emit(sink: Sink, record: Mapping[str, object], line: str) -> None:
    try:
        sink.emit(record, line)
    except Exception as exc:
        # A broken sink must not break the response or the other sinks.
        _complain(f"log sink {type(sink).__name__} failed: {type(exc).__name__}")
