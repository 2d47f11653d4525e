"""Results the service cannot deliver (over 6 MB, over 1 MB from an ALB) answered by the app.

Past the limit Lambda refuses the result and API Gateway, the Function URL or the ALB
sends a 502 of its own, while the request was logged as answered; the app answers a
500 problem instead, and logs that.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from daloy_edge_aws_lambda import handler, protect
from daloy_edge_aws_lambda._limits import ALB_MAX_RESULT, LAMBDA_MAX_RESULT, result_size

from daloy_edge import App, Request, Response
from tests.conformance.harness.gateways import build_event
from tests.conformance.harness.inprocess import Context
from tests.conformance.harness.servers import start_awslambdaric
from tests.conformance.harness.targets import CONFORMANCE_ENV

LAMBDA_SHAPES = ("rest-v1", "http-v2", "function-url")
ALB_SHAPES = ("alb", "alb-multi")


def sized_app() -> App:
    # No Server-Timing: its digits vary, and the exact-limit cases count every byte.
    app = App(expose_server_timing=False)

    @app.get("/text")
    async def text(request: Request) -> Response:
        size = int(request.query.get("bytes") or 0)
        char = request.query.get("char") or "a"
        return Response(char * size, media_type="text/plain; charset=utf-8")

    @app.get("/binary")
    async def binary(request: Request) -> Response:
        return Response(b"\xff" * int(request.query.get("bytes") or 0), media_type="image/png")

    return app


def invoke(shape: str, target: str) -> dict[str, object]:
    headers = [("host", "example.test"), ("x-request-id", "fixed-request-id")]
    event = build_event(shape, "GET", target, headers, b"")
    return handler(sized_app())(event, Context())


def statuses(shape: str, target: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    result = invoke(shape, target)
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    return result["statusCode"], line["Body"]  # type: ignore[return-value]


@pytest.mark.parametrize("shape", LAMBDA_SHAPES)
def test_a_result_over_six_mb_is_a_500_problem_logged_as_500(
    shape: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, logged = statuses(shape, "/text?bytes=7000000", capsys)
    assert (status, logged) == (500, "GET /text 500")


@pytest.mark.parametrize("shape", LAMBDA_SHAPES)
def test_the_problem_for_an_undeliverable_result_keeps_the_request_id(shape: str) -> None:
    result = invoke(shape, "/text?bytes=7000000")
    headers = result.get("headers") or result["multiValueHeaders"]
    assert "application/problem+json" in str(headers["content-type"])  # type: ignore[index]
    assert "fixed-request-id" in str(headers["x-request-id"])  # type: ignore[index]
    assert len(json.dumps(result)) < 1000


def exact_body(shape: str, most: int, char: str = "a") -> int:
    """The body length whose result is exactly ``most`` bytes (one char per byte)."""
    base = result_size(invoke(shape, f"/text?bytes=1000&char={char}"))
    return 1000 + most - base


@pytest.mark.parametrize("shape", LAMBDA_SHAPES)
def test_a_result_of_exactly_the_lambda_limit_is_delivered(shape: str) -> None:
    size = exact_body(shape, LAMBDA_MAX_RESULT)
    result = invoke(shape, f"/text?bytes={size}")
    assert result["statusCode"] == 200
    assert result_size(result) == LAMBDA_MAX_RESULT


@pytest.mark.parametrize("shape", LAMBDA_SHAPES)
def test_a_result_one_byte_over_the_lambda_limit_is_a_500(shape: str) -> None:
    size = exact_body(shape, LAMBDA_MAX_RESULT) + 1
    assert invoke(shape, f"/text?bytes={size}")["statusCode"] == 500


@pytest.mark.parametrize("shape", ALB_SHAPES)
def test_an_alb_result_one_byte_over_one_mb_is_a_500(shape: str) -> None:
    size = exact_body(shape, ALB_MAX_RESULT)
    assert invoke(shape, f"/text?bytes={size}")["statusCode"] == 200
    assert invoke(shape, f"/text?bytes={size + 1}")["statusCode"] == 500


def test_two_mb_is_delivered_from_an_http_api_but_not_from_an_alb() -> None:
    assert invoke("http-v2", "/text?bytes=2000000")["statusCode"] == 200
    assert invoke("alb", "/text?bytes=2000000")["statusCode"] == 500


@pytest.mark.parametrize("shape", LAMBDA_SHAPES)
def test_a_binary_body_under_six_mb_whose_base64_is_over_is_a_500(shape: str) -> None:
    # 4.8 MB of bytes is 6.4 MB of base64.
    assert invoke(shape, "/binary?bytes=4800000")["statusCode"] == 500


def test_control_characters_are_counted_as_the_json_escapes_they_become() -> None:
    # 1.1 MB of "\x01" is 6.6 MB of "\u0001" in the result.
    assert invoke("http-v2", "/text?bytes=1100000&char=%01")["statusCode"] == 500


@pytest.mark.parametrize(
    ("runtime", "status"), [("AWS_Lambda_python3.11", 500), ("AWS_Lambda_python3.12", 200)]
)
def test_non_ascii_text_is_counted_as_the_runtime_writes_it(
    monkeypatch: pytest.MonkeyPatch, runtime: str, status: int
) -> None:
    # 2.5 MB of "é" is 5 MB of UTF-8, which the python3.12 runtime posts as it is, and
    # 15 MB as the "\u00e9" escapes earlier runtimes write.
    monkeypatch.setitem(os.environ, "AWS_EXECUTION_ENV", runtime)
    assert invoke("http-v2", "/text?bytes=2500000&char=%C3%A9")["statusCode"] == status


def test_a_plain_handler_returning_over_six_mb_is_a_500_problem() -> None:
    @protect()
    def lambda_handler(event, context):  # type: ignore[no-untyped-def]
        return {"statusCode": 200, "body": "x" * 7_000_000}

    event = build_event("http-v2", "GET", "/", [("host", "example.test")], b"")
    assert lambda_handler(event, Context())["statusCode"] == 500


@pytest.mark.slow
def test_the_real_runtime_client_delivers_the_problem_for_a_result_over_six_mb(
    tmp_path: Path,
) -> None:
    # The local Runtime API refuses a result over 6,291,556 bytes with 413, as Lambda's
    # does: the 7 MB result failed the invocation, which API Gateway answers with its own
    # 502.
    runtime = start_awslambdaric(
        "tests.conformance.probe_app.lambda_handler", "http-v2", CONFORMANCE_ENV, tmp_path / "log"
    )
    try:
        reply = runtime.get("/large?bytes=7000000")
        delivered = runtime.get("/large?bytes=6000000")
    finally:
        runtime.close()
    assert reply.status == 500
    assert reply.headers.get("content-type") == "application/problem+json"
    assert (delivered.status, len(delivered.body)) == (200, 6_000_000)
