"""CloudWatch Embedded Metric Format lines: valid EMF, the right counts, bounded dimensions."""

from __future__ import annotations

import json

import jsonschema
import pytest

from daloy_edge import App, ConfigError, Request, Response, ServiceUnavailable, TooManyRequests
from daloy_edge.observability import (
    EMF_UNITS,
    LogConfig,
    MemorySink,
    RequestLog,
    emf_document,
    request_metrics,
)

# The JSON Schema from the EMF specification (CloudWatch user guide,
# "Specification: Embedded metric format"), plus the rules it states in prose below.
EMF_SCHEMA = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "LogGroupName": {"type": "string", "minLength": 1},
                "CloudWatchMetrics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 1024},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 250},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {
                                            "type": "string",
                                            "minLength": 1,
                                            "maxLength": 1024,
                                        },
                                        "Unit": {"enum": sorted(EMF_UNITS)},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def validate_emf(document: dict) -> None:
    jsonschema.validate(document, EMF_SCHEMA)
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                value = document.get(name)
                assert isinstance(value, str), f"dimension {name} needs a string value"
                # CloudWatch keeps 1-1024 printable ASCII characters, not all spaces.
                assert 0 < len(value) <= 1024 and value.isascii() and value.isprintable()
                assert not value.isspace()
        for metric in directive["Metrics"]:
            value = document.get(metric["Name"])
            values = value if isinstance(value, list) else [value]
            assert len(values) <= 100
            assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def lambda_app(sink: MemorySink) -> App:
    config = LogConfig(stdout=False, metrics_sinks=[sink], env={"AWS_LAMBDA_FUNCTION_NAME": "api"})
    app = App(env={}, request_log=RequestLog(config))

    @app.get("/ok/{id}")
    async def ok(request: Request) -> Response:
        return Response.json({})

    @app.get("/limited")
    async def limited(request: Request) -> Response:
        raise TooManyRequests(headers={"retry-after": "30"})

    @app.get("/shed")
    async def shed(request: Request) -> Response:
        request.state["shed"] = True
        raise ServiceUnavailable(headers={"retry-after": "1"})

    @app.get("/unavailable")
    async def unavailable(request: Request) -> Response:
        # A dependency's 503 (the rate-limit store, the JWKS) is no shed request.
        raise ServiceUnavailable(headers={"retry-after": "30"})

    @app.get("/flagged")
    async def flagged(request: Request) -> Response:
        request.state["rate_limited"] = True
        return Response.json({})

    return app


async def fetch(app: App, path: str) -> None:
    await app.handle(Request("GET", path, runtime="aws_lambda", client="127.0.0.1"))


async def test_request_metrics_line_is_valid_emf():
    sink = MemorySink()
    await fetch(lambda_app(sink), "/ok/1")
    (line,) = sink.lines
    validate_emf(json.loads(line))


async def test_request_metrics_count_latency_and_status_class():
    sink = MemorySink()
    await fetch(lambda_app(sink), "/ok/1")
    doc = json.loads(sink.lines[0])
    assert doc["Requests"] == 1 and doc["Latency"] >= 0
    assert (doc["Status2xx"], doc["Status4xx"], doc["Status5xx"]) == (1, 0, 0)
    assert doc["Service"] == "api" and doc["Route"] == "/ok/{id}"


@pytest.mark.parametrize(
    ("path", "limited", "shed"),
    [
        ("/limited", 1, 0),
        ("/shed", 0, 1),
        ("/unavailable", 0, 0),
        ("/flagged", 1, 0),
        ("/ok/1", 0, 0),
    ],
)
async def test_rate_limited_and_shed_requests_are_counted(path, limited, shed):
    sink = MemorySink()
    await fetch(lambda_app(sink), path)
    doc = json.loads(sink.lines[0])
    validate_emf(doc)
    assert (doc["RateLimited"], doc["Shed"]) == (limited, shed)


