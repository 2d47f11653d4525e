"""Lambda: warm per-invocation cost of an HTTP API v2 event through the adapter.

The handler is called in-process with the same event, as a warm container does. The
"core only" row serves the same request without event translation, so the difference
is what the adapter itself costs. Every default is on, the request log included (written
to /dev/null). This process has asyncio loaded, so each invocation runs as a task on the
runner's event loop, as in a function that imports an async client; the children of
case_serverless never load asyncio, so theirs run without a loop. Cold start against the
anchors is case_serverless.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bench._timing import Row, interleaved_us, with_ratio

ROOT = Path(__file__).resolve().parent.parent
CASE_WARM = "warm: http-api-v2 GET /health"


class _Context:
    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def health_event() -> dict[str, object]:
    event = json.loads((ROOT / "tests/fixtures/events/apigw_http_v2.json").read_text())
    event.update(rawPath="/health", rawQueryString="", body=None, isBase64Encoded=False)
    event.pop("cookies", None)
    event["headers"] = {
        "host": "api.example.com",
        "user-agent": "bench",
        "accept": "*/*",
        "x-forwarded-for": "203.0.113.10",
        "x-forwarded-proto": "https",
        "x-forwarded-port": "443",
        "x-amzn-trace-id": "Root=1-5e723db2-8d6bf7ad6c0c9a1e1d52a7a4",
    }
    http = event["requestContext"]["http"]  # type: ignore[index]
    http.update(method="GET", path="/health", sourceIp="203.0.113.10")
    return event


def bare_handler(event: dict[str, object], context: object) -> dict[str, object]:
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"status": "ok"}),
    }


def warm_rows() -> list[Row]:
    from daloy_edge_aws_lambda import handler

    from examples.secure_app import create_app

    event, context = health_event(), _Context()
    app = create_app({})
    lambda_handler = handler(app)
    lambda_handler(event, context)
    # The same app without the adapter: what the core costs on a reused loop.
    from daloy_edge import Headers, Request

    dispatch = app.build()
    loop = asyncio.new_event_loop()
    headers = list(event["headers"].items())  # type: ignore[attr-defined]

    def core_only() -> object:
        request = Request("GET", "/health", headers=Headers(headers), client="203.0.113.10")
        return loop.run_until_complete(dispatch(request))

    try:
        timings = interleaved_us(
            {
                "bare handler": lambda: bare_handler(event, context),
                "daloy_edge handler(app)": lambda: lambda_handler(event, context),
                "core only (no translation)": core_only,
            }
        )
    finally:
        loop.close()
    rows = [Row(CASE_WARM, name, us) for name, us in timings.items()]
    return with_ratio(rows, "daloy_edge handler(app)")


def run() -> list[Row]:
    """Warm rows for the Lambda adapter."""
    return warm_rows()
