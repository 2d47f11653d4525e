"""Export through the real OpenTelemetry SDK, only when the application configured it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import SpanKind, StatusCode, TraceState

from daloy_edge import App, Request, Response
from daloy_edge.observability import (
    LogConfig,
    MemorySink,
    RequestLog,
    current_trace,
    outbound_headers,
)
from daloy_edge.testing import TestClient

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


def make_app(**options: object) -> tuple[App, MemorySink, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sink = MemorySink()
    config = LogConfig(stdout=False, sinks=[sink], env={}, tracer_provider=provider, **options)
    app = App(env={}, request_log=RequestLog(config))

    @app.get("/items/{item_id}")
    async def item(request: Request) -> Response:
        return Response.json({})

    @app.get("/boom")
    async def boom(request: Request) -> Response:
        raise RuntimeError("failed with secret=sk_live_0123456789")

    @app.get("/stream")
    async def stream(request: Request) -> Response:
        async def chunks():
            yield b"["
            with provider.get_tracer("handler").start_as_current_span("row"):
                await asyncio.sleep(0)
            yield b"]"

        return Response(stream=chunks())

    @app.get("/child")
    async def child(request: Request) -> Response:
        with provider.get_tracer("handler").start_as_current_span("db"):
            await asyncio.sleep(0)
        current = trace.get_current_span().get_span_context()
        return Response.json({"current": f"{current.span_id:016x}"})

    return app, sink, exporter


def test_server_span_is_exported_with_the_log_record_ids():
    app, sink, exporter = make_app()
    TestClient(app).get("/items/9", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
    (span,) = exporter.get_finished_spans()
    record = sink.records[0]
    assert f"{span.context.trace_id:032x}" == record["TraceId"] == TRACE
    assert f"{span.context.span_id:016x}" == record["SpanId"]
    assert f"{span.parent.span_id:016x}" == PARENT
    assert span.kind is SpanKind.SERVER
    assert span.name == "GET /items/{item_id}"
    assert span.attributes["http.route"] == "/items/{item_id}"
    assert span.attributes["http.response.status_code"] == 200


def test_failed_request_span_has_error_status_and_scrubbed_exception_event():
    app, _, exporter = make_app()
    TestClient(app).get("/boom")
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    (event,) = span.events
    assert event.name == "exception"
    assert "sk_live_0123456789" not in str(dict(event.attributes))


def test_call_inside_a_client_span_names_that_span_as_the_downstream_parent():
    """A handler that wraps a call in its own client span: the downstream service's span
    must be that span's child, where outbound_headers named the request's span and left
    the downstream spans beside the client span instead of under it."""
    upstream, _, exporter = make_app()
    downstream, _, downstream_spans = make_app()
    tracer = upstream.request_log.config.tracer_provider.get_tracer("handler")

    @upstream.get("/checkout")
    async def checkout(request: Request) -> Response:
        with tracer.start_as_current_span("charge", kind=SpanKind.CLIENT):
            sent = outbound_headers()
            await TestClient(downstream).arequest("GET", "/items/1", headers=sent)
        return Response.json(sent)

    sent = (
        TestClient(upstream)
        .get("/checkout", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
        .json()
    )
    charge, server = exporter.get_finished_spans()
    (remote,) = downstream_spans.get_finished_spans()
    assert charge.parent.span_id == server.context.span_id
    assert sent["traceparent"] == f"00-{TRACE}-{charge.context.span_id:016x}-01"
    assert f";Parent={charge.context.span_id:016x};" in sent["x-amzn-trace-id"]
    assert remote.parent.span_id == charge.context.span_id
    assert remote.context.trace_id == server.context.trace_id


def test_call_outside_any_handler_span_names_the_request_span():
    app, _, exporter = make_app()

    @app.get("/plain-call")
    async def plain_call(request: Request) -> Response:
        return Response.json(outbound_headers())

    sent = TestClient(app).get("/plain-call").json()
    (server,) = exporter.get_finished_spans()
    assert sent["traceparent"].split("-")[2] == f"{server.context.span_id:016x}"


def test_a_caller_that_did_not_sample_gets_no_sdk_span_and_its_flag_passed_on():
    """traceparent flags 00: nothing exported, yet the line is written and calls carry 00."""
    app, sink, exporter = make_app()

    @app.get("/unsampled")
    async def unsampled(request: Request) -> Response:
        return Response.json(outbound_headers())

    sent = (
        TestClient(app).get("/unsampled", headers={"traceparent": f"00-{TRACE}-{PARENT}-00"}).json()
    )
    assert exporter.get_finished_spans() == ()
    (line,) = sink.records
    assert (line["TraceId"], line["TraceFlags"]) == (TRACE, "00")
    assert sent["traceparent"] == f"00-{TRACE}-{line['SpanId']}-00"
    assert sent["x-amzn-trace-id"].endswith(";Sampled=0")


def test_a_trace_header_without_a_parent_span_starts_a_new_sdk_trace():
    """The limit the observability page states: the SDK continues a trace only from a
    parent span, so an X-Ray root alone (as an ALB sends it) is not kept."""
    app, sink, exporter = make_app()
    root = "67891233abcdef012345678912345678"
    TestClient(app).get("/items/1", headers={"x-amzn-trace-id": f"Root=1-{root[:8]}-{root[8:]}"})
    (server,) = exporter.get_finished_spans()
    assert server.parent is None
    assert sink.records[0]["TraceId"] == f"{server.context.trace_id:032x}" != root


def test_baggage_is_not_passed_on():
    app, _, _ = make_app()

    @app.get("/bagged")
    async def bagged(request: Request) -> Response:
        return Response.json(outbound_headers())

    sent = (
        TestClient(app)
        .get("/bagged", headers={"traceparent": f"00-{TRACE}-{PARENT}-01", "baggage": "user=ada"})
        .json()
    )
    assert "baggage" not in sent


class ThresholdSampler(Sampler):
    """Samples everything and writes its threshold into the trace state, as OpenTelemetry's
    consistent probability samplers write "ot=th:..."."""

    def should_sample(
        self,
        parent_context,
        trace_id,
        name,
        kind=None,
        attributes=None,
        links=None,
        trace_state=None,
    ):
        state = (trace_state or TraceState()).add("ot", "th:0")
        return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, state)

    def get_description(self) -> str:
        return "ThresholdSampler"


def test_calls_carry_the_trace_state_the_sdk_sampler_wrote():
    """What the SDK's propagator would send: the span's trace state, with the sampler's
    member, where the calls carried the inbound tracestate alone and the services behind
    lost the threshold that keeps their sampling consistent."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ThresholdSampler())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sink = MemorySink()
    config = LogConfig(stdout=False, sinks=[sink], env={}, tracer_provider=provider, spans=True)
    app = App(env={}, request_log=RequestLog(config))

    @app.get("/sampled")
    async def sampled(request: Request) -> Response:
        with provider.get_tracer("handler").start_as_current_span("charge"):
            inner = outbound_headers()
        return Response.json({"server": outbound_headers(), "client": inner})

    sent = (
        TestClient(app)
        .get(
            "/sampled",
            headers={"traceparent": f"00-{TRACE}-{PARENT}-01", "tracestate": "vendor=1"},
        )
        .json()
    )
    charge, server = exporter.get_finished_spans()
    assert sent["server"]["tracestate"] == server.context.trace_state.to_header()
    assert sent["client"]["tracestate"] == charge.context.trace_state.to_header()
    assert "ot=th:0" in sent["server"]["tracestate"].split(",")
    span_record = next(r for r in sink.records if r.get("EventName") == "daloy.span")
    assert span_record["Body"]["TraceState"] == server.context.trace_state.to_header()


