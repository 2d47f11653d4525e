"""The entry point: deadline, one loop per container, start-up once, streaming."""

from __future__ import annotations

import asyncio
import json
from contextvars import ContextVar
from dataclasses import dataclass
from unittest.mock import MagicMock

import pytest
from daloy_edge_aws_lambda import handler

from daloy_edge import App, ConfigError, HTTPError, Request, Response
from tests.conformance.harness.gateways import build_event
from tests.conformance.harness.inprocess import Context
from tests.support.threads import at_once

_VAR: ContextVar[str] = ContextVar("_VAR", default="unset")


def get(lambda_handler, target: str, context: Context | None = None) -> dict[str, object]:  # type: ignore[no-untyped-def]
    event = build_event("http-v2", "GET", target, [("host", "example.test")], b"")
    return lambda_handler(event, context)  # type: ignore[no-any-return]


def probe_app() -> App:
    app = App(request_timeout=10)
    app.state = {"startups": 0}  # type: ignore[attr-defined]

    @app.on_startup
    async def started() -> None:
        app.state["startups"] += 1  # type: ignore[attr-defined]

    @app.get("/sleep")
    async def sleep(request: Request) -> Response:
        await asyncio.sleep(int(request.query.get("ms") or 0) / 1000)
        return Response.json({"slept": True})

    @app.get("/loop")
    async def loop(request: Request) -> Response:
        return Response.json({"loop": id(asyncio.get_running_loop())})

    @app.get("/context")
    async def context(request: Request) -> Response:
        ctx = request.state["aws.context"]
        event = request.state["aws.event"]
        return Response.json(
            {"function": getattr(ctx, "function_name", None), "route": event["routeKey"]}
        )

    @app.get("/stream")
    async def stream(request: Request) -> Response:
        async def chunks():  # type: ignore[no-untyped-def]
            yield b"one,"
            yield b"two"

        return Response(b"", media_type="text/plain", stream=chunks())

    @app.get("/stream-context")
    async def stream_context(request: Request) -> Response:
        _VAR.set("set by the handler")

        async def chunks():  # type: ignore[no-untyped-def]
            yield _VAR.get().encode()

        return Response(b"", media_type="text/plain", stream=chunks())

    @app.get("/stream-text")
    async def stream_text(request: Request) -> Response:
        async def chunks():  # type: ignore[no-untyped-def]
            yield "caf\u00e9,"
            yield b"two"

        return Response(b"", media_type="text/plain; charset=utf-8", stream=chunks())

    @app.get("/stream-fails")
    async def stream_fails(request: Request) -> Response:
        async def chunks():  # type: ignore[no-untyped-def]
            yield b"one,"
            raise RuntimeError("internal detail /srv/app.py")

        return Response(b"", media_type="text/plain", stream=chunks())

    @app.get("/stream-slow")
    async def stream_slow(request: Request) -> Response:
        async def chunks():  # type: ignore[no-untyped-def]
            try:
                yield b"one,"
                await asyncio.sleep(5)
                yield b"two"
            finally:
                app.state["closed"] = True  # type: ignore[attr-defined]

        return Response(b"", media_type="text/plain", stream=chunks())

    return app


def test_deadline_is_remaining_time_minus_flush_margin() -> None:
    lambda_handler = handler(probe_app(), flush_margin_ms=500)
    assert get(lambda_handler, "/sleep?ms=300", Context(remaining_ms=700))["statusCode"] == 504


def test_enough_remaining_time_lets_the_request_finish() -> None:
    lambda_handler = handler(probe_app(), flush_margin_ms=500)
    assert get(lambda_handler, "/sleep?ms=50", Context(remaining_ms=3000))["statusCode"] == 200


def test_app_timeout_still_applies_with_plenty_of_lambda_time() -> None:
    app = probe_app()
    app.request_timeout = 0.05
    lambda_handler = handler(app)
    assert get(lambda_handler, "/sleep?ms=300", Context(remaining_ms=60_000))["statusCode"] == 504


