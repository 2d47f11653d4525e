"""examples/workers (the reference app's Worker bundle) served in real Pyodide."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.servers import ROOT
from tests.support.workers import PyodideHarness, WorkersClient

pytestmark = pytest.mark.slow

ENV = {"DALOY_REQUEST_TIMEOUT_MS": "300", "DALOY_MAX_BODY_BYTES": "4096"}


@pytest.fixture(scope="module")
def worker(workers_harness: PyodideHarness) -> Iterator[WorkersClient]:
    yield WorkersClient(workers_harness, env=ENV, isolate="reference", client_ip="203.0.113.9")


def test_health(worker: WorkersClient) -> None:
    response = worker.request("GET", "/health")
    assert response.status == 200 and response.json() == {"status": "ok"}


def test_every_response_has_request_id_and_server_timing(worker: WorkersClient) -> None:
    response = worker.request("GET", "/health")
    assert response.header("x-request-id") and "total;dur=" in (
        response.header("server-timing") or ""
    )


def test_echo_is_json_never_html(worker: WorkersClient) -> None:
    response = worker.request("GET", "/echo?msg=%3Cscript%3Ealert(1)%3C/script%3E")
    assert response.header("content-type") == "application/json"
    assert b"<script>" not in response.body
    assert response.json() == {"msg": "<script>alert(1)</script>"}


def test_boom_is_opaque_500(worker: WorkersClient) -> None:
    response = worker.request("GET", "/boom")
    assert response.status == 500 and response.header("content-type") == "application/problem+json"
    assert b"boom" not in response.body.replace(b"internal-error", b"")
    assert b"Traceback" not in response.body


def test_static_file_is_served_from_the_bundle(worker: WorkersClient) -> None:
    response = worker.request("GET", "/static/hello.txt")
    assert response.status == 200
    assert response.body == (ROOT / "examples" / "static" / "hello.txt").read_bytes()


def test_static_css_has_its_media_type(worker: WorkersClient) -> None:
    response = worker.request("GET", "/static/style.css")
    assert response.status == 200 and (response.header("content-type") or "").startswith("text/css")


def test_big_is_large_json(worker: WorkersClient) -> None:
    response = worker.request("GET", "/big")
    assert response.status == 200 and len(response.body) > 150_000
    assert len(response.json()["items"]) == 1600


def test_unknown_route_is_404_problem(worker: WorkersClient) -> None:
    response = worker.request("GET", "/nope")
    assert response.status == 404 and response.header("content-type") == "application/problem+json"


def test_wrong_method_is_405_with_allow(worker: WorkersClient) -> None:
    response = worker.request("POST", "/health", body=b"{}")
    assert response.status == 405 and "GET" in (response.header("allow") or "")


@pytest.mark.parametrize(
    "path",
    [
        "/static/..%2fsecure_app.py",
        "/static/%252e%252e/secure_app.py",
        "/static/..%5csecure_app.py",
    ],
)
def test_encoded_traversal_is_400(worker: WorkersClient, path: str) -> None:
    assert worker.request("GET", path).status == 400


@pytest.mark.parametrize("path", ["/static/../secure_app.py", "/static/%2e%2e/secure_app.py"])
def test_dot_segments_resolved_by_the_url_parser_never_reach_a_file(
    worker: WorkersClient, path: str
) -> None:
    # The platform's URL parser resolves these before the Worker runs (here: /secure_app.py).
    response = worker.request("GET", path)
    assert response.status == 404 and b"create_app" not in response.body


def test_oversized_declared_body_is_413_on_a_route_that_reads_it(
    workers_harness: PyodideHarness,
) -> None:
    response = workers_harness.fetch(
        "POST",
        "https://worker.example/upload",
        entry="adapter_worker:Default",
        isolate="reference-413",
        env={"MAX_BODY": "4096"},
        body=b"x" * 5000,
    )
    assert response.status == 413


def test_slow_past_deadline_is_504(worker: WorkersClient) -> None:
    assert worker.request("GET", "/slow?ms=2000").status == 504


def test_a_number_in_wrangler_vars_configures_the_app_as_its_text_would(
    workers_harness: PyodideHarness,
) -> None:
    # DALOY_REQUEST_TIMEOUT_MS = 300 (a TOML number) reaches the Worker as a JSON number;
    # it was left out of the environment and the 10 s default served this request.
    response = workers_harness.fetch(
        "GET",
        "https://worker.example/slow?ms=1000",
        isolate="reference-number-var",
        env={"DALOY_REQUEST_TIMEOUT_MS": 300},  # type: ignore[dict-item]
    )
    assert response.status == 504


def test_slow_within_deadline_is_200(worker: WorkersClient) -> None:
    assert worker.request("GET", "/slow?ms=10").status == 200


def test_head_has_headers_and_no_body(worker: WorkersClient) -> None:
    response = worker.request("HEAD", "/health")
    assert response.status == 200 and response.body == b""


def test_host_header_becomes_the_url_authority(workers_harness: PyodideHarness) -> None:
    client = WorkersClient(workers_harness, entry="adapter_worker:Default", isolate="host")
    response = client.request("GET", "/request", headers=[("Host", "api.example.org")])
    assert response.json()["host"] == "api.example.org"


def test_raw_line_break_in_the_target_is_refused_at_the_edge(worker: WorkersClient) -> None:
    response = worker.request("GET", "/health\r\nX-Injected: 1")
    assert response.status == 400 and response.refused_by_platform


def test_header_value_with_line_break_is_refused_at_the_edge(worker: WorkersClient) -> None:
    response = worker.request("GET", "/health", headers=[("x-test", "a\r\nx-injected: 1")])
    assert response.status == 400 and response.refused_by_platform


def test_worker_generated_for_an_app_module_serves_it(workers_harness: PyodideHarness) -> None:
    entry = workers_harness.add_worker("generated_reference", "examples.secure_app")
    client = WorkersClient(workers_harness, entry=entry, isolate="generated")
    assert client.request("GET", "/health").json() == {"status": "ok"}


def test_a_configuration_the_app_refuses_is_a_503_problem_not_a_thrown_error(
    workers_harness: PyodideHarness,
) -> None:
    # Built on the first request, create_app's ConfigError reached the runtime: its
    # error page, with no request id and no log line.
    response = workers_harness.fetch(
        "GET",
        "https://worker.example/health",
        isolate="reference-bad-config",
        env={"DALOY_MAX_BODY_BYTES": "64k"},
    )
    assert response.status == 503 and response.header("retry-after") == "1"
    assert response.header("content-type") == "application/problem+json"
    assert response.header("x-request-id") == response.json()["request_id"]


def test_a_configuration_the_app_refuses_is_logged_with_its_error(
    workers_harness: PyodideHarness,
) -> None:
    response = workers_harness.fetch(
        "GET",
        "https://worker.example/health",
        isolate="reference-bad-config-log",
        env={"DALOY_MAX_BODY_BYTES": "64k"},
    )
    line = json.loads([text for level, text in response.console if level == "error"][-1])
    assert line["SeverityText"] == "ERROR"
    assert line["Attributes"]["http.response.status_code"] == 503
    assert "DALOY_MAX_BODY_BYTES" in line["Attributes"]["exception.message"]