def test_refused_request_span_records_no_exception_event():
    app, _, exporter = make_app()
    TestClient(app).get("/no-such-route")
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == 404
    assert span.status.status_code is StatusCode.UNSET
    assert span.events == ()


def test_span_the_handler_starts_is_a_child_of_the_server_span():
    app, _, exporter = make_app()
    TestClient(app).get("/child", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
    db, server = exporter.get_finished_spans()
    assert f"{db.context.trace_id:032x}" == TRACE
    assert db.parent.span_id == server.context.span_id


def test_span_a_streamed_body_starts_is_a_child_of_the_request_span():
    app, _, exporter = make_app()
    TestClient(app).get("/stream", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
    server, row = exporter.get_finished_spans()
    assert f"{row.context.trace_id:032x}" == TRACE
    assert row.parent.span_id == server.context.span_id
    assert trace.get_current_span().get_span_context().is_valid is False


def test_handler_sees_its_own_request_span_as_current_under_concurrency():
    app, sink, _ = make_app()
    client = TestClient(app)

    async def both() -> list[object]:
        return await asyncio.gather(*(client.arequest("GET", "/child") for _ in range(2)))

    answers = [response.json()["current"] for response in asyncio.run(both())]
    assert sorted(answers) == sorted(record["SpanId"] for record in sink.records)
    assert trace.get_current_span().get_span_context().is_valid is False


def test_span_current_when_the_request_starts_is_its_parent():
    app, sink, exporter = make_app()
    with TracerProvider().get_tracer("lambda").start_as_current_span("invocation") as outer:
        TestClient(app).get("/items/9")
    (server,) = exporter.get_finished_spans()
    assert server.parent.span_id == outer.get_span_context().span_id
    assert server.context.trace_id == outer.get_span_context().trace_id
    assert sink.records[0]["TraceId"] == f"{server.context.trace_id:032x}"


def test_valid_traceparent_is_the_parent_even_under_a_current_span():
    app, _, exporter = make_app()
    with TracerProvider().get_tracer("lambda").start_as_current_span("invocation"):
        TestClient(app).get("/items/9", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
    (server,) = exporter.get_finished_spans()
    assert f"{server.parent.span_id:016x}" == PARENT


def test_invented_method_names_the_span_http_and_its_method_other():
    app, _, exporter = make_app()
    TestClient(app).request("XQZWV", "/items/9")
    (span,) = exporter.get_finished_spans()
    assert span.name == "HTTP"
    assert span.attributes["http.request.method"] == "_OTHER"
    assert span.attributes["http.request.method_original"] == "XQZWV"


def test_otel_false_exports_nothing():
    app, _, exporter = make_app(otel=False)
    TestClient(app).get("/items/1")
    assert exporter.get_finished_spans() == ()


def make_disabled_app(monkeypatch) -> tuple[App, MemorySink, dict[str, str]]:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    sink = MemorySink()
    config = LogConfig(stdout=False, sinks=[sink], env={}, tracer_provider=TracerProvider())
    app = App(env={}, request_log=RequestLog(config))
    outbound: dict[str, str] = {}

    @app.get("/out")
    async def out(request: Request) -> Response:
        outbound.update(current_trace().outbound_headers())
        return Response.json({})

    return app, sink, outbound


def test_disabled_sdk_leaves_a_new_trace_its_own_ids(monkeypatch):
    app, sink, outbound = make_disabled_app(monkeypatch)
    TestClient(app).get("/out")
    record = sink.records[0]
    assert record["TraceId"] != "0" * 32 and record["SpanId"] != "0" * 16
    assert outbound["traceparent"] == f"00-{record['TraceId']}-{record['SpanId']}-01"


def test_disabled_sdk_gives_a_continued_trace_a_new_span_id(monkeypatch):
    app, sink, _ = make_disabled_app(monkeypatch)
    TestClient(app).get("/out", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
    record = sink.records[0]
    assert record["TraceId"] == TRACE
    assert record["SpanId"] not in (PARENT, "0" * 16)


def test_disabled_sdk_under_a_current_span_gives_the_request_a_span_id_of_its_own(monkeypatch):
    outer_tracer = TracerProvider().get_tracer("lambda")
    app, sink, _ = make_disabled_app(monkeypatch)
    with outer_tracer.start_as_current_span("invocation") as outer:
        TestClient(app).get("/out")
    assert sink.records[0]["SpanId"] != f"{outer.get_span_context().span_id:016x}"


def run_python(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


def test_globally_configured_sdk_is_detected():
    out = run_python(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        from daloy_edge import App
        from daloy_edge.testing import TestClient
        app = App(env={}, request_log=True)
        app.add_route("/x", lambda request: {}, ["GET"])
        TestClient(app).get("/x")
        print(len(exporter.get_finished_spans()))
        """
    )
    assert out == "1"


def test_opentelemetry_is_not_imported_when_unused():
    out = run_python(
        """
        import sys
        from daloy_edge import App
        from daloy_edge.testing import TestClient
        app = App(env={})
        app.add_route("/x", lambda request: {}, ["GET"])
        TestClient(app).get("/x")
        print(any(name.startswith("opentelemetry") for name in sys.modules))
        """
    )
    assert out == "False"