@dataclass
class StandInContext:
    """The context a unit test builds by hand (Powertools' testing guide): no methods."""

    function_name: str = "test"
    aws_request_id: str = "da658bd3-2d6f-4e7b-8ec2-937234644fdc"


@pytest.mark.parametrize("context", [StandInContext(), MagicMock()], ids=["dataclass", "mock"])
def test_a_stand_in_context_without_remaining_time_is_served_within_the_app_timeout(
    context: object,
) -> None:
    # The dataclass raised AttributeError out of the handler; the mock's MagicMock
    # "milliseconds" made every request a 500.
    result = get(handler(probe_app()), "/sleep?ms=10", context)  # type: ignore[arg-type]
    assert result["statusCode"] == 200


def test_powertools_test_lambda_context_is_served_within_the_app_timeout() -> None:
    # Its get_remaining_time_in_millis() answers 0: read as a deadline already past,
    # every request under it was a 504 before the handler ran.
    from aws_lambda_powertools.utilities.typing import LambdaContext

    result = get(handler(probe_app()), "/sleep?ms=10", LambdaContext())  # type: ignore[arg-type]
    assert result["statusCode"] == 200


class NoTimeLeft:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class RemainingTimeRaises:
    def get_remaining_time_in_millis(self) -> int:
        raise RuntimeError("not running on Lambda")


@pytest.mark.parametrize("remaining_ms", [0, -250])
def test_a_context_telling_no_time_left_is_served_within_the_app_timeout(
    remaining_ms: int,
) -> None:
    result = get(handler(probe_app()), "/sleep?ms=10", NoTimeLeft(remaining_ms))  # type: ignore[arg-type]
    assert result["statusCode"] == 200


def test_a_context_whose_remaining_time_raises_is_served_not_a_raw_invocation_error() -> None:
    # The error escaped the handler: Lambda reported it with its traceback, no problem.
    result = get(handler(probe_app()), "/sleep?ms=10", RemainingTimeRaises())  # type: ignore[arg-type]
    assert result["statusCode"] == 200


def test_a_positive_remaining_time_under_the_flush_margin_is_still_a_504() -> None:
    lambda_handler = handler(probe_app(), flush_margin_ms=500)
    assert get(lambda_handler, "/sleep?ms=10", NoTimeLeft(200))["statusCode"] == 504  # type: ignore[arg-type]


def test_one_event_loop_serves_every_invocation() -> None:
    lambda_handler = handler(probe_app())
    loops = {get(lambda_handler, "/loop")["body"] for _ in range(3)}
    assert len(loops) == 1


def test_invocations_from_several_threads_at_once_are_each_served() -> None:
    # A test suite may call the handler from a thread pool: every thread ran its
    # invocation on the container's one event loop, which another thread was running
    # already ("This event loop is already running"), or hung waiting on it.
    app = probe_app()
    lambda_handler = handler(app)
    statuses = at_once(8, lambda: get(lambda_handler, "/sleep?ms=20")["statusCode"])
    assert statuses == [200] * 8
    assert app.state["startups"] == 1  # type: ignore[attr-defined]


async def test_invoked_from_an_async_test_the_callers_loop_is_still_running_after() -> None:
    # The failure: the handler's event loop ran over the caller's (an async test calling
    # the handler), which was then no longer the running loop: the test's next await
    # failed with "no running event loop".
    caller_loop, caller_task = asyncio.get_running_loop(), asyncio.current_task()
    lambda_handler = handler(probe_app())
    for target in ("/loop", "/sleep?ms=1"):
        assert get(lambda_handler, target)["statusCode"] == 200
        assert asyncio.get_running_loop() is caller_loop
        assert asyncio.current_task() is caller_task
        await asyncio.sleep(0)