async def test_unmatched_paths_share_one_route_dimension():
    sink = MemorySink()
    app = lambda_app(sink)
    await fetch(app, "/random-1")
    await fetch(app, "/random-2")
    assert {json.loads(line)["Route"] for line in sink.lines} == {"UNMATCHED"}


async def test_metrics_are_off_outside_lambda_by_default():
    sink = MemorySink()
    app = App(env={}, request_log=RequestLog(LogConfig(stdout=False, metrics_sinks=[sink], env={})))
    app.add_route("/x", lambda request: {}, ["GET"])
    await app.handle(Request("GET", "/x", runtime="asgi"))
    assert sink.lines == []


def test_custom_emf_document_validates():
    doc = emf_document(
        namespace="shop",
        metrics={"Orders": (3, "Count"), "Basket": (42.5, "None")},
        dimensions={"Service": "api", "Region": "eu"},
        dimension_sets=[["Service"], ["Service", "Region"]],
        properties={"RequestId": "r-1"},
        timestamp_ms=1_700_000_000_000,
    )
    validate_emf(doc)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"metrics": {}},
        {"metrics": {f"m{i}": (1, "Count") for i in range(101)}},
        {"metrics": {"Orders": (1, "Things")}},
        {"metrics": {"": (1, "Count")}},
        {"dimension_sets": [["Missing"]]},
        {"dimensions": {f"d{i}": "v" for i in range(31)}},
        {"metrics": {"_aws": (1, "Count")}},
        {"metrics": {"Orders": (True, "Count")}},
        {"metrics": {"Orders": (float("nan"), "Count")}},
        {"metrics": {"Orders": ("1", "Count")}},
        {"metrics": {"Orders": (1e300, "Count")}},
        {"metrics": {"Orders": (-(10**400), "Count")}},
        {"dimensions": {"Service": "a", "Orders": "x"}},
        {"dimensions": {"Service": ""}},
        {"dimensions": {"Service": "s" * 1025}},
        {"dimensions": {"Service": "zürich"}},
        {"dimensions": {"Service": "a\nb"}},
        {"dimensions": {"Service": "   "}},
        {"dimensions": {"   ": "a"}},
        {"dimensions": {":Service": "a"}},
        {"dimensions": {"d" * 251: "a"}},
        {"metrics": {"  ": (1, "Count")}},
        {"properties": {"Orders": "lost"}},
        {"properties": {"Service": "lost"}},
        {"properties": {"_aws": "lost"}},
    ],
    ids=[
        "no_metrics",
        "too_many_metrics",
        "unknown_unit",
        "empty_name",
        "dimension_without_value",
        "too_many_dimensions",
        "reserved_name",
        "boolean_value",
        "nan_value",
        "string_value",
        "value_past_2_to_the_360",
        "int_past_2_to_the_360",
        "dimension_named_like_a_metric",
        "empty_dimension_value",
        "dimension_value_past_1024_characters",
        "non_ascii_dimension_value",
        "control_character_in_dimension_value",
        "blank_dimension_value",
        "blank_dimension_name",
        "dimension_name_starting_with_a_colon",
        "dimension_name_past_250_characters",
        "blank_metric_name",
        "property_named_like_a_metric",
        "property_named_like_a_dimension",
        "property_named_aws",
    ],
)
def test_emf_document_refuses_what_cloudwatch_would_drop(kwargs):
    base = {
        "namespace": "shop",
        "metrics": {"Orders": (1, "Count")},
        "dimensions": {"Service": "a"},
        "timestamp_ms": 0,
    }
    with pytest.raises(ConfigError):
        emf_document(**{**base, **kwargs})


class CountingStdout:
    """Stands in for ``sys.stdout`` and counts the calls the request log makes."""

    def __init__(self) -> None:
        self.writes: list[str] = []
        self.flushes = 0

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        self.flushes += 1


