"""Logging from work a request hands off: tasks, callbacks, threads, and no request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from daloy_edge import App, Headers, Request, Response
from daloy_edge.observability import LogConfig, MemorySink, RequestLog, _bound, get_logger
from daloy_edge.observability._sinks import set_console
from daloy_edge.testing import TestClient

IBAN = "DE89370400440532013000"


@pytest.fixture
def fresh_fallback(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The logger used outside any request, built anew from the environment set here."""
    monkeypatch.setattr(_bound, "_fallback", None)
    yield


def make_app(**options: object) -> tuple[App, MemorySink]:
    sink = MemorySink()
    config = {"stdout": False, "sinks": [sink], "env": {}, **options}
    return App(request_log=RequestLog(LogConfig(**config)), env={}), sink


def by_body(sink: MemorySink) -> dict[object, dict[str, object]]:
    return {record["Body"]: dict(record) for record in sink.records}


def stdout_records(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines()]


def test_logger_outside_a_request_redacts_the_keys_the_environment_names(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fresh_fallback: None
) -> None:
    # The app redacted "iban" on its own records, as DALOY_LOG_REDACT_KEYS asked; a
    # helper logging from an executor thread (no request current) wrote it in clear.
    monkeypatch.setenv("DALOY_LOG_REDACT_KEYS", "iban")
    app = App()

    def settle() -> None:
        get_logger().warning("settlement queued", iban=IBAN)

    @app.get("/pay")
    async def pay(request: Request) -> dict[str, bool]:
        await asyncio.get_running_loop().run_in_executor(None, settle)
        return {"ok": True}

    TestClient(app).get("/pay")
    out = capsys.readouterr().out
    (settled,) = (r for r in stdout_records(out) if r["Body"] == "settlement queued")
    assert settled["Attributes"] == {"iban": "[REDACTED]"}
    assert IBAN not in out


def test_logger_outside_a_request_keeps_the_environment_log_level(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fresh_fallback: None
) -> None:
    monkeypatch.setenv("DALOY_LOG_LEVEL", "WARN")
    get_logger().info("start-up detail")
    get_logger().warning("start-up warning")
    bodies = [r["Body"] for r in stdout_records(capsys.readouterr().out)]
    assert bodies == ["start-up warning"]


async def test_task_a_request_spawned_logs_that_request_while_another_is_served() -> None:
    # Request A hands work to a task and answers; the task logs while request B is in
    # its handler. Its record must name A (the request that spawned it, finished or
    # not), never B, and carry the request id A's client was given.
    app, sink = make_app()
    b_running = asyncio.Event()
    b_may_finish = asyncio.Event()
    spawned: list[asyncio.Task[None]] = []

    async def send_receipt() -> None:
        await b_running.wait()
        get_logger().info("receipt sent")
        b_may_finish.set()

    @app.get("/a")
    async def a(request: Request) -> Response:
        spawned.append(asyncio.create_task(send_receipt()))
        return Response.json({"ok": True})

    @app.get("/b")
    async def b(request: Request) -> Response:
        b_running.set()
        await b_may_finish.wait()
        get_logger().info("b done")
        return Response.json({"ok": True})

    def traced(letter: str) -> Request:
        parent = f"00-{letter * 32}-00f067aa0ba902b7-01"
        headers = Headers({"traceparent": parent})
        return Request("GET", f"/{letter}", headers=headers, client="127.0.0.1")

    answer_a = await asyncio.create_task(app.handle(traced("a")))
    answer_b = await asyncio.create_task(app.handle(traced("b")))
    await spawned[0]

    records = by_body(sink)
    receipt, line_a = records["receipt sent"], records["GET /a 200"]
    assert (receipt["TraceId"], receipt["SpanId"]) == (line_a["TraceId"], line_a["SpanId"])
    assert receipt["Attributes"] == {
        "http.request.id": answer_a.headers["x-request-id"],
        "http.request.method": "GET",
    }
    helper_b = records["b done"]
    assert helper_b["TraceId"] == "b" * 32
    assert helper_b["Attributes"]["http.request.id"] == answer_b.headers["x-request-id"]  # type: ignore[index]


def test_helper_logger_on_workers_writes_where_the_request_logger_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A helper's get_logger() described no runtime: on Workers its ERROR went to
    # console.log (stdout) rather than console.error, without the request's resource.
    app = App(request_log=RequestLog(LogConfig(env={})), env={})
    console: list[dict[str, object]] = []

    @app.get("/charge")
    async def charge(request: Request) -> Response:
        get_logger().error("card declined")
        return Response.json({"ok": False})

    set_console(lambda severity, line: console.append(json.loads(line)))
    try:
        asyncio.run(app.handle(Request("GET", "/charge", env={}, runtime="cloudflare")))
    finally:
        set_console(None)
    (helper,) = console
    (line,) = stdout_records(capsys.readouterr().out)
    assert helper["Body"] == "card declined"
    assert helper["Resource"] == line["Resource"]
    assert helper["Resource"]["cloud.provider"] == "cloudflare"  # type: ignore[index]