async def test_invoked_from_a_loop_callback_outside_any_task_it_answers() -> None:
    # The caller's loop is running but no task of it is: nothing to set aside with it.
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[object] = loop.create_future()
    lambda_handler = handler(probe_app())

    def invoke() -> None:
        try:
            answered.set_result(get(lambda_handler, "/sleep?ms=1")["statusCode"])
        except Exception as exc:
            answered.set_exception(exc)

    loop.call_soon(invoke)
    assert await answered == 200
    assert asyncio.get_running_loop() is loop


def test_startup_hooks_run_once_per_container() -> None:
    app = probe_app()
    lambda_handler = handler(app)
    for _ in range(3):
        get(lambda_handler, "/loop")
    assert app.state["startups"] == 1  # type: ignore[attr-defined]


def test_failed_startup_is_retried_by_the_next_invocation() -> None:
    app = probe_app()
    ready: list[bool] = []

    @app.on_startup
    def load_keys() -> None:
        if app.state["startups"] == 1:  # type: ignore[attr-defined]
            raise OSError("secrets endpoint not reachable")
        ready.append(True)

    lambda_handler = handler(app)
    assert get(lambda_handler, "/loop")["statusCode"] == 503
    assert get(lambda_handler, "/loop")["statusCode"] == 200
    assert app.state["startups"] == 2 and ready == [True]  # type: ignore[attr-defined]


def test_failed_startup_is_a_503_problem_not_an_exception_escaping_to_the_gateway() -> None:
    app = probe_app()

    @app.on_startup
    def load_keys() -> None:
        raise OSError("secrets endpoint not reachable")

    result = get(handler(app), "/loop")
    headers = result["headers"]
    assert result["statusCode"] == 503
    assert headers["retry-after"] == "1"  # type: ignore[index]
    assert headers["content-type"] == "application/problem+json"  # type: ignore[index]
    assert "x-request-id" in headers and "server-timing" in headers  # type: ignore[operator]
    assert "not reachable" not in result["body"]  # type: ignore[operator]


def test_startup_waits_for_the_first_invocation() -> None:
    app = probe_app()
    handler(app)
    assert app.state["startups"] == 0  # type: ignore[attr-defined]


def test_event_and_context_are_available_to_the_app() -> None:
    result = get(handler(probe_app()), "/context", Context())
    assert result["body"] == '{"function":"conformance","route":"$default"}'


def test_streamed_response_is_collected_into_the_result() -> None:
    assert get(handler(probe_app()), "/stream")["body"] == "one,two"


def test_a_streamed_body_is_read_in_the_handlers_context() -> None:
    lambda_handler = handler(probe_app())
    assert get(lambda_handler, "/stream-context")["body"] == "set by the handler"
    assert _VAR.get() == "unset"
    # Nor does it reach the next invocation.
    assert get(lambda_handler, "/stream")["body"] == "one,two"


def test_a_stream_of_text_chunks_is_sent_as_utf8() -> None:
    assert get(handler(probe_app()), "/stream-text")["body"] == "caf\u00e9,two"


def test_a_stream_that_fails_after_its_first_chunk_is_a_500_problem_logged_as_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The stream was read after the app had answered and logged 200: the invocation
    # failed (a bare 502 from the gateway) and the log line said 200.
    result = get(handler(probe_app()), "/stream-fails", Context())
    assert result["statusCode"] == 500
    assert result["headers"]["content-type"] == "application/problem+json"  # type: ignore[index]
    assert "internal detail" not in str(result["body"])
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert line["Attributes"]["http.response.status_code"] == 500


