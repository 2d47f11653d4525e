"""Lines as Cloud Logging reads them on Cloud Functions and Cloud Run, and nowhere else."""

from __future__ import annotations

import json

import pytest

from daloy_edge import App
from daloy_edge.observability import LogConfig, MemorySink, RequestLog
from daloy_edge.observability._gcp import cloud_trace_ids
from daloy_edge.testing import TestClient
from tests.support.logged_app import logged_app

CLOUD_RUN = {"K_SERVICE": "orders", "GOOGLE_CLOUD_PROJECT": "shop-prod"}
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE = "logging.googleapis.com/trace"
SPAN = "logging.googleapis.com/spanId"
SAMPLED = "logging.googleapis.com/trace_sampled"
CLOUD_MEMBERS = {"severity", "message", "timestamp", TRACE, SPAN, SAMPLED, "stack_trace"}


def make_app(env: dict[str, str], **options: object) -> tuple[App, MemorySink]:
    sink = MemorySink()
    return logged_app(
        RequestLog(LogConfig(stdout=False, sinks=[sink], env=env, **options)), env
    ), sink


def lines(sink: MemorySink) -> list[dict[str, object]]:
    return [json.loads(line) for line in sink.lines]


def request_line(sink: MemorySink) -> dict[str, object]:
    (line,) = [r for r in lines(sink) if r["EventName"] == "http.server.request"]
    return line


@pytest.mark.parametrize(
    ("path", "severity"), [("/ok", "INFO"), ("/missing", "WARNING"), ("/boom", "ERROR")]
)
def test_request_line_on_cloud_run_is_not_left_at_default_severity(path, severity):
    app, sink = make_app(CLOUD_RUN)
    TestClient(app).get(path)
    assert request_line(sink)["severity"] == severity


def test_request_line_on_cloud_run_is_joined_to_the_trace_of_its_project():
    app, sink = make_app(CLOUD_RUN)
    TestClient(app).get("/ok", headers={"traceparent": TRACEPARENT})
    line = request_line(sink)
    assert line[TRACE] == "projects/shop-prod/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    assert line[SPAN] == line["SpanId"]
    assert line[SAMPLED] is True


def test_unsampled_traceparent_is_not_marked_sampled_for_cloud_trace():
    app, sink = make_app(CLOUD_RUN)
    TestClient(app).get("/ok", headers={"traceparent": TRACEPARENT[:-2] + "00"})
    assert request_line(sink)[SAMPLED] is False


def test_request_line_timestamp_is_the_request_start_it_logs():
    app, sink = make_app(CLOUD_RUN)
    TestClient(app).get("/ok")
    line = request_line(sink)
    stamp = line["timestamp"]
    assert f"{stamp['seconds']}{stamp['nanos']:09d}" == line["Timestamp"]


def test_without_a_project_no_trace_member_names_a_wrong_one():
    app, sink = make_app({"K_SERVICE": "orders"})
    TestClient(app).get("/ok", headers={"traceparent": TRACEPARENT})
    line = request_line(sink)
    assert line["severity"] == "INFO"
    assert not {TRACE, SPAN, SAMPLED} & set(line)


@pytest.mark.parametrize("project", ['p","severity":"DEBUG', "a/traces/b", "Shop-Prod", "é"])
def test_a_project_that_is_no_project_id_is_never_written_into_the_trace(project):
    app, sink = make_app({"K_SERVICE": "orders", "GOOGLE_CLOUD_PROJECT": project})
    TestClient(app).get("/ok")
    line = request_line(sink)
    assert TRACE not in line
    assert line["severity"] == "INFO"


@pytest.mark.parametrize(
    "env", [{}, {"K_SERVICE": "x", "GOOGLE_CLOUD_PROJECT": "p1", "AWS_LAMBDA_FUNCTION_NAME": "api"}]
)
def test_lines_off_google_cloud_carry_no_cloud_logging_members(env):
    app, sink = make_app(env)
    client = TestClient(app)
    for path in ("/ok", "/boom", "/note"):
        client.get(path)
    for line in lines(sink):
        assert not CLOUD_MEMBERS & set(line)


def test_server_error_line_carries_its_scrubbed_stack_trace_for_error_reporting():
    app, sink = make_app(CLOUD_RUN)
    TestClient(app).get("/boom")
    line = request_line(sink)
    assert line["stack_trace"] == line["Attributes"]["exception.stacktrace"]
    assert line["stack_trace"].startswith("Traceback (most recent call last):")
    assert "hunter2-from-db" not in json.dumps(line)


def test_client_error_line_gives_error_reporting_nothing_to_report():
    app, sink = make_app(CLOUD_RUN)
    TestClient(app).get("/missing")
    assert "stack_trace" not in request_line(sink)


def test_handler_line_on_cloud_run_has_its_severity_and_its_request_trace():
    app, sink = make_app(CLOUD_RUN)
    TestClient(app).get("/note", headers={"traceparent": TRACEPARENT})
    handler, line = lines(sink)
    assert handler["severity"] == "WARNING"
    assert handler["message"] == "stock low"
    assert handler[TRACE] == line[TRACE]
    assert handler[SPAN] == line[SPAN]


