"""W3C trace context and AWS X-Ray bridging: parsing, validation, propagation."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from daloy_edge import App, Headers, Request, Response
from daloy_edge.observability import (
    LogConfig,
    MemorySink,
    RequestLog,
    TracePropagatingTransport,
    current_trace,
    extract,
    format_traceparent,
    format_xray,
    outbound_headers,
    parse_traceparent,
    parse_tracestate,
    parse_xray,
)
from daloy_edge.testing import TestClient
from daloy_edge.transport import HttpxTransport
from tests.support.calls import calls_made

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{PARENT}-01"


def test_valid_traceparent_parses():
    assert parse_traceparent(VALID) == (TRACE, PARENT, 1)


@pytest.mark.parametrize(
    "value",
    [
        f"00-{TRACE.upper()}-{PARENT}-01",
        f"00-{'0' * 32}-{PARENT}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"ff-{TRACE}-{PARENT}-01",
        f"00-{TRACE}-{PARENT}-01-extra",
        f"00-{TRACE}-{PARENT}-0",
        f"00_{TRACE}_{PARENT}_01",
        f"0g-{TRACE}-{PARENT}-01",
        f"00-{TRACE[:-1]}z-{PARENT}-01",
        "",
        "00-" + "a" * 600,
    ],
    ids=[
        "uppercase",
        "zero_trace",
        "zero_parent",
        "version_ff",
        "v00_trailing",
        "short_flags",
        "wrong_separator",
        "bad_version",
        "non_hex",
        "empty",
        "oversized",
    ],
)
def test_invalid_traceparent_is_refused(value):
    assert parse_traceparent(value) is None


def test_future_version_with_extra_fields_is_accepted():
    assert parse_traceparent(f"01-{TRACE}-{PARENT}-01-what-ever") == (TRACE, PARENT, 1)


def test_format_traceparent_round_trips():
    assert parse_traceparent(format_traceparent(TRACE, PARENT, 1)) == (TRACE, PARENT, 1)


def test_tracestate_is_combined_and_kept():
    assert parse_tracestate(["rojo=00f067aa0ba902b7", "congo=t61rcWkgMzE"]) == (
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    )


@pytest.mark.parametrize(
    "values",
    [
        ["UPPER=1"],
        ["a=1,a=2"],
        ["novalue"],
        [",".join(f"k{i}=v" for i in range(33))],
        ["k=" + "v" * 600],
        ["k=bad,value=ok=no"],
    ],
    ids=["uppercase_key", "duplicate_key", "no_equals", "too_many", "too_long", "equals_in_value"],
)
def test_malformed_tracestate_is_dropped(values):
    assert parse_tracestate(values) is None


def test_tracestate_length_counts_no_whitespace_around_its_commas():
    """W3C Trace Context 3.3.1.5: the 512 characters a vendor SHOULD propagate include the
    commas but not the optional whitespace; a list of 494 characters written with " , "
    between its members was 514 long as sent and was dropped whole."""
    members = [f"k{i:02d}={'v' * 40}" for i in range(11)]
    assert parse_tracestate([" , ".join(members)]) == ",".join(members)


def test_long_tracestate_is_cut_from_its_large_members_then_its_end():
    """W3C Trace Context 3.3.1.5: past 512 characters, members longer than 128 go first,
    then members from the end; the whole list was dropped instead, the vendors' state
    with it."""
    small = [f"k{i:02d}={'v' * 40}" for i in range(12)]
    large = "big=" + "x" * 200
    assert parse_tracestate([large, ",".join(small)]) == ",".join(small[:11])
    assert parse_tracestate([",".join(small[:10]), large]) == ",".join(small[:10])
    wide = [f"k{i:02d}={'v' * 60}" for i in range(12)]
    assert parse_tracestate([",".join(wide)]) == ",".join(wide[:7])


@pytest.mark.parametrize("item", [",", " ,", "a=1,"], ids=["commas", "blank", "members"])
def test_a_tracestate_flood_of_items_costs_what_a_short_one_does(item):
    """Any client's 8 KiB of commas was split and stripped item by item (about 1 ms of CPU
    for each request carrying it), once lists past 512 characters were cut rather than
    dropped; more items than 32 members and as many blanks is refused uncounted."""
    assert calls_made(lambda: parse_tracestate([item * 8000])) == calls_made(
        lambda: parse_tracestate([item * 80])
    )
    assert parse_tracestate([item * 8000]) is None


@pytest.mark.parametrize("space", ["\x0b", "\x0c", "\x1c", "\xa0"])
def test_tracestate_whitespace_is_only_spaces_and_tabs(space):
    """W3C Trace Context 3.3.1 (OWS is SP and HTAB, RFC 9110 5.6.3): a member with another
    space character around it is malformed; it was stripped and passed on as valid."""
    assert parse_tracestate([f"{space}foo=1"]) is None
    assert parse_tracestate([f"foo=1{space}"]) is None
    assert parse_tracestate(["\tfoo=1 , bar=2\t"]) == "foo=1,bar=2"


def test_missing_traceparent_starts_a_new_xray_compatible_trace():
    context = extract(Headers())
    assert context.parent_span_id is None
    assert parse_xray(format_xray(context.trace_id, context.span_id)) is not None


def test_invalid_traceparent_starts_a_new_trace_and_ignores_tracestate():
    context = extract(Headers({"traceparent": "garbage", "tracestate": "evil=1"}))
    assert context.trace_id != TRACE and context.tracestate is None


@pytest.mark.parametrize("space", ["\x0b", "\x0c", "\x1c", "\xa0"])
def test_traceparent_with_other_than_spaces_and_tabs_around_it_starts_a_new_trace(space):
    """W3C Trace Context 3.2: the value holds no whitespace, and only the OWS HTTP allows
    around a field value (SP, HTAB) is taken off; a traceparent with a vertical tab or an
    NBSP before it was stripped and continued, with its tracestate."""
    context = extract(Headers({"traceparent": space + VALID, "tracestate": "rojo=1"}))
    assert context.trace_id != TRACE and context.tracestate is None
    assert extract(Headers({"traceparent": f" \t{VALID}\t "})).trace_id == TRACE


def test_duplicate_traceparent_headers_are_not_trusted():
    headers = Headers([("traceparent", VALID), ("traceparent", VALID)])
    assert extract(headers).trace_id != TRACE


def test_repeated_xray_headers_are_not_trusted():
    first = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0"
    second = "Root=1-11111111-bd862e3fe1be46a994272793;Sampled=1"
    headers = Headers([("x-amzn-trace-id", first), ("x-amzn-trace-id", second)])
    assert extract(headers).trace_id[8:] != "bd862e3fe1be46a994272793"


def test_many_xray_lines_are_not_joined_past_the_longest_value_read(monkeypatch):
    # Each line joined to every line before it: 16,000 lines of 64 characters (a request
    # the app refuses 431, whose log line still reads its trace) took seconds.
    from daloy_edge.observability import _trace

    read: list[int] = []
    parse = _trace.xray_ids
    monkeypatch.setattr(
        _trace,
        "xray_ids",
        lambda value, *args: read.append(len(value or "")) or parse(value, *args),
    )
    line = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0" + "x" * 14
    headers = Headers([("via", "1.1 proxy")] + [("x-amzn-trace-id", line)] * 4000)

    assert extract(headers).trace_id[8:] != "bd862e3fe1be46a994272793"
    assert read and max(read) <= 2 * 1024


def test_comma_joined_xray_headers_are_not_trusted():
    # How an HTTP API or a function URL delivers the header sent twice.
    first = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0"
    assert parse_xray(f"{first},Root=1-11111111-bd862e3fe1be46a994272793") is None


@pytest.mark.parametrize(
    "value",
    [
        "Root=1-5759e988-bd862e3fe1be46a994272793;Root=1-11111111-bd862e3fe1be46a994272793",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;parent=1111111111111111",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0;Sampled=1",
    ],
    ids=["root", "parent", "sampled"],
)
def test_xray_header_naming_a_field_twice_is_not_trusted(value):
    assert parse_xray(value) is None


def test_inbound_xray_header_becomes_the_w3c_trace():
    xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
    context = extract(Headers({"x-amzn-trace-id": xray}))
    assert context.trace_id == "5759e988bd862e3fe1be46a994272793"
    assert context.parent_span_id == "53995c3f42cd8ad8"
    assert context.flags == 0


def test_lambda_environment_trace_is_used_when_no_header():
    lambda_trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    context = extract(Headers(), lambda_trace=lambda_trace)
    assert context.trace_id == "5759e988bd862e3fe1be46a994272793"


def test_traceparent_wins_over_xray_header():
    headers = Headers(
        {"traceparent": VALID, "x-amzn-trace-id": "Root=1-5759e988-bd862e3fe1be46a994272793"}
    )
    assert extract(headers).trace_id == TRACE


def test_outbound_headers_carry_the_trace_both_ways():
    context = extract(Headers({"traceparent": VALID, "tracestate": "rojo=1"}))
    headers = context.outbound_headers()
    assert headers["traceparent"] == f"00-{TRACE}-{context.span_id}-01"
    assert headers["tracestate"] == "rojo=1"
    assert headers["x-amzn-trace-id"] == (
        f"Root=1-{TRACE[:8]}-{TRACE[8:]};Parent={context.span_id};Sampled=1"
    )


def test_streamed_body_carries_its_request_trace_on_outbound_calls():
    app = App(env={}, request_log=RequestLog(LogConfig(stdout=False, env={})))
    sent: list[dict[str, str]] = []

    @app.get("/feed")
    async def feed(request):
        async def chunks():
            sent.append(outbound_headers())
            yield b"{}"

        return Response(stream=chunks())

    TestClient(app).get("/feed", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
    assert sent[0]["traceparent"].startswith(f"00-{TRACE}-")
    assert current_trace() is None


def test_outbound_headers_are_unchanged_outside_a_request():
    assert outbound_headers({"accept": "x"}) == {"accept": "x"}


class _EchoTraceHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        payload = json.dumps(
            {k: self.headers.get(k) for k in ("traceparent", "tracestate", "x-amzn-trace-id")}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoTraceHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_traceparent_round_trips_through_an_outbound_call(echo_server):
    sink = MemorySink()
    app = App(env={}, request_log=RequestLog(LogConfig(stdout=False, sinks=[sink], env={})))
    transport = TracePropagatingTransport(HttpxTransport())

    @app.get("/call")
    async def call(request: Request) -> Response:
        upstream = await transport.request(
            "GET", echo_server, headers={"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
        )
        return Response(upstream.body, media_type="application/json")

    seen = (
        TestClient(app).get("/call", headers={"traceparent": VALID, "tracestate": "rojo=1"}).json()
    )
    record = sink.records[0]
    span_id = record["SpanId"]
    assert record["TraceId"] == TRACE
    assert span_id != PARENT
    assert seen["traceparent"] == f"00-{TRACE}-{span_id}-01"
    assert seen["tracestate"] == "rojo=1"
    assert seen["x-amzn-trace-id"] == f"Root=1-{TRACE[:8]}-{TRACE[8:]};Parent={span_id};Sampled=1"


async def test_lambda_invocation_trace_reaches_the_request_record():
    sink = MemorySink()
    app = App(
        env={}, request_log=RequestLog(LogConfig(stdout=False, sinks=[sink], env={}, metrics=False))
    )
    app.add_route("/x", lambda request: {}, ["GET"])
    xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    request = Request("GET", "/x", runtime="aws_lambda", env={"_X_AMZN_TRACE_ID": xray})
    await app.handle(request)
    assert sink.records[0]["TraceId"] == "5759e988bd862e3fe1be46a994272793"


@pytest.mark.parametrize(
    "value",
    [
        "Root=1-5759e988-bd862e3fe1be46a994272793",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000;Sampled=1",
        "Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8",
        "Root=1-5759E988-bd862e3fe1be46a994272793",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1",
        "Self=1-5759e988-bd862e3fe1be46a994272794;Root=1-5759e988-bd862e3fe1be46a994272793",
        "root=1-5759e988-bd862e3fe1be46a994272793; parent=53995c3f42cd8ad8; sampled=0",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8\n",
        "Root=2-5759e988-bd862e3fe1be46a994272793",
    ],
)
def test_usual_xray_form_parses_as_the_general_parser_does(value):
    from daloy_edge.observability._trace import _parse_xray_fields

    assert parse_xray(value) == _parse_xray_fields(value)


async def test_lambda_environment_trace_is_not_read_when_a_header_carries_one(monkeypatch):
    sink = MemorySink()
    app = App(
        env={}, request_log=RequestLog(LogConfig(stdout=False, sinks=[sink], env={}, metrics=False))
    )
    app.add_route("/x", lambda request: {}, ["GET"])

    class Untouchable(dict):
        def get(self, key, default=None):
            raise AssertionError(f"read {key}")

    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    request = Request(
        "GET",
        "/x",
        runtime="aws_lambda",
        env=Untouchable(AWS_REGION="eu-west-1"),
        headers=Headers({"x-amzn-trace-id": header}),
    )
    await app.handle(request)
    assert sink.records[0]["TraceId"] == "5759e988bd862e3fe1be46a994272793"


def test_a_new_trace_id_begins_with_the_second_its_request_started() -> None:
    from daloy_edge.observability._trace import fresh_ids

    def draws(size: int) -> bytes:
        return bytes(range(size))

    # The epoch second's text is remembered; each of these changes it.
    for now_ns in (
        1_700_000_000_500_000_000,
        1_700_000_001_000_000_000,
        999_999_999,
        2**32 * 10**9,
    ):
        trace_id, span_id, parent, flags, state = fresh_ids(draws, now_ns)
        assert trace_id == f"{(now_ns // 10**9) % 2**32:08x}" + bytes(range(20)).hex()[:24]
        assert (span_id, parent, flags, state) == (bytes(range(20)).hex()[24:], None, 1, None)