def test_a_stream_failing_with_an_http_error_that_skipped_its_init_is_a_logged_500(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Rendering that error failed (no ``detail``) where nothing renders after it: the
    # invocation failed with an AttributeError, no answer and no line.
    class Conflict(HTTPError):
        status = 409

        def __init__(self, item: str) -> None:
            self.item = item

    app = App()

    @app.get("/stream-conflict")
    async def stream_conflict(request: Request) -> Response:
        async def chunks():  # type: ignore[no-untyped-def]
            yield b"one,"
            raise Conflict("item-1")

        return Response(b"", media_type="text/plain", stream=chunks())

    result = get(handler(app), "/stream-conflict", Context())
    assert result["statusCode"] == 500
    assert result["headers"]["content-type"] == "application/problem+json"  # type: ignore[index]
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["Attributes"]["http.response.status_code"] == 500
    assert line["Attributes"]["error.type"] == "AttributeError"


def test_sys_exit_in_a_handler_is_a_500_problem_and_the_environment_keeps_serving() -> None:
    # Let through, it ended the runtime: the gateway's bare 502, and a cold start that
    # wiped the in-memory rate-limit and replay state for whoever called sys.exit().
    app = probe_app()

    @app.get("/exit")
    async def leave(request: Request) -> Response:
        raise SystemExit(2)

    lambda_handler = handler(app)
    result = get(lambda_handler, "/exit", Context())
    assert result["statusCode"] == 500
    assert result["headers"]["content-type"] == "application/problem+json"  # type: ignore[index]
    assert get(lambda_handler, "/stream", Context())["body"] == "one,two"
    assert app.state["startups"] == 1  # type: ignore[attr-defined]


def test_a_stream_past_the_deadline_is_a_504_and_is_closed() -> None:
    app = probe_app()
    result = get(handler(app, flush_margin_ms=500), "/stream-slow", Context(remaining_ms=700))
    assert result["statusCode"] == 504
    assert app.state["closed"] is True  # type: ignore[attr-defined]


def test_negative_flush_margin_is_refused() -> None:
    with pytest.raises(ConfigError):
        handler(App(), flush_margin_ms=-1)


def test_a_flush_margin_of_nan_is_refused() -> None:
    # NaN compared false with everything: the deadline ignored the invocation's time left,
    # and a slow handler ran into the platform's timeout (no answer, no log line).
    with pytest.raises(ConfigError, match="flush_margin_ms"):
        handler(App(), flush_margin_ms=float("nan"))  # type: ignore[arg-type]


def test_alb_lowercase_delete_never_reaches_the_delete_route() -> None:
    # ALB listener rules match methods case-sensitively: a rule denying DELETE forwards
    # "delete", which must not run the DELETE route.
    app = App()
    deleted: list[bool] = []

    @app.delete("/items/1")
    async def delete(request: Request) -> Response:
        deleted.append(True)
        return Response.empty()

    event = build_event("alb", "delete", "/items/1", [("host", "example.test")], b"")
    result = handler(app)(event, Context())
    assert result["statusCode"] == 400
    assert not deleted


def test_a_server_error_under_lambdas_json_format_and_error_level_is_kept_with_its_metrics(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Its line had no ``level``: Lambda counted it INFO and dropped it, metrics included.
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "orders",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "ERROR",
    }
    app = App(env=env)

    @app.get("/boom")
    async def boom(request: Request) -> Response:
        raise RuntimeError("database down")

    assert get(handler(app), "/boom", Context())["statusCode"] == 500
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["level"] == "ERROR"
    assert line["SeverityText"] == "ERROR"
    assert line["_aws"]["CloudWatchMetrics"]


@pytest.mark.parametrize("shape", ["rest-v1", "http-v2", "alb"])
def test_a_stage_or_base_path_leading_the_path_is_taken_off_with_root_path(shape: str) -> None:
    # A named HTTP API stage, a custom domain's base path mapping, an ALB path rule.
    app = App(root_path="/prod")
    app.add_route("/where", lambda request: {"path": request.path})
    event = build_event(shape, "GET", "/prod/where", [("host", "example.test")], b"")
    result = handler(app)(event, None)
    assert result["statusCode"] == 200
    assert json.loads(str(result["body"])) == {"path": "/where"}
