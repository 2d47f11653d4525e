"""Lines past the platforms' size limits: shortened to MAX_LINE, still one JSON document.

CloudWatch Logs cuts an event at 256 KB, Lambda splits a longer stdout line into several
events and Cloud Logging refuses an entry past 256 KB. Field limits count characters,
and an emoji takes twelve bytes escaped, so an error with emoji text wrote lines of
hundreds of kilobytes: cut by the platform, no JSON, their error, trace and metrics lost.
"""

from __future__ import annotations

import json

import pytest

from daloy_edge import App, Request, Response
from daloy_edge.observability import LogConfig, MemorySink, RequestLog, get_logger
from daloy_edge.observability._record import MAX_LINE
from daloy_edge.testing import TestClient

EMOJI = "\U0001f600"  # 12 bytes escaped: \ud83d\ude00
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
LAMBDA = {
    "AWS_LAMBDA_FUNCTION_NAME": "orders",
    "AWS_LAMBDA_LOG_FORMAT": "JSON",
    "AWS_REGION": "eu-west-1",
}
GCP = {"K_SERVICE": "orders", "GOOGLE_CLOUD_PROJECT": "shop-prod"}
PLATFORMS = {"plain": {}, "lambda": LAMBDA, "gcp": GCP}


def emoji_attributes() -> dict[str, str]:
    return {f"note_{i}": EMOJI * 4000 for i in range(20)}


def build(env: dict[str, str], **options: object) -> App:
    app = App(env=env, request_log=RequestLog(LogConfig(env=env, **options)))

    @app.get("/orders/{id}")
    async def failing(request: Request) -> Response:
        request.state["log.attributes"] = emoji_attributes()
        raise RuntimeError(EMOJI * 5000)

    @app.get("/info")
    async def info(request: Request) -> Response:
        get_logger(request).info(EMOJI * 5000, **emoji_attributes())
        return Response.json({"ok": True})

    @app.get("/exception")
    async def exception(request: Request) -> Response:
        try:
            raise ValueError(EMOJI * 50_000)
        except ValueError:
            get_logger(request).exception(EMOJI * 5000, **emoji_attributes())
        return Response.json({"ok": True})

    @app.get("/fine")
    async def fine(request: Request) -> Response:
        request.state["log.attributes"] = {f"note_{i}": EMOJI * 1500 for i in range(5)}
        return Response.json({"ok": True})

    return app