def stdout_app(**options: object) -> App:
    config = {"env": {"AWS_LAMBDA_FUNCTION_NAME": "api"}, **options}
    app = App(env={}, request_log=RequestLog(LogConfig(**config)))

    @app.get("/ok/{id}")
    async def ok(request: Request) -> Response:
        return Response.json({})

    return app


async def test_lambda_request_line_on_stdout_is_also_the_emf_document(capsys):
    await fetch(stdout_app(), "/ok/1")
    (line,) = capsys.readouterr().out.splitlines()
    document = json.loads(line)
    validate_emf(document)
    assert document["Body"] == "GET /ok/{id} 200"
    assert document["Attributes"]["http.route"] == "/ok/{id}"
    assert (document["Requests"], document["Status2xx"], document["Route"]) == (1, 1, "/ok/{id}")
    assert document["Service"] == document["Resource"]["service.name"] == "api"


async def test_lambda_request_is_one_write_and_one_flush(monkeypatch):
    stream = CountingStdout()
    monkeypatch.setattr("sys.stdout", stream)
    app = stdout_app()
    await fetch(app, "/ok/1")
    await fetch(app, "/ok/2")
    assert len(stream.writes) == 2 and stream.flushes == 2
    assert all(text.endswith("}\n") and text.count("\n") == 1 for text in stream.writes)


async def test_other_sinks_get_the_request_record_without_metrics(capsys):
    sink = MemorySink()
    await fetch(stdout_app(sinks=[sink]), "/ok/1")
    (stdout_line,) = capsys.readouterr().out.splitlines()
    (record,) = sink.records
    assert "_aws" in json.loads(stdout_line)
    assert "_aws" not in record and "Requests" not in record
    assert json.loads(sink.lines[0]) == record


async def test_metrics_get_their_own_line_when_the_level_drops_the_request_line(capsys):
    await fetch(stdout_app(level="ERROR"), "/ok/1")
    (line,) = capsys.readouterr().out.splitlines()
    document = json.loads(line)
    validate_emf(document)
    assert "Body" not in document
    assert (document["Requests"], document["StatusCode"]) == (1, 200)


async def test_metrics_go_to_stdout_on_their_own_when_the_request_line_does_not(capsys):
    sink = MemorySink()
    await fetch(stdout_app(stdout=False, sinks=[sink]), "/ok/1")
    (line,) = capsys.readouterr().out.splitlines()
    validate_emf(json.loads(line))
    assert "_aws" not in sink.records[0]


async def test_metrics_sinks_get_metrics_lines_and_stdout_the_plain_request_line(capsys):
    metric_lines = MemorySink()
    await fetch(stdout_app(metrics_sinks=[metric_lines]), "/ok/1")
    (line,) = capsys.readouterr().out.splitlines()
    assert "_aws" not in json.loads(line)
    (document,) = metric_lines.records
    validate_emf(dict(document))
    assert document["RequestId"] == json.loads(line)["Attributes"]["http.request.id"]


def test_request_metrics_document_is_valid_emf():
    request = Request("GET", "/limited")
    request.route, request.request_id = "/limited", "r-1"
    response = Response.json({}, status=429)
    document = request_metrics(
        request,
        response,
        0.0125,
        namespace="shop",
        service="api",
        timestamp_ms=1_700_000_000_000,
        trace_id="5759e988bd862e3fe1be46a994272793",
    )
    validate_emf(document)
    assert (document["RateLimited"], document["Status4xx"], document["Latency"]) == (1, 1, 12.5)
    assert document["_aws"]["Timestamp"] == 1_700_000_000_000


@pytest.mark.parametrize(
    "namespace",
    ["zahlungsverkehr-ü", "n" * 256, ":shop"],
    ids=["non_ascii", "long", "leading_colon"],
)
def test_a_namespace_cloudwatch_refuses_fails_the_build_not_every_request_line(namespace):
    # Found only when the first request built its metrics, it cost every request its line.
    with pytest.raises(ConfigError):
        LogConfig(metrics_namespace=namespace)