def test_aborted_stream_is_an_error_with_a_stack_trace_error_reporting_sees():
    app, sink = make_app(CLOUD_RUN)
    with pytest.raises(RuntimeError):
        TestClient(app).get("/cut")
    (aborted,) = [r for r in lines(sink) if r["EventName"] == "daloy.response.aborted"]
    assert aborted["severity"] == "ERROR"
    assert aborted["stack_trace"].startswith("Traceback (most recent call last):")
    assert "hunter2-mid-stream" not in json.dumps(aborted)


def test_span_record_on_cloud_run_is_joined_to_its_trace():
    app, sink = make_app(CLOUD_RUN, spans=True)
    TestClient(app).get("/ok", headers={"traceparent": TRACEPARENT})
    (span,) = [r for r in lines(sink) if r["EventName"] == "daloy.span"]
    assert span["severity"] == "INFO"
    assert span[TRACE] == "projects/shop-prod/traces/4bf92f3577b34da6a3ce929d0e0e4736"


def test_cloud_trace_context_joins_the_line_to_the_platform_trace():
    app, sink = make_app(CLOUD_RUN)
    header = "105445aa7843bc8bf206b12000100000/1;o=1"
    TestClient(app).get("/ok", headers={"x-cloud-trace-context": header})
    line = request_line(sink)
    assert line["TraceId"] == "105445aa7843bc8bf206b12000100000"
    assert line["SpanId"] != "0000000000000001"
    assert line[TRACE] == "projects/shop-prod/traces/105445aa7843bc8bf206b12000100000"


def test_traceparent_wins_over_cloud_trace_context():
    app, sink = make_app(CLOUD_RUN)
    headers = {"traceparent": TRACEPARENT, "x-cloud-trace-context": "1" * 32 + "/1;o=1"}
    TestClient(app).get("/ok", headers=headers)
    assert request_line(sink)["TraceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_cloud_trace_context_off_google_cloud_is_not_believed():
    app, sink = make_app({})
    TestClient(app).get("/ok", headers={"x-cloud-trace-context": "1" * 32 + "/1;o=1"})
    assert request_line(sink)["TraceId"] != "1" * 32


def test_cloud_trace_context_names_the_caller_span_in_hex():
    ids = cloud_trace_ids("105445aa7843bc8bf206b12000100000/18446744073709551615;o=1", bytes)
    assert ids is not None
    assert ids[2] == "ffffffffffffffff"
    assert ids[3] == 1


@pytest.mark.parametrize(
    "value",
    [
        "105445AA7843BC8BF206B12000100000/1;o=1",  # not the lowercase hex it is written in
        "0" * 32 + "/1;o=1",
        "105445aa7843bc8bf206b1200010000/1;o=1",  # 31 digits
        "105445aa7843bc8bf206b12000100000/18446744073709551616;o=1",  # past 64 bits
        "105445aa7843bc8bf206b12000100000/-1;o=1",
        "105445aa7843bc8bf206b12000100000/1;x=1",
        "105445aa7843bc8bf206b12000100000/1;o=",
        "105445aa7843bc8bf206b12000100000/1;o=1, 205445aa7843bc8bf206b12000100000/1;o=1",
        "105445aa7843bc8bf206b12000100000/\u0661;o=1",  # an Arabic-Indic one
        "",
    ],
)
def test_malformed_cloud_trace_context_starts_no_trace_of_its_own(value):
    assert cloud_trace_ids(value, bytes) is None


def test_cloud_trace_context_sent_twice_is_not_believed():
    app, sink = make_app(CLOUD_RUN)
    first = "1" * 32 + "/1;o=1"
    TestClient(app).get(
        "/ok", headers=[("x-cloud-trace-context", first), ("x-cloud-trace-context", first)]
    )
    assert request_line(sink)["TraceId"] != "1" * 32


def test_a_record_emitted_with_forged_trace_fields_stays_one_json_document():
    log = RequestLog(LogConfig(stdout=False, sinks=[sink := MemorySink()], env=CLOUD_RUN))
    log.emit(
        {
            "Timestamp": "1",
            "SeverityText": ["INFO"],
            "Body": "x",
            "TraceId": 'a","severity":"DEBUG',
            "SpanId": "b" * 16,
            "TraceFlags": "zz",
            "Resource": log.resource("test"),
        }
    )
    (line,) = lines(sink)
    assert line["severity"] == "DEFAULT"
    assert TRACE not in line


@pytest.mark.parametrize("stamp", ["001700000000000000000", "00001"])
def test_a_record_emitted_with_a_zero_led_timestamp_stays_one_json_document(stamp):
    log = RequestLog(LogConfig(stdout=False, sinks=[sink := MemorySink()], env=CLOUD_RUN))
    log.emit(
        {
            "Timestamp": stamp,
            "SeverityText": "INFO",
            "Body": "x",
            "Resource": log.resource("test"),
        }
    )
    (line,) = lines(sink)
    assert line["timestamp"] == {"seconds": int(stamp) // 10**9, "nanos": int(stamp) % 10**9}


def test_a_record_emitted_with_a_timestamp_past_the_year_9999_gets_none_cloud_logging_refuses():
    log = RequestLog(LogConfig(stdout=False, sinks=[sink := MemorySink()], env=CLOUD_RUN))
    log.emit(
        {
            "Timestamp": "1" * 40,
            "SeverityText": "INFO",
            "Body": "x",
            "Resource": log.resource("test"),
        }
    )
    (line,) = lines(sink)
    assert "timestamp" not in line