def lines_of(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def checked(line: str) -> dict[str, object]:
    """The line as JSON, after checking it is within the bound."""
    assert len(line.encode()) <= MAX_LINE
    record: dict[str, object] = json.loads(line)
    assert record["TraceId"] == TRACE_ID
    assert isinstance(record["SpanId"], str) and len(record["SpanId"]) == 16
    assert record["Timestamp"] and record["TraceFlags"] == "01"
    return record


def assert_platform_members(platform: str, record: dict[str, object]) -> None:
    level = record["SeverityText"]
    if platform == "lambda":
        assert record["level"] == level and str(record["timestamp"]).endswith("Z")
    if platform == "gcp":
        assert record["severity"] == {"WARN": "WARNING"}.get(str(level), level)
        assert record["logging.googleapis.com/trace"] == f"projects/shop-prod/traces/{TRACE_ID}"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_5xx_with_emoji_error_and_attributes_stays_one_json_line_within_the_bound(
    platform: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app = build(PLATFORMS[platform], metrics=True)
    response = TestClient(app).get("/orders/7", headers={"traceparent": TRACEPARENT})
    assert response.status_code == 500
    (line,) = lines_of(capsys)
    record = checked(line)
    assert (record["SeverityText"], record["SeverityNumber"]) == ("ERROR", 17)
    assert record["EventName"] == "http.server.request"
    assert record["Body"] == "GET /orders/{id} 500"
    attributes = record["Attributes"]
    assert isinstance(attributes, dict)
    assert attributes["http.response.status_code"] == 500
    assert attributes["http.route"] == "/orders/{id}"
    assert attributes["http.request.method"] == "GET"
    assert attributes["http.request.id"] == response.headers["x-request-id"]
    assert attributes["error.type"] == attributes["exception.type"] == "RuntimeError"
    assert attributes["daloy.truncated"] > 2 * MAX_LINE
    # Shortened and marked: the message's start, the trace's end (the exception's line).
    assert str(attributes["exception.message"]).startswith(EMOJI)
    assert "more]" in str(attributes["exception.message"])
    assert str(attributes["exception.stacktrace"]).startswith("…[")
    # The EMF metrics folded into the line are whole.
    assert record["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "daloy-edge"  # type: ignore[index]
    assert (record["Requests"], record["Status5xx"], record["Route"]) == (1, 1, "/orders/{id}")
    assert_platform_members(platform, record)
    if platform == "gcp":
        assert record["stack_trace"] == attributes["exception.stacktrace"]


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("path", ["/info", "/exception"])
def test_a_handler_record_with_emoji_attributes_stays_within_the_bound(
    platform: str, path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    app = build(PLATFORMS[platform])
    response = TestClient(app).get(path, headers={"traceparent": TRACEPARENT})
    handler_line, request_line = lines_of(capsys)
    record = checked(handler_line)
    attributes = record["Attributes"]
    assert isinstance(attributes, dict)
    assert attributes["http.request.id"] == response.headers["x-request-id"]
    assert (attributes["http.route"], attributes["http.request.method"]) == (path, "GET")
    assert attributes["daloy.truncated"] > MAX_LINE
    assert str(record["Body"]).startswith(EMOJI) and str(record["Body"]).endswith("more]")
    if path == "/exception":
        assert record["SeverityText"] == "ERROR"
        assert attributes["exception.type"] == "ValueError"
    assert_platform_members(platform, record)
    assert "daloy.truncated" not in checked(request_line)["Attributes"]  # type: ignore[operator]


def test_span_records_of_an_oversized_request_stay_within_the_bound() -> None:
    sink = MemorySink()
    app = App(env={}, request_log=RequestLog(LogConfig(stdout=False, sinks=[sink], spans=True)))

    @app.get("/orders/{id}")
    async def failing(request: Request) -> Response:
        request.state["log.attributes"] = emoji_attributes()
        raise RuntimeError(EMOJI * 5000)

    TestClient(app).get("/orders/7", headers={"traceparent": TRACEPARENT})
    request_line, span_line = sink.lines
    span = checked(span_line)
    assert span["EventName"] == "daloy.span"
    assert span["Body"]["Name"] == "GET /orders/{id}"  # type: ignore[index]
    assert span["Attributes"]["http.response.status_code"] == 500  # type: ignore[index]
    checked(request_line)
    assert sink.records[0] == json.loads(request_line)  # sinks get what was written


def test_a_request_refused_431_with_its_headers_logged_stays_within_the_bound(
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = build({}, log_headers=True)
    headers = {f"x-note-{i}": EMOJI * 4000 for i in range(30)}
    response = TestClient(app).get("/fine", headers={"traceparent": TRACEPARENT, **headers})
    assert response.status_code == 431
    (line,) = lines_of(capsys)
    record = checked(line)
    assert record["Attributes"]["http.response.status_code"] == 431  # type: ignore[index]


def test_a_record_of_many_small_values_keeps_its_essential_members() -> None:
    # Nothing long to shorten: only the members that identify the record are kept.
    sink = MemorySink()
    log = RequestLog(LogConfig(stdout=False, sinks=[sink], env={}))
    attributes: dict[str, object] = {f"k{i}": EMOJI for i in range(20_000)}
    attributes["http.request.id"] = "req-1"
    log.emit(
        {
            "Timestamp": "1700000000000000000",
            "SeverityText": "WARN",
            "SeverityNumber": 13,
            "Body": "many",
            "Attributes": attributes,  # type: ignore[dict-item]
            "TraceId": TRACE_ID,
            "SpanId": "00f067aa0ba902b7",
            "TraceFlags": "01",
        }
    )
    (line,) = sink.lines
    record = checked(line)
    attributes = record["Attributes"]
    assert isinstance(attributes, dict) and set(attributes) == {
        "http.request.id",
        "daloy.truncated",
    }
    assert attributes["http.request.id"] == "req-1" and attributes["daloy.truncated"] > MAX_LINE
    assert (record["SeverityText"], record["Body"]) == ("WARN", "many")
    assert sink.records[0] == record


def test_a_line_within_the_bound_is_written_as_it_was(capsys: pytest.CaptureFixture[str]) -> None:
    # About 90 KB escaped: large, but within the bound, so nothing is shortened or re-encoded.
    app = build({})
    TestClient(app).get("/fine", headers={"traceparent": TRACEPARENT})
    (line,) = lines_of(capsys)
    assert 80_000 < len(line) <= MAX_LINE
    record = checked(line)
    attributes = record["Attributes"]
    assert isinstance(attributes, dict) and "daloy.truncated" not in attributes
    assert [attributes[f"note_{i}"] for i in range(5)] == [EMOJI * 1500] * 5
    assert '"http.server.request.duration":0.' in line  # as written, not parsed back