def test_a_namespace_starting_with_a_colon_is_refused_as_the_cloudwatch_api_refuses_it():
    """CloudWatch's own model (botocore's service-2.json: Namespace, pattern "[^:].*",
    1-255 characters) refuses ":shop", so its metrics would never exist."""
    import re

    import botocore.session

    model = botocore.session.get_session().get_service_model("cloudwatch")
    rule = model.shape_for("Namespace").metadata
    assert re.fullmatch(rule["pattern"], ":shop") is None
    assert re.fullmatch(rule["pattern"], "shop")
    with pytest.raises(ConfigError):
        emf_document(
            namespace=":shop", metrics={"Orders": (1, "Count")}, dimensions={}, timestamp_ms=0
        )


async def test_a_route_with_non_ascii_characters_keeps_its_metrics(capsys):
    # CloudWatch drops every metric of a line whose dimension value is not ASCII.
    app = stdout_app()
    app.add_route("/café/{id}", lambda request: {}, ["GET"])
    await fetch(app, "/caf%C3%A9/1")
    document = json.loads(capsys.readouterr().out)
    validate_emf(document)
    assert document["Route"] == "/caf%C3%A9/{id}"
    assert document["Attributes"]["http.route"] == "/café/{id}"


async def test_a_route_past_1024_characters_keeps_its_metrics():
    sink = MemorySink()
    app = lambda_app(sink)
    route = "/" + "r" * 1100
    app.add_route(route, lambda request: {}, ["GET"])
    await fetch(app, route)
    (document,) = sink.records
    validate_emf(dict(document))
    assert document["Route"] == route[:1024]


@pytest.mark.parametrize(
    ("service", "dimension"),
    [("Bestellungen-ü", "Bestellungen-%C3%BC"), (" ", "%20"), ("a\nb", "a%0Ab")],
    ids=["non_ascii", "blank", "control_character"],
)
async def test_a_service_name_cloudwatch_refuses_keeps_the_metrics(capsys, service, dimension):
    app = stdout_app(env={"AWS_LAMBDA_FUNCTION_NAME": "api", "OTEL_SERVICE_NAME": service})
    await fetch(app, "/ok/1")
    document = json.loads(capsys.readouterr().out)
    validate_emf(document)
    assert document["Service"] == dimension
    assert document["Resource"]["service.name"] == service


@pytest.mark.parametrize(
    "timestamp_ms",
    [1.7e12, "1700000000000", True, -1, 1_700_000_000_000_000_000, 1_700_000_000_000_000],
    ids=["float", "string", "boolean", "negative", "nanoseconds", "microseconds"],
)
def test_emf_document_refuses_a_timestamp_that_is_no_whole_milliseconds(timestamp_ms):
    with pytest.raises(ConfigError):
        emf_document(
            namespace="shop",
            metrics={"Orders": (1, "Count")},
            dimensions={"Service": "a"},
            timestamp_ms=timestamp_ms,
        )


def test_a_dimension_name_of_250_characters_is_valid_emf():
    # The specification's schema: a DimensionReference is 1-250 characters (a metric
    # name and a namespace up to 1024), where the API's Dimension names take 255.
    document = emf_document(
        namespace="shop",
        metrics={"Orders": (1, "Count")},
        dimensions={"d" * 250: "a"},
        timestamp_ms=0,
    )
    validate_emf(document)


def test_emf_document_takes_milliseconds_up_to_the_year_9999():
    document = emf_document(
        namespace="shop",
        metrics={"Orders": (1, "Count")},
        dimensions={"Service": "a"},
        timestamp_ms=253_402_300_799_999,
    )
    validate_emf(document)


def test_request_metrics_refuses_a_timestamp_in_seconds_as_a_float():
    request = Request("GET", "/x")
    with pytest.raises(ConfigError):
        request_metrics(
            request,
            Response.json({}),
            0.01,
            namespace="shop",
            service="api",
            timestamp_ms=1_700_000_000.5,
            trace_id=None,
        )
