"""The request log: one OTel-shaped JSON line per request, plus a logger for handlers."""

from __future__ import annotations

import sys
import time
from _collections_abc import Mapping  # collections.abc would import collections
from _contextvars import ContextVar  # contextvars only re-exports these

from daloy_edge.observability._config import OTEL_SDK_MODULE, LogConfig
from daloy_edge.observability._line import (
    KNOWN_METHODS,
    http_attributes_json,
    open_record_line,
    request_shape,
    with_attributes,
)
from daloy_edge.observability._record import (
    MAX_LINE,
    SEVERITIES,
    encode,
    error_attributes,
    log_record,
    severity_name,
    span_record,
)
from daloy_edge.observability._redact import Redactor
from daloy_edge.observability._resource import (
    Runtime,
    detect_resource,
    is_gcp,
    is_lambda,
    is_workers,
)
from daloy_edge.observability._sinks import (
    StreamSink,
    complain,
    emit_safely,
    failure,
    parse_line,
    write_console,
    write_safely,
)
from daloy_edge.observability._trace import (
    TraceContext,
    fresh_ids,
    inbound_ids,
    lambda_trace_header,
    xray_ids,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.trace import Span

    from daloy_edge._request import Request
    from daloy_edge._response import Response
    from daloy_edge.observability._line import RequestShape
    from daloy_edge.observability._otel import OTelBridge
    from daloy_edge.observability._sinks import Sink
    from daloy_edge.observability._trace import TraceIds
    from daloy_edge.types import JSON

__all__ = ["LogConfig", "RequestLog", "current_trace"]

STATE_KEY = "observability"
"""Where the per-request observation lives in ``request.state``."""

_REQUEST_EVENT_JSON = '"EventName":"http.server.request"'
_FLAGS_HEX = {flags: f"{flags:02x}" for flags in range(256)}
"""Trace flags as the record writes them (the SDK's may use any of the eight bits)."""
_HEAD_BOUND = MAX_LINE - 8192
"""Longest request or span record before its closing brace: the rest of
:data:`MAX_LINE` is room for the EMF members (at most about 6 KB: the directive and
two dimension values of 1,024 printable characters, escaped)."""


class _Active:
    """What is known about a request between its start and its end."""

    __slots__ = (
        "_trace",
        "ids",
        "logger",
        "method",
        "otel_span",
        "otel_token",
        "owner",
        "request_id",
        "runtime",
        "start_ns",
        "token",
    )

    def __init__(
        self,
        owner: RequestLog,
        request: Request,
        ids: TraceIds,
        start_ns: int,
        trace: TraceContext | None,
    ) -> None:
        self.owner = owner
        # What ``get_logger()`` without the request writes: a helper or a task that
        # logs this way is found by the request id the client was given. Copied, not
        # the request itself, which holds this in its state.
        self.request_id = request.request_id
        self.method = request.method
        self.runtime = request.runtime
        self.ids = ids
        self._trace = trace
        self.start_ns = start_ns
        self.otel_span: Span | None = None
        self.otel_token: Token[Context] | None = None
        self.logger: object | None = None
        self.token: Token[_Active | None] = _active.set(self)

    @property
    def trace(self) -> TraceContext:
        """The request's trace context, built when first asked for: most requests only
        write its ids into their line."""
        trace = self._trace
        if trace is None:
            trace = self._trace = TraceContext(*self.ids)
        return trace


_active: ContextVar[_Active | None] = ContextVar("daloy_edge_request", default=None)


def current_trace() -> TraceContext | None:
    """The trace of the request being served in this task or thread, if any."""
    active = _active.get()
    return active.trace if active is not None else None


def current_request_log() -> _Active | None:
    """What is known of the request being served here (its log, trace and id), if any."""
    return _active.get()


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
        self._stdout = StreamSink() if config.stdout else None
        self._sinks: list[Sink] = ([self._stdout] if self._stdout else []) + list(config.sinks)
        self._metric_sinks: list[Sink] = (
            list(config.metrics_sinks)
            if config.metrics_sinks is not None
            else [self._stdout or StreamSink()]
        )
        self._runtimes: dict[str, Runtime] = {}
        self._shapes: dict[tuple[object, ...], RequestShape] = {}
        self._extra_resource: dict[str, str] = {}
        # The bridge module loads once the application has imported the SDK: most never do.
        self._otel: OTelBridge | None = None
        self._otel_wanted = config.otel is not False

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
        self._runtimes = {}

    def resource(self, runtime: str) -> dict[str, str]:
        """The resource attributes for ``runtime`` (computed once per runtime)."""
        return self._runtime(runtime).resource

    def _runtime(self, runtime: str) -> Runtime:
        found = self._runtimes.get(runtime)
        if found is None:
            env = self.config.env
            resource = detect_resource(env, runtime, service_name=self.config.service_name)
            resource.update(self._extra_resource)
            found = Runtime(
                resource,
                is_lambda(env, runtime),
                self.config,
                on_gcp=is_gcp(env, runtime),
                on_workers=is_workers(runtime),
            )
            # Replaced, not mutated: ``emit`` may be iterating the old one in another thread.
            self._runtimes = {**self._runtimes, runtime: found}
        return found

    def on_request(self, request: Request) -> None:
        """Bind the request's trace context before anything else runs."""
        start_ns = time.time_ns()
        random_bytes = self.config.random_bytes
        ids = inbound_ids(request.headers, random_bytes)
        if ids is None:
            runtime = self._runtime(request.runtime)
            if runtime.on_lambda:
                ids = xray_ids(lambda_trace_header(request.env), random_bytes)
            elif runtime.gcp is not None:
                ids = runtime.gcp.trace_ids(
                    request.headers.get_joined("x-cloud-trace-context"), random_bytes
                )
        if ids is None:
            ids = fresh_ids(random_bytes, start_ns)
        span = trace = otel_token = None
        otel = self._otel
        if otel is None and self._otel_wanted and OTEL_SDK_MODULE in sys.modules:
            otel = self._otel_bridge()
        if otel is not None and otel.tracer() is not None:
            try:
                span, trace, otel_token = otel.start(
                    _span_method(request.method), TraceContext(*ids), start_ns
                )
            except Exception as exc:
                complain(f"OpenTelemetry span start failed: {type(exc).__name__}")
            else:
                ids = (
                    trace.trace_id,
                    trace.span_id,
                    trace.parent_span_id,
                    trace.flags,
                    trace.tracestate,
                )
        active = _Active(self, request, ids, start_ns, trace)
        active.otel_span = span
        active.otel_token = otel_token
        request.state[STATE_KEY] = active

    def _otel_bridge(self) -> OTelBridge:
        from daloy_edge.observability._otel import OTelBridge

        bridge = self._otel = OTelBridge(
            enabled=self.config.otel, provider=self.config.tracer_provider
        )
        return bridge

    def on_response(
        self,
        request: Request,
        response: Response,
        duration_s: float,
        error: BaseException | None,
    ) -> None:
        """Write the request's log line (with EMF metrics on Lambda), span record, SDK span."""
        state = request.state
        active = state.get(STATE_KEY)
        if not isinstance(active, _Active):
            return
        try:
            _active.reset(active.token)
        except (ValueError, RuntimeError):
            # The response finished in another context than the one the request
            # started in; that context ends with its task, so there is nothing to undo.
            _active.set(None)
        else:
            if active.otel_token is not None:
                from daloy_edge.observability._otel import OTelBridge

                OTelBridge.deactivate(active.otel_token)
        if response.stream is not None:
            response.stream = _WhileStreamed(active, response.stream, request, response.status)
        now_ns = time.time_ns()
        runtime = self._runtimes.get(request.runtime) or self._runtime(request.runtime)
        error_attrs = (
            None if error is None else error_attributes(error, self.redactor, response.status)
        )
        shape = request_shape(self._shapes, request, response.status, self.redactor)
        attributes = http_attributes_json(request, response, duration_s, self.redactor, shape)
        extra = None
        if (
            error_attrs is not None
            or self.config.log_headers
            or ("log.attributes" in state and state["log.attributes"] is not None)
        ):
            extra = self._extra(request, response, error_attrs)
            attributes = with_attributes(attributes, extra)
        metrics = runtime.metrics
        folded = False
        if shape.level >= self.min_severity:
            folded = metrics is not None and shape.level >= runtime.fold_from
            self._write_request(
                request,
                response,
                duration_s,
                active,
                now_ns,
                shape=shape,
                attributes=attributes,
                runtime=runtime,
                folded=folded,
                extra=extra,
            )
        if metrics is not None and not folded:
            # Metrics do not depend on the log level: without a stdout request line to
            # ride on, they are a line of their own.
            timestamp_ms = active.start_ns // 1_000_000
            line = metrics.line(
                request, response, duration_s, timestamp_ms, active.ids[0], shape=shape
            )
            platform = runtime.platform
            if platform is not None:
                line = f"{line[:-1]}{platform.metrics_members(str(active.start_ns))}}}"
            self._deliver_metrics(line)
        if self.config.spans or active.otel_span is not None:
            # Its start plus the duration the app measured on its monotonic clock: read
            # from the wall clock, a span the clock was stepped back during ended before
            # it began.
            self._finish_span(
                request,
                response,
                attributes_json=attributes,
                error_attrs=error_attrs,
                active=active,
                end_ns=active.start_ns + max(0, round(duration_s * 1_000_000_000)),
            )

    def _write_request(
        self,
        request: Request,
        response: Response,
        duration_s: float,
        active: _Active,
        end_ns: int,
        *,
        shape: RequestShape,
        attributes: str,
        runtime: Runtime,
        folded: bool,
        extra: dict[str, JSON] | None,
    ) -> None:
        """The request line: :func:`open_record_line`'s text, with the EMF members when
        ``folded`` and the platform's (Cloud Logging's, Lambda's level), from the
        request's shape and its trace ids (no ``TraceContext``). ``extra`` holds the
        attributes beyond the HTTP ones (the error's among them), None without any."""
        start_ns = active.start_ns
        start = f"{start_ns}"
        members = None
        metrics = runtime.metrics
        if folded and metrics is not None:
            # The epoch milliseconds are the nanoseconds' digits without the last six.
            ms = start[:-6] if start_ns >= 1_000_000 else f"{start_ns // 1_000_000}"
            members = metrics.members(request, response, duration_s, ms, shape)
        ids = active.ids
        flags = _FLAGS_HEX.get(ids[3]) or f"{ids[3]:02x}"
        # Trace and span ids are lowercase hex (validated, generated, or formatted from
        # the SDK's integers), so they need no JSON escaping.
        head = (
            f'{{"Timestamp":"{start}","ObservedTimestamp":"{end_ns}",{shape.body},'
            f'{_REQUEST_EVENT_JSON},"Attributes":{attributes},"TraceId":"{ids[0]}",'
            f'"SpanId":"{ids[1]}","TraceFlags":"{flags}","Resource":{runtime.resource_json}'
        )
        platform = runtime.platform
        if platform is not None:
            stack_trace = None if extra is None else extra.get("exception.stacktrace")
            head += platform.request_members(shape, start, ids, stack_trace)
        if extra is not None and len(head) > _HEAD_BOUND:
            # Without extra attributes every member has a limit that keeps the line far
            # within the bound (1,024 characters, 12 KB escaped, for the longest): only
            # an error, headers or a handler's attributes can take it past.
            head = _fit_head(head)
        sinks = self._sinks
        stdout = self._stdout
        level = shape.level
        console = level if level >= runtime.console_from else None
        if len(sinks) == 1 and stdout is not None and sinks[0] is stdout:
            if console is not None and write_console(
                console, f"{head}}}" if members is None else f"{head},{members}}}"
            ):
                return
            # The default: one write, of the whole line with its newline.
            try:
                stdout.write_text(f"{head}}}\n" if members is None else f"{head},{members}}}\n")
            except Exception as exc:
                complain(f"log sink StreamSink failed: {failure(exc)}")
            return
        self._deliver(head, members, console)

    def _deliver(self, head: str, metrics: str | None, console: int | None = None) -> None:
        """Close the line and write it to every sink; only the stdout line carries EMF
        members (other sinks get the plain record, so metrics are never counted twice).
        With a ``console`` severity, the stdout line goes to the platform console."""
        line: str | None = None
        record: dict[str, JSON] | None = None
        for sink in self._sinks:
            if sink is self._stdout and metrics is not None:
                stdout_line = f"{head},{metrics}}}"
                if console is None or not write_console(console, stdout_line):
                    write_safely(self._stdout, stdout_line)
                continue
            if line is None:
                line = head + "}"
            if sink is self._stdout and console is not None and write_console(console, line):
                continue
            if type(sink) is StreamSink:
                write_safely(sink, line)
                continue
            if record is None:
                # Parsed back from the line, so a sink's record is exactly what was written.
                record = parse_line(line)
            emit_safely(sink, record, line)

    def _deliver_metrics(self, line: str) -> None:
        """Write a metrics line of its own to the metric sinks."""
        record: dict[str, JSON] | None = None
        for sink in self._metric_sinks:
            if type(sink) is StreamSink:
                write_safely(sink, line)
                continue
            if record is None:
                record = parse_line(line)
            emit_safely(sink, record, line)

    def emit(self, record: dict[str, JSON]) -> None:
        """Encode ``record`` once and hand it to every sink (a failing sink is skipped)."""
        resource = record.get("Resource")
        known = next((r for r in self._runtimes.values() if r.resource is resource), None)
        if known is not None:
            # The resource is the same object on every record: splice its cached encoding
            # in instead of serialising it again per record.
            del record["Resource"]
            head = encode(record)
            record["Resource"] = resource
            platform = known.platform
            members = "" if platform is None else platform.record_members(record)
            line = f'{head[:-1]},"Resource":{known.resource_json}{members}}}'
        else:
            line = encode(record)
        if len(line) > MAX_LINE:
            from daloy_edge.observability._fit import fit_line

            line = fit_line(line)
            record = parse_line(line)  # what the sinks get is what was written
        severity = record.get("SeverityNumber")
        console = (
            severity
            if known is not None and type(severity) is int and severity >= known.console_from
            else None
        )
        for sink in self._sinks:
            if sink is self._stdout and console is not None and write_console(console, line):
                continue
            emit_safely(sink, record, line)

    def _stream_failed(
        self,
        request: Request,
        status: int,
        active: _Active,
        error: BaseException,
        *,
        closing: bool = False,
    ) -> None:
        """Write an ERROR record for a streamed body that failed once its head (and the
        request line, with its status) had gone: the client got the body cut short; or,
        ``closing``, one that failed to close (once sent whole, or once its client left)."""
        if SEVERITIES["ERROR"] < self.min_severity:
            return
        attributes: dict[str, JSON] = {
            "http.request.id": request.request_id,
            "http.request.method": request.method,
            "http.response.status_code": status,
        }
        if request.route is not None:
            attributes["http.route"] = request.route
        # Unexpected whatever the status sent: the type, and a scrubbed trace to fix it.
        attributes.update(error_attributes(error, self.redactor, 500))
        now = time.time_ns()
        record = log_record(
            timestamp_ns=now,
            observed_ns=now,
            severity="ERROR",
            body=_CLOSE_FAILED if closing else _CUT_SHORT,
            event_name="daloy.response.aborted",
            attributes=attributes,
            trace=active.trace,
            resource=self.resource(request.runtime),
        )
        self.emit(record)

    def _extra(
        self, request: Request, response: Response, error_attrs: dict[str, JSON] | None
    ) -> dict[str, JSON]:
        """Attributes beyond the HTTP ones: the adapter's or handler's
        ``request.state["log.attributes"]``, the error, and the headers when asked for."""
        extra: dict[str, JSON] = {}
        given = request.state.get("log.attributes")
        if isinstance(given, Mapping):
            redacted = self.redactor.redact(dict(given))
            if isinstance(redacted, dict):
                extra.update(redacted)
        if error_attrs is not None:
            extra.update(error_attrs)
        if self.config.log_headers:
            extra["http.request.header"] = self.redactor.headers(request.headers)
            extra["http.response.header"] = self.redactor.headers(response.headers)
        return extra

    def _finish_span(
        self,
        request: Request,
        response: Response,
        *,
        attributes_json: str,
        error_attrs: dict[str, JSON] | None,
        active: _Active,
        end_ns: int,
    ) -> None:
        method = request.method
        # A route serves only the methods the app chose; any other the client chose, and a
        # span name per invented method would let a scanner create names without bound.
        name = f"{method} {request.route}" if request.route else _span_method(method)
        failed = response.status >= 500
        if self.config.spans:
            runtime = self._runtime(request.runtime)
            span = span_record(name, active.trace, active.start_ns, end_ns, failed=failed)
            head = open_record_line(
                timestamp_ns=active.start_ns,
                observed_ns=end_ns,
                severity="INFO",
                body_json=encode(span),
                event_name="daloy.span",
                attributes_json=attributes_json,
                trace=active.trace,
                resource_json=runtime.resource_json,
            )
            if runtime.platform is not None:
                head += runtime.platform.record_members(
                    {
                        "SeverityText": "INFO",
                        "Timestamp": str(active.start_ns),
                        "TraceFlags": f"{active.trace.flags:02x}",
                        **span,
                    }
                )
            if len(head) > _HEAD_BOUND:
                head = _fit_head(head)
            self._deliver(head, None)
        if active.otel_span is not None:
            from daloy_edge.observability._otel import OTelBridge

            OTelBridge.end(
                active.otel_span,
                name=name,
                attributes=parse_line(attributes_json),
                error=error_attrs,
                failed=failed,
                end_ns=end_ns,
            )


class _WhileStreamed:
    """``stream`` with its request's trace, and SDK span, current while each chunk is made.

    A streamed body is made after its request's line was written, by the handler's code:
    the spans it starts, the calls it makes and the lines it logs belong to that request,
    not to a new trace each. One that fails is logged as an ERROR record of that request
    (the line said ``status``), its error redacted as a handler's is.

    Not a generator: closed before its first chunk (a WebSocket handshake's answer is sent
    without its body), a generator runs no code at all, and the route's stream was never
    closed, whatever it held.
    """

    __slots__ = ("_active", "_chunks", "_closed", "_request", "_status", "_stream")

    def __init__(
        self, active: _Active, stream: AsyncIterable[bytes | str], request: Request, status: int
    ) -> None:
        self._active = active
        self._stream = stream
        self._chunks: AsyncIterator[bytes | str] | None = None
        self._request = request
        self._status = status
        self._closed = False

    def __aiter__(self) -> _WhileStreamed:
        return self

    async def __anext__(self) -> bytes | str:
        if self._closed:
            raise StopAsyncIteration
        active = self._active
        span = active.otel_span
        token = _active.set(active)
        otel_token = None
        if span is not None:
            from daloy_edge.observability._otel import OTelBridge

            otel_token = OTelBridge.activate(span)
        try:
            chunks = self._chunks
            if chunks is None:
                chunks = self._chunks = aiter(self._stream)
            return await anext(chunks)
        except BaseException as exc:
            failure = exc
        finally:
            if otel_token is not None:
                OTelBridge.deactivate(otel_token)
            _active.reset(token)
        if not isinstance(failure, StopAsyncIteration) and not _stopped(failure):
            active.owner._stream_failed(self._request, self._status, active, failure)
        await self.aclose()
        raise failure

    async def aclose(self) -> None:
        """Close the route's stream (once)."""
        if self._closed:
            return
        self._closed = True
        chunks = self._chunks
        close = getattr(self._stream if chunks is None else chunks, "aclose", None)
        if close is not None:
            try:
                await close()
            except Exception as exc:
                # A stream whose clean-up fails (a cursor closed on a broken connection
                # as the client leaves) is the request's failure, logged as one. Raised
                # on, it reached the server, which printed its text unredacted.
                active = self._active
                active.owner._stream_failed(self._request, self._status, active, exc, closing=True)


_CUT_SHORT = "the response body failed after it began; the client got it cut short"
_CLOSE_FAILED = "the response body failed to close"


def _stopped(exc: BaseException) -> bool:
    """True for the closing or cancelling of a stream (its client left, the server
    stops), which is no failure of its own."""
    if isinstance(exc, GeneratorExit):
        return True
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


def _fit_head(head: str) -> str:
    """A request or span record past :data:`_HEAD_BOUND` (still open), shortened to it:
    a handler's error and attributes, escaped, can take twelve bytes a character."""
    from daloy_edge.observability._fit import fit_head  # only such a line pays for it

    return fit_head(head, _HEAD_BOUND)


def _span_method(method: str) -> str:
    """The method a span without a route is named by: ``HTTP`` for unknown ones."""
    return method if method in KNOWN_METHODS else "HTTP"
