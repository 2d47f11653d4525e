"""Lines as Lambda's log-level filtering reads them under the JSON log format, and nowhere else."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from daloy_edge import App, Request, Response
from daloy_edge.observability import LogConfig, MemorySink, RequestLog
from daloy_edge.testing import TestClient
from tests.support.logged_app import logged_app

LAMBDA = {"AWS_LAMBDA_FUNCTION_NAME": "orders"}
LAMBDA_JSON = {**LAMBDA, "AWS_LAMBDA_LOG_FORMAT": "JSON"}


def make_app(env: dict[str, str], **options: object) -> tuple[App, MemorySink]:
    sink = MemorySink()
    return logged_app(RequestLog.from_env(env, stdout=False, sinks=[sink], **options), env), sink


def stdout_app(env: dict[str, str]) -> App:
    """The app as the platform runs it: configured from its environment, lines on stdout."""
    app = App(env=env)

    @app.get("/ok")
    async def ok(request: Request) -> Response:
        return Response.json({"ok": True})

    return app


def lines(sink: MemorySink) -> list[dict[str, object]]:
    return [json.loads(line) for line in sink.lines]


def request_line(sink: MemorySink) -> dict[str, object]:
    (line,) = [r for r in lines(sink) if r["EventName"] == "http.server.request"]
    return line


def stdout_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize(
    ("path", "level"), [("/ok", "INFO"), ("/missing", "WARN"), ("/boom", "ERROR")]
)
def test_request_line_under_lambda_json_format_is_not_counted_as_info(path, level):
    app, sink = make_app(LAMBDA_JSON)
    TestClient(app).get(path)
    assert request_line(sink)["level"] == level


def test_request_line_level_comes_with_the_rfc3339_timestamp_of_the_start_it_logs():
    app, sink = make_app(LAMBDA_JSON)
    TestClient(app).get("/ok")
    line = request_line(sink)
    stamp = line["timestamp"]
    assert stamp.endswith("Z")
    start = datetime.fromtimestamp(int(line["Timestamp"]) // 1000 / 1_000_000, UTC)
    assert datetime.fromisoformat(stamp) == start


def test_request_line_under_lambda_json_format_keeps_its_otel_members():
    app, sink = make_app(LAMBDA_JSON)
    TestClient(app).get("/boom")
    line = request_line(sink)
    assert line["SeverityText"] == "ERROR"
    assert line["SeverityNumber"] == 17
    assert {"Timestamp", "Body", "Attributes", "TraceId", "SpanId", "Resource"} <= set(line)


def test_handler_line_under_lambda_json_format_is_not_counted_as_info():
    app, sink = make_app(LAMBDA_JSON)
    TestClient(app).get("/note")
    handler, _ = lines(sink)
    assert handler["level"] == "WARN"
    assert datetime.fromisoformat(handler["timestamp"]).tzinfo is not None


def test_aborted_stream_under_lambda_json_format_survives_an_error_level():
    app, sink = make_app({**LAMBDA_JSON, "AWS_LAMBDA_LOG_LEVEL": "ERROR"})
    with pytest.raises(RuntimeError):
        TestClient(app).get("/cut")
    (aborted,) = [r for r in lines(sink) if r["EventName"] == "daloy.response.aborted"]
    assert aborted["level"] == "ERROR"


def test_span_record_under_lambda_json_format_carries_its_level():
    app, sink = make_app(LAMBDA_JSON, spans=True)
    TestClient(app).get("/ok")
    (span,) = [r for r in lines(sink) if r["EventName"] == "daloy.span"]
    assert span["level"] == "INFO"
    assert span["timestamp"] == request_line(sink)["timestamp"]


@pytest.mark.parametrize(
    "env",
    [
        LAMBDA,
        {**LAMBDA, "AWS_LAMBDA_LOG_FORMAT": "Text"},
        {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"},
        {"K_SERVICE": "x", "AWS_LAMBDA_LOG_FORMAT": "JSON"},
    ],
)
def test_lines_off_lambdas_json_format_carry_no_level_member(env):
    app, sink = make_app(env, spans=True)
    client = TestClient(app)
    for path in ("/ok", "/boom", "/note"):
        client.get(path)
    assert len(lines(sink)) == 7  # three requests, their spans, a handler line
    for line in lines(sink):
        assert "level" not in line


def test_lambda_error_level_stops_lines_lambda_would_drop_from_being_written():
    app, sink = make_app({**LAMBDA_JSON, "AWS_LAMBDA_LOG_LEVEL": "ERROR"})
    client = TestClient(app)
    for path in ("/ok", "/missing", "/note", "/boom"):
        client.get(path)
    assert [(r["EventName"], r["level"]) for r in lines(sink)] == [("http.server.request", "ERROR")]


def test_daloy_log_level_wins_over_lambdas_log_level():
    env = {**LAMBDA_JSON, "AWS_LAMBDA_LOG_LEVEL": "ERROR", "DALOY_LOG_LEVEL": "DEBUG"}
    assert LogConfig.from_env(env).level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "level"),
    [
        ({**LAMBDA_JSON, "AWS_LAMBDA_LOG_LEVEL": "WARN"}, "WARN"),
        ({**LAMBDA_JSON, "AWS_LAMBDA_LOG_LEVEL": "TRACE"}, "TRACE"),
        ({**LAMBDA_JSON, "AWS_LAMBDA_LOG_LEVEL": "fatal"}, "FATAL"),
        ({**LAMBDA, "AWS_LAMBDA_LOG_LEVEL": "ERROR"}, "INFO"),  # text: Lambda drops nothing
        ({"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "ERROR"}, "INFO"),  # no Lambda
        ({**LAMBDA_JSON, "AWS_LAMBDA_LOG_LEVEL": "LOUD"}, "INFO"),
    ],
)
def test_lambdas_log_level_is_the_minimum_severity_when_daloy_log_level_is_unset(env, level):
    assert LogConfig.from_env(env).level == level


def test_metrics_reach_cloudwatch_when_lambda_drops_the_request_line(capsys):
    env = {**LAMBDA_JSON, "AWS_LAMBDA_LOG_LEVEL": "ERROR", "DALOY_LOG_LEVEL": "INFO"}
    TestClient(stdout_app(env)).get("/ok")
    request, metrics = stdout_lines(capsys)
    assert request["level"] == "INFO"
    assert "_aws" not in request
    assert metrics["level"] == "ERROR"
    assert metrics["Requests"] == 1
    assert "_aws" in metrics


def test_metrics_reach_cloudwatch_when_the_lambda_level_writes_no_request_line(capsys):
    TestClient(stdout_app({**LAMBDA_JSON, "AWS_LAMBDA_LOG_LEVEL": "WARN"})).get("/ok")
    (metrics,) = stdout_lines(capsys)
    assert metrics["level"] == "WARN"
    assert "_aws" in metrics


def test_metrics_ride_on_a_request_line_lambda_keeps(capsys):
    TestClient(stdout_app({**LAMBDA_JSON, "AWS_LAMBDA_LOG_LEVEL": "INFO"})).get("/ok")
    (line,) = stdout_lines(capsys)
    assert line["level"] == "INFO"
    assert "_aws" in line


def test_request_line_in_text_format_is_unchanged_by_the_lambda_log_level(capsys):
    TestClient(stdout_app({**LAMBDA, "AWS_LAMBDA_LOG_LEVEL": "ERROR"})).get("/ok")
    (line,) = stdout_lines(capsys)
    assert "level" not in line
    assert "_aws" in line


def test_a_record_emitted_with_its_own_level_is_not_given_a_second_one():
    log = RequestLog(LogConfig(stdout=False, sinks=[sink := MemorySink()], env=LAMBDA_JSON))
    log.emit(
        {
            "Timestamp": "1",
            "SeverityText": "ERROR",
            "Body": "x",
            "level": "DEBUG",
            "Resource": log.resource("aws_lambda"),
        }
    )
    (text,) = sink.lines
    assert text.count('"level"') == 1


@pytest.mark.parametrize("severity", [["ERROR"], 'ERROR","level":"DEBUG', "error", None])
def test_a_record_emitted_with_a_forged_severity_stays_one_json_document(severity):
    log = RequestLog(LogConfig(stdout=False, sinks=[sink := MemorySink()], env=LAMBDA_JSON))
    log.emit(
        {
            "Timestamp": "1",
            "SeverityText": severity,
            "Body": "x",
            "Resource": log.resource("aws_lambda"),
        }
    )
    (line,) = lines(sink)
    assert "level" not in line


@pytest.mark.parametrize("stamp", ["99999999999999999999999999999", "1e9", "-1", "\u0661"])
def test_a_record_emitted_with_a_timestamp_rfc3339_cannot_write_is_still_written(stamp):
    log = RequestLog(LogConfig(stdout=False, sinks=[sink := MemorySink()], env=LAMBDA_JSON))
    log.emit(
        {
            "Timestamp": stamp,
            "SeverityText": "WARN",
            "Body": "x",
            "Resource": log.resource("aws_lambda"),
        }
    )
    (line,) = lines(sink)
    assert line["Body"] == "x"


def test_a_record_emitted_with_a_timestamp_of_thousands_of_digits_is_still_written():
    log = RequestLog(LogConfig(stdout=False, sinks=[sink := MemorySink()], env=LAMBDA_JSON))
    log.emit(
        {
            "Timestamp": "1" * 5000,
            "SeverityText": "WARN",
            "Body": "x",
            "Resource": log.resource("aws_lambda"),
        }
    )
    (line,) = lines(sink)
    assert "level" not in line
