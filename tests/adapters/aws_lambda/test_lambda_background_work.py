"""Work an invocation leaves on the loop: when it runs, and whose ids its records carry."""

from __future__ import annotations

import asyncio

from daloy_edge_aws_lambda import handler

from daloy_edge import App, Request, Response
from daloy_edge.observability import LogConfig, MemorySink, RequestLog, get_logger
from tests.conformance.harness.gateways import build_event
from tests.conformance.harness.inprocess import Context


def invoke(lambda_handler, target: str, trace: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    parent = f"00-{trace * 32}-00f067aa0ba902b7-01"
    headers = [("host", "example.test"), ("traceparent", parent)]
    event = build_event("http-v2", "GET", target, headers, b"")
    return lambda_handler(event, Context(remaining_ms=60_000))  # type: ignore[no-any-return]


def test_task_left_on_the_loop_logs_its_own_invocation_during_the_next() -> None:
    # Lambda freezes the environment once the handler returns: a task the handler did
    # not await runs only while a later invocation runs the loop. Its record must still
    # name the invocation that started it, never the one it happens to run in.
    sink = MemorySink()
    app = App(request_log=RequestLog(LogConfig(stdout=False, sinks=[sink], env={})), env={})
    spawned: list[asyncio.Task[None]] = []

    async def audit() -> None:
        await asyncio.sleep(0)
        get_logger().info("audited")

    @app.get("/order")
    async def order(request: Request) -> Response:
        spawned.append(asyncio.create_task(audit()))
        return Response.json({"ok": True})

    @app.get("/other")
    async def other(request: Request) -> Response:
        await asyncio.sleep(0.01)
        return Response.json({"ok": True})

    lambda_handler = handler(app)
    first = invoke(lambda_handler, "/order", "a")
    assert not spawned[0].done()  # frozen with the environment
    invoke(lambda_handler, "/other", "b")
    assert spawned[0].done()

    records = {record["Body"]: record for record in sink.records}
    audited = records["audited"]
    assert audited["TraceId"] == "a" * 32
    assert audited["SpanId"] == records["GET /order 200"]["SpanId"]
    assert audited["Attributes"]["http.request.id"] == first["headers"]["x-request-id"]  # type: ignore[index]
