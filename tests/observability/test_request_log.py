"""The request log: one OTel-shaped line per request, handler logging, sinks."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from daloy_edge import App, BadRequest, KeyRing, Request, Response, Router, Unauthorized
from daloy_edge.middleware.basic_auth import BasicAuth, BasicAuthConfig
from daloy_edge.middleware.client_ip import TrustedProxies, TrustedProxiesConfig
from daloy_edge.observability import (
    LogConfig,
    LoggerSink,
    MemorySink,
    RequestLog,
    detect_resource,
    encode,
    get_logger,
)
from daloy_edge.observability._sinks import set_console
from daloy_edge.testing import TestClient
from daloy_edge.types import CallNext

OTEL_KEYS = {
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
}
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbmEifQ.bm90LWEtcmVhbC1zaWduYXR1cmU"
COOKIE_VALUE = "c00kie-value-0123456789"
SET_COOKIE_VALUE = "n3w-s3ss10n-v4lue-0123"


def make_app(**options: object) -> tuple[App, MemorySink]:
    sink = MemorySink()
    config = {"stdout": False, "sinks": [sink], "env": {}, **options}
    app = App(request_log=RequestLog(LogConfig(**config)), env={})

    @app.get("/items/{item_id}")
    async def item(request: Request) -> Response:
        return Response.json({"id": request.path_params["item_id"]})

    @app.get("/boom")
    async def boom(request: Request) -> Response:
        raise RuntimeError("database said password=hunter2-from-db")

    @app.get("/bad")
    async def bad(request: Request) -> Response:
        raise BadRequest("ms must be an integer")

    @app.get("/note")
    async def note(request: Request) -> Response:
        get_logger(request).info(
            "card charged", amount=12, card_token="tok_live_abcdef", user="ana"
        )
        return Response.json({"ok": True})

    @app.get("/oops")
    async def oops(request: Request) -> Response:
        try:
            raise ValueError("upstream rejected api_key=ak_live_0123456789")
        except ValueError:
            get_logger(request).exception("upstream call failed")
        return Response.json({"ok": False})

    @app.post("/login")
    async def login(request: Request) -> Response:
        response = Response.empty()
        response.set_cookie("__Host-session", SET_COOKIE_VALUE)
        get_logger(request).info("login", headers=request.headers, body=await request.json())
        return response

    return app, sink


def request_records(sink: MemorySink) -> list[dict[str, object]]:
    return [dict(r) for r in sink.records if r.get("EventName") == "http.server.request"]


def test_request_record_has_otel_log_data_model_keys():
    app, sink = make_app()
    TestClient(app).get("/items/7", headers={"user-agent": "probe/1.0"})
    (record,) = request_records(sink)
    assert set(record) >= OTEL_KEYS
    assert re.fullmatch(r"[0-9a-f]{32}", str(record["TraceId"]))
    assert re.fullmatch(r"[0-9a-f]{16}", str(record["SpanId"]))
    assert record["SeverityText"] == "INFO" and record["SeverityNumber"] == 9


def test_request_record_uses_http_semantic_convention_attributes():
    app, sink = make_app()
    response = TestClient(app).get("/items/7", headers={"user-agent": "probe/1.0"})
    attributes = request_records(sink)[0]["Attributes"]
    assert attributes["http.request.method"] == "GET"
    assert attributes["url.path"] == "/items/7"
    assert attributes["http.route"] == "/items/{item_id}"
    assert attributes["http.response.status_code"] == 200
    assert attributes["client.address"] == "127.0.0.1"
    assert attributes["user_agent.original"] == "probe/1.0"
    assert attributes["http.request.id"] == response.headers["x-request-id"]
    assert attributes["http.server.request.duration"] >= 0


def test_a_client_behind_a_garbage_forwarded_hop_is_not_logged_as_the_proxy():
    sink = MemorySink()
    resolver = TrustedProxies(TrustedProxiesConfig(proxies=("10.0.0.0/8",)))
    config = LogConfig(stdout=False, sinks=[sink], env={})
    app = App(middleware=[resolver], request_log=RequestLog(config), env={})

    @app.get("/ping")
    async def ping(request: Request) -> Response:
        return Response.json({"pong": True})

    TestClient(app).get("/ping", client="10.0.0.7", headers={"x-forwarded-for": "garbage"})
    attributes = request_records(sink)[0]["Attributes"]
    assert "client.address" not in attributes
    assert attributes["network.peer.address"] == "10.0.0.7"


def test_request_line_is_written_to_stdout_once(capsys):
    app = App(env={})

    @app.get("/ping")
    async def ping(request: Request) -> Response:
        return Response.json({"pong": True})

    TestClient(app).get("/ping")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 1
    assert lines[0]["Body"] == "GET /ping 200"


def test_request_log_false_writes_nothing(capsys):
    app = App(env={}, request_log=False)
    app.add_route("/x", lambda request: {"ok": True}, ["GET"])
    TestClient(app).get("/x")
    assert capsys.readouterr().out == ""


def test_server_error_is_error_with_scrubbed_stacktrace():
    app, sink = make_app()
    TestClient(app).get("/boom")
    record = request_records(sink)[0]
    attributes = record["Attributes"]
    assert record["SeverityText"] == "ERROR" and record["SeverityNumber"] == 17
    assert attributes["exception.type"] == "RuntimeError"
    assert "Traceback" in attributes["exception.stacktrace"]
    assert "hunter2-from-db" not in json.dumps(record)


@pytest.mark.parametrize("where", ["path", "user-agent"])
def test_request_line_cut_never_keeps_the_start_of_a_split_credential(where):
    app, sink = make_app()
    # The 1024-character cut falls inside the password; its ``@`` comes after the cut.
    url = "https://admin:Sup3rS3cretPassw0rdValue@internal.example.com"
    text = "x " * ((1024 - len("https://admin:") - 12) // 2) + url
    if where == "path":
        TestClient(app).get("/items/" + text.replace(" ", "-")[7:])
        logged = request_records(sink)[0]["Attributes"]["url.path"]
    else:
        TestClient(app).get("/items/7", headers={"user-agent": text})
        logged = request_records(sink)[0]["Attributes"]["user_agent.original"]
    assert "Sup3r" not in logged
    assert "https://admin:" in logged


def test_client_error_is_warn_without_stacktrace():
    app, sink = make_app()
    TestClient(app).get("/bad")
    record = request_records(sink)[0]
    assert record["SeverityText"] == "WARN"
    assert record["Attributes"]["exception.message"] == "ms must be an integer"
    assert "exception.stacktrace" not in record["Attributes"]


def test_refused_credentials_are_logged_without_a_stacktrace():
    # A wrong password is the client's error, answered 401 from the middleware's own
    # exception: a trace on every refused attempt cost its formatting and scrubbing and a
    # kilobyte of log per request, for nothing to fix.
    sink = MemorySink()
    app = App(
        request_log=RequestLog(LogConfig(stdout=False, sinks=[sink], env={})),
        env={},
    )
    users = BasicAuthConfig(users={"ops": KeyRing(["right-password"])})

    @app.get("/stats", middleware=[BasicAuth(users)])
    async def stats(request: Request) -> Response:
        return Response.json({})

    wrong = "Basic " + base64.b64encode(b"ops:wrong-password").decode()
    assert TestClient(app).get("/stats", headers={"authorization": wrong}).status == 401
    attributes = request_records(sink)[0]["Attributes"]
    assert attributes["exception.message"] == "unknown user or wrong password"
    assert "exception.stacktrace" not in attributes
    assert "error.type" not in attributes


def test_authorization_cookie_and_set_cookie_values_never_reach_any_sink(capsys):
    app, sink = make_app(log_headers=True, spans=True, metrics=True, stdout=True)
    TestClient(app).post(
        "/login",
        json={"user": "ana", "password": "pw-in-body-123"},
        headers={
            "Authorization": f"Bearer {BEARER}",
            "Cookie": f"__Host-session={COOKIE_VALUE}",
            "X-Api-Key": "xak-0123456789",
        },
    )
    written = capsys.readouterr().out + "\n".join(sink.lines)
    # The headers were logged (so the check below can fail), with their values replaced.
    assert '"cookie":"[REDACTED]"' in written and '"set-cookie":"[REDACTED]"' in written
    for secret in (BEARER, COOKIE_VALUE, SET_COOKIE_VALUE, "xak-0123456789", "pw-in-body-123"):
        assert secret not in written


def mounted_app() -> tuple[App, MemorySink]:
    """An app whose ``/admin`` mount refuses every request in its own middleware."""
    app, sink = make_app()
    admin = Router()

    @admin.get("/users/{user_id}")
    async def user(request: Request) -> Response:
        return Response.json({"id": request.path_params["user_id"]})

    async def refuse(request: Request, call_next: CallNext) -> Response:
        raise Unauthorized("credentials required")

    app.mount("/admin", admin, middleware=[refuse])
    return app, sink


def test_request_refused_by_a_mounts_middleware_is_logged_under_its_route():
    # The mount's guards run before the mounted router matches: a 401 on a route that
    # exists must still name it (and count under it in the metrics), not UNMATCHED.
    app, sink = mounted_app()
    assert TestClient(app).get("/admin/users/7").status == 401
    (record,) = request_records(sink)
    assert record["Attributes"]["http.route"] == "/admin/users/{user_id}"
    assert record["Body"] == "GET /admin/users/{user_id} 401"


@pytest.mark.parametrize(("method", "path"), [("GET", "/admin/nope"), ("POST", "/admin/users/7")])
def test_request_refused_by_a_mounts_middleware_names_no_route_it_would_not_reach(
    method: str, path: str
) -> None:
    # No route (404) or not for this method (405): nothing to name, as outside a mount.
    app, sink = mounted_app()
    assert TestClient(app).request(method, path).status == 401
    (record,) = request_records(sink)
    assert "http.route" not in record["Attributes"]


def test_handler_logger_shares_trace_and_request_id_with_request_record():
    app, sink = make_app()
    TestClient(app).get("/note")
    handler_record = next(r for r in sink.records if r["Body"] == "card charged")
    request_record = request_records(sink)[0]
    assert handler_record["TraceId"] == request_record["TraceId"]
    assert handler_record["SpanId"] == request_record["SpanId"]
    attributes = handler_record["Attributes"]
    assert attributes["http.request.id"] == request_record["Attributes"]["http.request.id"]
    assert attributes["http.route"] == "/note"


def test_handler_logger_redacts_secret_attributes():
    app, sink = make_app()
    TestClient(app).get("/note")
    attributes = next(r for r in sink.records if r["Body"] == "card charged")["Attributes"]
    assert attributes["card_token"] in {"[REDACTED]"}
    assert attributes["amount"] == 12 and attributes["user"] == "ana"


def logged_bodies(message: object) -> tuple[int, list[object]]:
    """The status of a request whose handler logs ``message``, and the Body of each
    record it logged."""
    sink = MemorySink()
    app = App(request_log=RequestLog(LogConfig(stdout=False, sinks=[sink], env={})), env={})

    @app.get("/log")
    async def log(request: Request) -> Response:
        get_logger(request).info(message)
        return Response.json({"ok": True})

    status = TestClient(app).get("/log").status
    return status, [r["Body"] for r in sink.records if r.get("EventName") is None]


@pytest.mark.parametrize(
    "message",
    [{"password": "hunter2-in-a-dict"}, ["token=hunter2-in-a-list"]],
    ids=["dict", "list"],
)
def test_handler_logger_redacts_a_container_passed_as_the_message(message: object) -> None:
    status, bodies = logged_bodies(message)
    assert status == 200
    assert len(bodies) == 1
    assert "hunter2" not in json.dumps(bodies)


@pytest.mark.parametrize(
    "message",
    [12345, None, b"password=hunter2-in-bytes", ValueError("api_key=hunter2-in-an-error")],
    ids=["int", "none", "bytes", "exception"],
)
def test_handler_logger_message_that_is_not_text_never_fails_the_request(
    message: object,
) -> None:
    status, bodies = logged_bodies(message)
    assert status == 200
    assert len(bodies) == 1
    assert "hunter2" not in json.dumps(bodies)


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise ValueError("no text")


def test_request_ending_in_an_exception_whose_str_fails_still_writes_its_line():
    sink = MemorySink()
    app = App(request_log=RequestLog(LogConfig(stdout=False, sinks=[sink], env={})), env={})

    @app.get("/unprintable")
    async def unprintable(request: Request) -> Response:
        raise UnprintableError

    assert TestClient(app).get("/unprintable").status == 500
    (record,) = request_records(sink)
    assert record["Attributes"]["exception.type"].endswith("UnprintableError")
    assert record["Attributes"]["exception.message"] == "<exception str() failed>"


def test_handler_exception_is_logged_with_scrubbed_trace():
    app, sink = make_app()
    TestClient(app).get("/oops")
    record = next(r for r in sink.records if r["Body"] == "upstream call failed")
    assert record["SeverityText"] == "ERROR"
    assert record["Attributes"]["exception.type"] == "ValueError"
    assert "ak_live_0123456789" not in json.dumps(record)


def test_a_stream_failing_after_its_line_is_an_error_record_of_its_request_redacted():
    app, sink = make_app()

    @app.get("/cut")
    async def cut(request: Request) -> Response:
        async def parts():  # type: ignore[no-untyped-def]
            yield b"first"
            raise RuntimeError("upstream said password=hunter2-mid-stream")

        return Response(stream=parts(), media_type="text/plain")

    with pytest.raises(RuntimeError):
        TestClient(app).get("/cut")
    (line,) = request_records(sink)
    (record,) = [r for r in sink.records if r.get("EventName") == "daloy.response.aborted"]
    assert record["SeverityText"] == "ERROR"
    assert record["TraceId"] == line["TraceId"] and record["SpanId"] == line["SpanId"]
    attributes = record["Attributes"]
    assert attributes["http.request.id"] == line["Attributes"]["http.request.id"]
    assert attributes["http.response.status_code"] == 200
    assert attributes["error.type"] == "RuntimeError"
    assert "hunter2-mid-stream" not in json.dumps(record)


def test_a_stream_failing_to_close_as_its_client_leaves_is_an_error_record_not_raised():
    # The stream's clean-up raised out of the log's wrapper as the server closed it: into
    # the server, which printed its text unredacted, and with no record of the request.
    app, sink = make_app()

    @app.get("/feed")
    async def feed(request: Request) -> Response:
        async def parts():  # type: ignore[no-untyped-def]
            try:
                while True:
                    yield b"event"
            finally:
                raise RuntimeError("cursor close failed: password=hunter2-on-close")

        return Response(stream=parts(), media_type="text/plain")

    async def client_leaves() -> None:
        response = await app.handle(Request("GET", "/feed", runtime="test"))
        assert response.stream is not None
        stream = aiter(response.stream)
        assert await anext(stream) == b"event"
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(client_leaves())
    (line,) = request_records(sink)
    (record,) = [r for r in sink.records if r.get("EventName") == "daloy.response.aborted"]
    assert record["Body"] == "the response body failed to close"
    assert record["TraceId"] == line["TraceId"]
    assert record["Attributes"]["error.type"] == "RuntimeError"
    assert "hunter2-on-close" not in json.dumps(record)


def test_level_drops_records_below_it():
    app, sink = make_app(level="WARN")
    client = TestClient(app)
    client.get("/note")
    client.get("/bad")
    assert [r["SeverityText"] for r in sink.records] == ["WARN"]


def test_failing_sink_neither_breaks_the_response_nor_other_sinks():
    class Broken:
        def emit(self, record, line):
            raise OSError("disk full")

    good = MemorySink()
    app, _ = make_app(sinks=[Broken(), good])
    assert TestClient(app).get("/items/1").status == 200
    assert len(good.records) == 1


def test_adapter_attributes_from_state_are_merged_and_redacted():
    app, sink = make_app()

    @app.get("/faas")
    async def faas(request: Request) -> Response:
        request.state["log.attributes"] = {"faas.invocation_id": "inv-1", "session_id": "s-9"}
        return Response.json({})

    TestClient(app).get("/faas")
    attributes = request_records(sink)[0]["Attributes"]
    assert attributes["faas.invocation_id"] == "inv-1"
    assert attributes["session_id"] == "[REDACTED]"


def test_get_logger_without_request_uses_the_current_request():
    app, sink = make_app()

    @app.get("/deep")
    async def deep(request: Request) -> Response:
        get_logger().info("deep in a helper")
        return Response.json({})

    TestClient(app).get("/deep")
    helper = next(r for r in sink.records if r["Body"] == "deep in a helper")
    assert helper["TraceId"] == request_records(sink)[0]["TraceId"]


async def test_sync_handler_in_thread_logs_with_request_trace():
    app, sink = make_app()

    @app.get("/sync")
    def sync(request: Request) -> dict[str, bool]:
        get_logger().info("from a worker thread")
        return {"ok": True}

    request = Request("GET", "/sync", sync_in_thread=True, client="127.0.0.1")
    await app.handle(request)
    threaded = next(r for r in sink.records if r["Body"] == "from a worker thread")
    assert threaded["TraceId"] == request_records(sink)[0]["TraceId"]


async def test_cancelled_request_is_logged_and_leaves_no_current_trace():
    # A request cancelled from outside (the client left, the server stops, a caller's
    # timeout) wrote no line, and its trace stayed the caller's current one: later log
    # calls there were filed under a dead request.
    import asyncio

    from daloy_edge.observability import current_trace

    app, sink = make_app()

    @app.get("/wait")
    async def wait(request: Request) -> Response:
        await asyncio.sleep(10)
        return Response.json({"ok": True})

    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):  # in this task, as a caller awaiting the app does
            await app.handle(Request("GET", "/wait", client="127.0.0.1"))
    (record,) = request_records(sink)
    assert record["Attributes"]["http.response.status_code"] == 499  # type: ignore[index]
    assert current_trace() is None


async def test_sys_exit_in_a_handler_is_answered_500_and_logged_with_its_error():
    # argparse or click reading client input calls sys.exit(): let through, one request
    # ended the Lambda environment or the worker (and its in-memory rate-limit and
    # replay state), or reached the server, which answered a bare 500.
    app, sink = make_app()

    @app.get("/exit")
    async def leave(request: Request) -> Response:
        raise SystemExit(2)

    response = await app.handle(Request("GET", "/exit", client="127.0.0.1"))
    assert response.status == 500
    assert response.headers["content-type"] == "application/problem+json"
    (record,) = request_records(sink)
    attributes = record["Attributes"]
    assert attributes["http.response.status_code"] == 500  # type: ignore[index]
    assert attributes["error.type"] == "SystemExit"  # type: ignore[index]
    assert record["SeverityText"] == "ERROR"


async def test_a_base_exception_subclass_from_a_handler_is_a_500_not_a_client_that_left():
    class Abort(BaseException):
        pass

    app, sink = make_app()

    @app.get("/abort")
    async def abort(request: Request) -> Response:
        raise Abort("password=hunter2")

    response = await app.handle(Request("GET", "/abort", client="127.0.0.1"))
    assert response.status == 500
    (record,) = request_records(sink)
    attributes = record["Attributes"]
    assert attributes["http.response.status_code"] == 500  # type: ignore[index]
    assert attributes["error.type"].endswith("Abort")  # type: ignore[index,union-attr]
    assert "hunter2" not in json.dumps(record)


async def test_a_cancelled_error_the_handler_let_out_is_a_500_not_a_client_that_left():
    # Awaiting a future that something else cancelled raises CancelledError in the
    # handler, though nobody cancelled the request: it was logged as a client that
    # left (499) and reached the server unanswered.
    import asyncio

    app, sink = make_app()

    @app.get("/cancelled-elsewhere")
    async def elsewhere(request: Request) -> Response:
        future = asyncio.get_running_loop().create_future()
        future.cancel()
        await future
        return Response.json({"ok": True})

    response = await app.handle(Request("GET", "/cancelled-elsewhere", client="127.0.0.1"))
    assert response.status == 500
    (record,) = request_records(sink)
    assert record["Attributes"]["error.type"] == "asyncio.exceptions.CancelledError"  # type: ignore[index]


def test_span_record_describes_the_server_span():
    app, sink = make_app(spans=True)
    parent = "00f067aa0ba902b7"
    TestClient(app).get(
        "/items/3", headers={"traceparent": f"00-4bf92f3577b34da6a3ce929d0e0e4736-{parent}-01"}
    )
    span = next(r for r in sink.records if r.get("EventName") == "daloy.span")
    body = span["Body"]
    assert body["Name"] == "GET /items/{item_id}"
    assert body["Kind"] == "SERVER"
    assert body["ParentSpanId"] == parent
    assert int(body["EndTimeUnixNano"]) >= int(body["StartTimeUnixNano"])
    assert body["Status"] == {"Code": "UNSET"}


def test_span_record_of_an_invented_method_is_named_http():
    app, sink = make_app(spans=True)
    TestClient(app).request("XQZWV", "/items/3")
    span = next(r for r in sink.records if r.get("EventName") == "daloy.span")
    assert span["Body"]["Name"] == "HTTP"


def test_invented_method_is_logged_as_other_with_the_method_as_its_original():
    app, sink = make_app()
    TestClient(app).request("XQZWV", "/items/3")
    (record,) = request_records(sink)
    attributes = record["Attributes"]
    assert attributes["http.request.method"] == "_OTHER"  # type: ignore[index]
    assert attributes["http.request.method_original"] == "XQZWV"  # type: ignore[index]
    assert record["Body"] == "HTTP UNMATCHED 405"


def test_method_of_any_length_is_cut_in_the_request_line():
    sink = MemorySink()
    log = RequestLog(LogConfig(stdout=False, sinks=[sink], env={}))
    request = Request("A" * 50_000, "/x")
    log.on_request(request)
    log.on_response(request, Response(b"", status=400), 0.001, None)
    assert len(sink.lines[0]) < 4096


def test_untrusted_user_agent_cannot_forge_a_second_line(capsys):
    app, _ = make_app(stdout=True)
    forged = 'x\r\n{"SeverityText":"INFO","Body":"forged"}\x1b[2J'
    TestClient(app).get("/items/1", headers={"user-agent": forged})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["Attributes"]["user_agent.original"] == forged


def test_powertools_logger_works_as_sink():
    from aws_lambda_powertools import Logger

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    powertools = Logger(service="orders", logger_handler=handler)
    app, _ = make_app(sinks=[LoggerSink(powertools)])
    TestClient(app).get("/note")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    note = next(line for line in lines if line["message"] == "card charged")
    assert note["Attributes"]["card_token"] in {"[REDACTED]"}
    assert note["level"] == "INFO" and note["service"] == "orders"
    request_line = next(line for line in lines if line.get("EventName") == "http.server.request")
    assert request_line["TraceId"] == note["TraceId"]


def _forging_app(logger: object) -> App:
    app = App(request_log=RequestLog(LogConfig(stdout=False, sinks=[LoggerSink(logger)])))

    @app.get("/login")
    async def login(request: Request) -> Response:
        get_logger(request).warning(f"failed login for {request.query.get('user')}")
        return Response.empty()

    return app


def test_logger_sink_on_google_cloud_hands_every_record_on():
    """On Cloud Functions or Cloud Run each record carries a ``message`` member for Cloud
    Logging; passed in ``extra``, ``logging`` refused it ("Attempt to overwrite
    'message'") and the sink lost every record, the request line included."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("daloy-test-cloud-run-sink")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    config = LogConfig(stdout=False, sinks=[LoggerSink(logger)], env={"K_SERVICE": "notes"})
    app = App(request_log=RequestLog(config))

    @app.get("/login")
    async def login(request: Request) -> Response:
        get_logger(request).warning("failed login")
        return Response.empty()

    TestClient(app).get("/login")
    lines = stream.getvalue().splitlines()
    assert lines == ["WARNING failed login", "INFO GET /login 204"]


def test_logger_sink_message_cannot_forge_a_record_under_a_text_formatter():
    """A handler logging the client's value through a stdlib logger: a line break in it
    wrote a record of the client's making, an ESC drove the terminal reading it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("daloy-test-forged-lines")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    forged = "%0D%0AINFO%20admin%20signed%20in%1B[2J%C2%85INFO%20x"
    TestClient(_forging_app(logger)).get(f"/login?user=bob{forged}")
    lines = stream.getvalue().splitlines()
    assert (
        lines[0] == "WARNING failed login for bob\\r\\nINFO admin signed in\\u001b[2J\\u0085INFO x"
    )
    assert [line.split(" ", 1)[0] for line in lines] == ["WARNING", "INFO"]


def test_powertools_sink_escapes_nel_line_separators_and_bidi_controls():
    """Powertools writes non-ASCII raw (``ensure_ascii`` off): a NEL, U+2028 or 8-bit CSI
    from the client reached CloudWatch as sent, and a U+202E in the user agent or a
    logged value showed the text after it reversed."""
    from aws_lambda_powertools import Logger

    stream = io.StringIO()
    powertools = Logger(service="bidi-probe", logger_handler=logging.StreamHandler(stream))
    hidden = "\u202eexe.txt \u2066x\u2069 a\u0085b\u2028c\u2029d\u009b2J\u061c\u200f"
    TestClient(_forging_app(powertools)).get(
        "/login?user=" + quote(hidden), headers={"user-agent": hidden}
    )
    text = stream.getvalue()
    assert text.isascii()
    note, request_line = (json.loads(line) for line in text.splitlines())
    escaped = "\\u202eexe.txt \\u2066x\\u2069 a\\u0085b\\u2028c\\u2029d\\u009b2J\\u061c\\u200f"
    assert note["message"] == f"failed login for {escaped}"
    assert request_line["Attributes"]["user_agent.original"] == escaped


def test_lone_surrogate_in_a_lambda_header_cannot_drop_the_logger_sink_records():
    """An event's JSON can spell a lone surrogate in a header: Powertools wrote it raw,
    the UTF-8 stream refused it, and logging dropped the handler's warning and the
    request line (a traceback on stderr instead), hiding a failed login."""
    from aws_lambda_powertools import Logger
    from daloy_edge_aws_lambda import handler

    from tests.conformance.harness.gateways import recorded

    written = io.BytesIO()
    stream = io.TextIOWrapper(written, encoding="utf-8", write_through=True)
    powertools = Logger(service="surrogate-probe", logger_handler=logging.StreamHandler(stream))
    app = App(request_log=RequestLog(LogConfig(stdout=False, sinks=[LoggerSink(powertools)])))

    @app.get("/login")
    async def login(request: Request) -> Response:
        get_logger(request).warning(f"failed login from {request.headers.get('user-agent')}")
        return Response.empty()

    event = recorded("http-v2")
    event["rawPath"] = "/login"
    event["requestContext"]["http"]["method"] = "GET"
    event.pop("body", None)
    event["headers"]["user-agent"] = "probe-\udc80"
    assert handler(app)(event, None)["statusCode"] == 204
    note, request_line = (json.loads(line) for line in written.getvalue().splitlines())
    assert note["message"] == "failed login from probe-\\udc80"
    assert request_line["Attributes"]["user_agent.original"] == "probe-\\udc80"


def test_stdlib_logger_sink_maps_severity_to_level():
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("daloy-test-sink")
    logger.addHandler(Keep())
    logger.setLevel(logging.DEBUG)
    app, _ = make_app(sinks=[LoggerSink(logger)])
    TestClient(app).get("/boom")
    assert [r.levelno for r in records] == [logging.ERROR]
    assert records[0].Attributes["http.response.status_code"] == 500


def test_lambda_resource_is_detected_from_environment():
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "orders-api",
        "AWS_REGION": "eu-west-1",
        "AWS_LAMBDA_FUNCTION_VERSION": "7",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    }
    resource = detect_resource(env, "aws_lambda")
    assert resource["cloud.provider"] == "aws"
    assert resource["cloud.platform"] == "aws_lambda"
    assert resource["faas.name"] == resource["service.name"] == "orders-api"
    assert resource["faas.max_memory"] == str(512 * 1024 * 1024)


def test_otel_environment_variables_set_service_and_resource():
    env = {
        "OTEL_SERVICE_NAME": "checkout",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod",
    }
    resource = detect_resource(env, "asgi", service_name="ignored")
    assert resource["service.name"] == "checkout"
    assert resource["deployment.environment"] == "prod"


def test_service_name_in_otel_resource_attributes_names_the_service():
    # The variable is honoured as in the OTel SDKs: its service.name was overwritten by
    # the function's name (or "daloy-edge"), so the logs went out under another service.
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "orders-api",
        "OTEL_RESOURCE_ATTRIBUTES": "service.name=orders,deployment.environment=prod",
    }
    assert detect_resource(env, "aws_lambda", service_name="app")["service.name"] == "orders"
    both = {**env, "OTEL_SERVICE_NAME": "checkout"}
    assert detect_resource(both, "aws_lambda")["service.name"] == "checkout"


def test_adapter_resource_attributes_reach_records():
    app, sink = make_app()
    app.request_log.update_resource({"faas.name": "from-adapter"})
    TestClient(app).get("/items/1")
    assert request_records(sink)[0]["Resource"]["faas.name"] == "from-adapter"


def test_app_name_becomes_service_name(capsys):
    app = App(env={}, name="billing")
    app.add_route("/x", lambda request: {}, ["GET"])
    TestClient(app).get("/x")
    assert json.loads(capsys.readouterr().out)["Resource"]["service.name"] == "billing"


def test_unknown_log_level_refuses_to_build():
    from daloy_edge import ConfigError

    with pytest.raises(ConfigError):
        LogConfig(level="LOUD")


def test_an_unknown_log_level_variable_refuses_to_build_naming_the_variable():
    # "unknown log level 'verbose'" left the operator to guess which setting was wrong.
    from daloy_edge import ConfigError

    with pytest.raises(ConfigError, match="DALOY_LOG_LEVEL"):
        App(env={"DALOY_LOG_LEVEL": "verbose"})


def test_a_log_level_variable_with_a_secrets_file_line_break_is_read():
    assert LogConfig.from_env({"DALOY_LOG_LEVEL": "warn\n"}).level == "warn"


@pytest.mark.parametrize("runtime", ["aws-lambda", "aws_lambda"])
def test_lambda_runtime_name_variants_are_recognised(runtime):
    assert detect_resource({}, runtime)["cloud.platform"] == "aws_lambda"


def test_gcp_functions_runtime_is_recognised():
    assert detect_resource({"K_SERVICE": "fn"}, "gcp-functions")["faas.name"] == "fn"


@pytest.mark.parametrize(
    ("env", "runtime", "platform"),
    [
        ({"K_SERVICE": "orders"}, "asgi", "gcp_cloud_run"),
        ({"K_SERVICE": "orders", "FUNCTION_TARGET": "handler"}, "asgi", "gcp_cloud_functions"),
        ({"K_SERVICE": "orders"}, "gcp-functions", "gcp_cloud_functions"),
    ],
    ids=["cloud_run_service", "function_from_source", "functions_adapter"],
)
def test_cloud_run_service_is_not_named_a_cloud_function(env, runtime, platform):
    """OTel's cloud.platform has a value for each (semantic conventions: gcp_cloud_run,
    gcp_cloud_functions): an app under uvicorn on Cloud Run was written as a function."""
    assert detect_resource(env, runtime)["cloud.platform"] == platform


async def test_lambda_request_id_becomes_faas_invocation_id():
    class Context:
        aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    app, sink = make_app()
    request = Request("GET", "/items/1", runtime="aws-lambda")
    request.state["aws.context"] = Context()
    await app.handle(request)
    attributes = request_records(sink)[0]["Attributes"]
    assert attributes["faas.invocation_id"] == Context.aws_request_id


def no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), f"duplicate keys in {keys}"
    return dict(pairs)


def full_attributes_app(sink: MemorySink, extra: dict[str, object]) -> App:
    """An app whose request line carries every HTTP attribute the log can write."""

    class Context:
        aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    app = App(env={}, request_log=RequestLog(LogConfig(stdout=False, sinks=[sink], env={})))

    @app.get("/unavailable/{id}")
    async def unavailable(request: Request) -> Response:
        request.client_ip = "203.0.113.9"
        request.state["aws.context"] = Context()
        request.state["log.attributes"] = extra
        return Response.json({}, status=503)

    return app


def test_every_http_attribute_is_written_once_and_an_extra_one_replaces_it():
    baseline = MemorySink()
    TestClient(full_attributes_app(baseline, {})).get(
        "/unavailable/1", headers={"user-agent": "probe/1.0"}
    )
    written = set(baseline.records[0]["Attributes"])
    assert {"network.peer.address", "faas.invocation_id", "error.type"} <= written
    for key in sorted(written):
        sink = MemorySink()
        TestClient(full_attributes_app(sink, {key: "replaced"})).get(
            "/unavailable/1", headers={"user-agent": "probe/1.0"}
        )
        record = json.loads(sink.lines[0], object_pairs_hook=no_duplicate_keys)
        assert record["Attributes"][key] == "replaced", key


@pytest.mark.parametrize("path", ["/items/7", "/boom", "/bad", "/nowhere", "/note"])
def test_sink_record_is_exactly_the_line_written(path):
    app, sink = make_app(log_headers=True, spans=True)
    TestClient(app).get(path, headers={"user-agent": "probe/1.0", "x-note": "é\u2028\x1b"})
    assert sink.records
    for record, line in zip(sink.records, sink.lines, strict=True):
        assert json.loads(line, object_pairs_hook=no_duplicate_keys) == record
        assert line.isascii() and "\n" not in line


def test_request_line_has_otel_fields_in_data_model_order():
    app, sink = make_app()
    TestClient(app).get("/items/7")
    assert list(request_records(sink)[0]) == [
        "Timestamp",
        "ObservedTimestamp",
        "SeverityText",
        "SeverityNumber",
        "Body",
        "EventName",
        "Attributes",
        "TraceId",
        "SpanId",
        "TraceFlags",
        "Resource",
    ]


@pytest.mark.parametrize(
    "value",
    ["plain", 'é\u2028\u2029\x1b\r\n"\\', 0, -5, 2**70, 0.1, 1e-7, 1e22, 5e-324, True, None],
)
def test_json_scalar_writes_what_the_encoder_writes(value):
    from daloy_edge.observability._line import json_scalar

    assert json_scalar(value) == encode(value)


def test_json_scalar_refuses_what_the_encoder_refuses():
    from daloy_edge.observability._line import json_scalar

    for value in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(ValueError):
            json_scalar(value)


def test_status_as_int_enum_is_written_as_a_number():
    from http import HTTPStatus

    app, sink = make_app()

    @app.get("/enum")
    async def enum_status(request: Request) -> Response:
        return Response.json({}, status=HTTPStatus.ACCEPTED)

    TestClient(app).get("/enum")
    assert request_records(sink)[0]["Attributes"]["http.response.status_code"] == 202


def test_any_object_with_emit_is_a_sink():
    from daloy_edge.observability import Sink

    class Anything:
        def emit(self, record, line):
            pass

    assert isinstance(Anything(), Sink) and isinstance(MemorySink(), Sink)
    assert not isinstance(object(), Sink)


@pytest.mark.parametrize(
    "value",
    [0.0, -0.0, 1.2345e-05, 0.0000005, 0.0000015, 0.0000025, 0.1234565, 2.5, 1e20, 7, 0.000292],
)
def test_json_decimal_is_the_number_round_gives(value):
    from daloy_edge.observability._line import json_decimal

    for digits in (3, 6):
        text = json_decimal(value, digits)
        assert json.loads(text) == round(value, digits)
        assert re.fullmatch(r"-?[0-9]+\.[0-9]+", text)


def test_json_decimal_refuses_what_the_encoder_refuses():
    from daloy_edge.observability._line import json_decimal

    for value in (float("inf"), float("-inf"), float("nan")):
        with pytest.raises(ValueError):
            json_decimal(value, 6)


@pytest.fixture
def console() -> Iterator[list[tuple[int, str]]]:
    """The platform console the Workers adapter installs, as a list of its calls."""
    calls: list[tuple[int, str]] = []
    set_console(lambda severity, line: calls.append((severity, line)))
    yield calls
    set_console(None)


def serve(app: App, path: str, runtime: str) -> Response:
    return asyncio.run(app.handle(Request("GET", path, env={}, runtime=runtime)))


def stdout_app(**options: object) -> App:
    app = App(request_log=RequestLog(LogConfig(env={}, **options)), env={})

    @app.get("/boom")
    async def boom(request: Request) -> Response:
        raise RuntimeError("database down")

    @app.get("/ok")
    async def ok(request: Request) -> Response:
        get_logger(request).warning("cache cold")
        return Response.json({"ok": True})

    return app


def test_a_5xx_line_on_workers_goes_to_console_error_not_to_stdout(console, capsys):
    serve(stdout_app(), "/boom", "cloudflare")
    assert capsys.readouterr().out == ""
    ((severity, line),) = console
    assert severity == 17 and json.loads(line)["SeverityText"] == "ERROR"


def test_a_4xx_line_on_workers_goes_to_the_console_at_warn(console, capsys):
    serve(stdout_app(), "/missing", "cloudflare")
    assert capsys.readouterr().out == ""
    assert [severity for severity, _ in console] == [13]


def test_a_handler_warning_on_workers_goes_to_the_console_and_its_2xx_line_to_stdout(
    console, capsys
):
    serve(stdout_app(), "/ok", "cloudflare")
    assert [json.loads(line)["Body"] for _, line in console] == ["cache cold"]
    assert json.loads(capsys.readouterr().out)["Body"] == "GET /ok 200"


def test_a_workers_line_sent_to_other_sinks_too_still_reaches_the_console(console, capsys):
    sink = MemorySink()
    serve(stdout_app(sinks=[sink]), "/boom", "cloudflare")
    assert capsys.readouterr().out == ""
    assert [json.loads(line) for _, line in console] == [dict(r) for r in sink.records]


def test_an_error_line_off_workers_stays_on_stdout_with_a_console_installed(console, capsys):
    serve(stdout_app(), "/boom", "aws_lambda")
    assert console == []
    assert json.loads(capsys.readouterr().out)["SeverityText"] == "ERROR"


def test_span_lasts_the_measured_duration_when_the_wall_clock_steps_back_mid_request(
    monkeypatch: pytest.MonkeyPatch,
):
    # NTP stepping the clock back an hour while a request ran: its span ended an hour
    # before it began, a negative duration tracing backends drop or misplace.
    import time
    import types

    from daloy_edge.observability import _logger

    wall = [1_700_000_000 * 10**9]
    monkeypatch.setattr(_logger, "time", types.SimpleNamespace(time_ns=lambda: wall[0]))
    app, sink = make_app(spans=True)

    @app.get("/stepped")
    async def stepped(request: Request) -> Response:
        wall[0] -= 3600 * 10**9
        time.sleep(0.002)
        return Response.json({"ok": True})

    TestClient(app).get("/stepped")
    body = next(r for r in sink.records if r.get("EventName") == "daloy.span")["Body"]
    (line,) = request_records(sink)
    lasted = int(body["EndTimeUnixNano"]) - int(body["StartTimeUnixNano"])  # type: ignore[arg-type]
    measured = line["Attributes"]["http.server.request.duration"]  # type: ignore[index]
    assert lasted >= 2_000_000
    assert abs(lasted / 1e9 - measured) < 0.001


def test_log_config_repr_leaves_out_the_environment_and_its_secrets():
    # The environment it reads is os.environ by default: printing the configuration, or a
    # frame-locals collector showing it, wrote every session key and cloud credential.
    env = {"DALOY_SESSION_KEYS": "sk-env-4b1d9e", "AWS_SECRET_ACCESS_KEY": "aws-env-7c2f0a"}
    for config in (LogConfig(env=env), LogConfig.from_env(env)):
        shown = repr(config)
        assert "sk-env-4b1d9e" not in shown and "aws-env-7c2f0a" not in shown
        assert "env=" not in shown and "service_name=None" in shown


class _SlowStdout:
    """stdout on a full pipe: each write takes a while; counts writes in progress."""

    def __init__(self) -> None:
        self._count = threading.Lock()
        self._active = 0
        self.most_at_once = 0
        self.writing = threading.Event()
        self.text: list[str] = []

    def write(self, text: str) -> int:
        with self._count:
            self._active += 1
            self.most_at_once = max(self.most_at_once, self._active)
        self.writing.set()
        time.sleep(0.2)
        self.text.append(text)
        with self._count:
            self._active -= 1
        return len(text)

    def flush(self) -> None:
        pass


def test_two_apps_writing_lines_from_two_threads_never_splice_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each app's request log has a stdout sink of its own. Each holding its own lock,
    # two apps answering on two threads wrote into stdout at once, and a line past its
    # 8 KiB buffer came out spliced with the other app's in the pipe the platform reads.
    clients = []
    for name in ("users", "orders"):
        app = App(env={}, name=name)
        app.get("/x")(lambda request: {"ok": True})
        clients.append(TestClient(app))
    stdout = _SlowStdout()
    monkeypatch.setattr(sys, "stdout", stdout)
    first = threading.Thread(target=clients[0].get, args=("/x",))
    first.start()
    assert stdout.writing.wait(5)
    clients[1].get("/x")
    first.join()
    assert stdout.most_at_once == 1
    assert sorted(json.loads(line)["Resource"]["service.name"] for line in stdout.text) == [
        "orders",
        "users",
    ]


class PayloadError(Exception):
    """An upstream error whose payload's fields read as attributes: any other name is a
    KeyError, ``__notes__`` included (Python 3.11's traceback asks for it unguarded)."""

    def __init__(self, payload: dict[str, object]) -> None:
        super().__init__(payload["message"])
        self.payload = payload

    def __getattr__(self, name: str) -> object:
        return self.payload[name]


def raise_payload_error(request: Request) -> Response:
    raise PayloadError({"message": "quota exceeded for token=ak_live_0123456789", "code": 7})


def test_request_ending_in_an_exception_whose_getattr_raises_still_writes_its_line():
    sink = MemorySink()
    app = App(request_log=RequestLog(LogConfig(stdout=False, sinks=[sink], env={})), env={})
    app.add_route("/payload", raise_payload_error)

    assert TestClient(app).get("/payload").status == 500
    (record,) = request_records(sink)
    trace = record["Attributes"]["exception.stacktrace"]
    assert "in raise_payload_error" in trace
    assert "PayloadError: quota exceeded" in trace
    assert "ak_live_0123456789" not in json.dumps(record)


def test_development_answer_to_an_exception_whose_getattr_raises_is_its_trace():
    app = App(environment="development", request_log=False, env={})
    app.add_route("/payload", raise_payload_error)

    response = TestClient(app).get("/payload")
    assert response.status == 500
    assert "in raise_payload_error" in "".join(response.json()["traceback"])
