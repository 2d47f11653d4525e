"""Every route of the reference app writes exactly one OTel-shaped, redacted line to stdout.

Routes come from ``app.routes()``, so routes other areas add are covered without edits here.
"""

from __future__ import annotations

import json
import re

import pytest

from daloy_edge.testing import TestClient
from examples.secure_app import create_app

ENV = {"DALOY_ENV": "production"}
BEARER = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbmEiLCJzY29wZSI6InJlcG9ydHM6cmVhZCJ9.c2lnLXZhbHVl"
COOKIE = "__Host-session=c00kie-s3cret-value-0123"
API_KEY = "xak-s3cret-0123456789"
SECRETS = (BEARER, "c00kie-s3cret-value-0123", API_KEY)
ATTRIBUTE_KEYS = {
    "http.request.method",
    "url.path",
    "http.response.status_code",
    "client.address",
    "user_agent.original",
    "http.server.request.duration",
    "http.request.id",
}


def concrete(pattern: str) -> str:
    path = re.sub(r"\{[A-Za-z_][A-Za-z0-9_]*:path\}", "hello.txt", pattern)
    return re.sub(r"\{[A-Za-z_][A-Za-z0-9_]*\}", "x1", path)


ROUTES = [(pattern, method) for pattern, methods in create_app(ENV).routes() for method in methods]


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(ENV))


def request_lines(out: str) -> list[dict[str, object]]:
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [r for r in records if r.get("EventName") == "http.server.request"]


@pytest.mark.parametrize(("pattern", "method"), ROUTES, ids=[f"{m} {p}" for p, m in ROUTES])
def test_route_writes_one_otel_log_line_to_stdout(client, capsys, pattern, method):
    capsys.readouterr()
    response = client.request(
        method,
        concrete(pattern),
        headers={
            "user-agent": "conformance/1",
            "authorization": f"Bearer {BEARER}",
            "cookie": COOKIE,
            "x-api-key": API_KEY,
        },
    )
    (record,) = request_lines(capsys.readouterr().out)
    for key in (
        "Timestamp",
        "ObservedTimestamp",
        "SeverityText",
        "SeverityNumber",
        "Body",
        "Attributes",
        "TraceId",
        "SpanId",
        "TraceFlags",
        "Resource",
    ):
        assert key in record
    attributes = record["Attributes"]
    assert set(attributes) >= ATTRIBUTE_KEYS
    assert attributes["http.request.method"] == method
    assert attributes["http.response.status_code"] == response.status
    assert attributes["http.request.id"] == response.headers["x-request-id"]
    # Mount middleware (auth on /api, /admin) can answer before the router matches a
    # route; then no route is known and none is claimed.
    assert attributes.get("http.route") in (pattern, None)
    if response.status < 400:
        assert attributes["http.route"] == pattern
    assert record["Resource"]["service.name"]


@pytest.mark.parametrize(("pattern", "method"), ROUTES, ids=[f"{m} {p}" for p, m in ROUTES])
def test_route_log_never_contains_credentials(capsys, pattern, method):
    # Headers and span records on, so the credentials reach the logger and must be removed.
    app = create_app({**ENV, "DALOY_LOG_HEADERS": "1", "DALOY_LOG_SPANS": "1"})
    capsys.readouterr()
    response = TestClient(app).request(
        method,
        concrete(pattern),
        headers={"authorization": f"Bearer {BEARER}", "cookie": COOKIE, "x-api-key": API_KEY},
    )
    out = capsys.readouterr().out
    assert '"authorization":"[REDACTED]"' in out
    set_cookies = [
        line.split(";", 1)[0].partition("=")[2] for line in response.headers.get_all("set-cookie")
    ]
    for secret in (*SECRETS, *[value for value in set_cookies if len(value) >= 8]):
        assert secret not in out


def test_reference_app_shows_phases_to_operators_only():
    client = TestClient(create_app(ENV))
    operator = client.get("/health", client="127.0.0.1").headers["server-timing"]
    outsider = client.get("/health", client="203.0.113.7").headers["server-timing"]
    assert "handler;dur=" in operator
    assert outsider.startswith("total;dur=")


def test_reference_app_ships_to_cloudwatch_only_when_configured():
    from daloy_edge_aws_lambda.cloudwatch import CloudWatchLogsShipper

    plain = create_app(ENV)
    shipping = create_app(
        {**ENV, "DALOY_CLOUDWATCH_LOG_GROUP": "/daloy/ref", "AWS_REGION": "eu-west-1"}
    )
    assert not any(isinstance(s, CloudWatchLogsShipper) for s in plain.request_log.sinks)
    assert any(isinstance(s, CloudWatchLogsShipper) for s in shipping.request_log.sinks)
