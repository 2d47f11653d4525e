from __future__ import annotations

import asyncio

import pytest

from daloy_edge import App, ConfigError, Request, Response, use
from daloy_edge._phased import Phased
from daloy_edge.observability import RequestLog
from daloy_edge.testing import TestClient


def make_app() -> App:
    app = App()

    @app.get("/items/{item_id}")
    async def item(request):
        return {"id": request.path_params["item_id"]}

    @app.post("/items")
    def create(request):
        return Response.json({"created": True}, status=201)

    return app


def test_routes_path_parameters():
    client = TestClient(make_app())
    assert client.get("/items/42").json() == {"id": "42"}


def test_sync_handler_is_accepted():
    assert TestClient(make_app()).post("/items").status == 201


@pytest.mark.parametrize("returned", [b"\x89PNG", bytearray(b"\x89PNG"), memoryview(b"\x89PNG")])
def test_bytes_a_handler_returns_are_the_body_not_a_500(returned: object) -> None:
    # Passed to the JSON encoder, which cannot hold bytes: every request was a 500.
    app = App()

    @app.get("/raw")
    async def raw(request):
        return returned

    response = TestClient(app).get("/raw")
    assert (response.status, response.content) == (200, b"\x89PNG")
    assert response.headers["content-type"] == "application/octet-stream"


def test_unknown_route_is_problem_404():
    response = TestClient(make_app()).get("/nope")
    assert response.status == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_wrong_method_is_405_with_allow():
    response = TestClient(make_app()).delete("/items")
    assert response.status == 405
    assert response.headers["allow"] == "POST"


def test_methods_given_as_one_string_refuse_to_build():
    # Each character became a method: POST answered 405 with "Allow: O, P, S, T".
    with pytest.raises(ConfigError, match="one string"):
        App().add_route("/items", lambda request: None, "POST")


@pytest.mark.parametrize("methods", [(), ("GET", "M-SEARCH"), ("GET ",), ("",), ("A" * 17,)])
def test_methods_no_request_can_carry_refuse_to_build(methods):
    # The request guard refuses such a method (400) before routing: the route is dead.
    with pytest.raises(ConfigError, match="one to 16 letters"):
        App().add_route("/items", lambda request: None, methods)


@pytest.mark.parametrize("method", ["PROPFIND", "QUERY", "A" * 16])
def test_a_method_of_one_to_16_capital_letters_beyond_the_common_ones_is_routed(method):
    # The request guard lets such a method through, so a route for it is reachable.
    app = App()
    app.add_route("/items", lambda request: {"method": request.method}, [method])
    assert TestClient(app).request(method, "/items").json() == {"method": method}


def test_use_decorator_wraps_one_route_only():
    seen: list[str] = []

    async def tag(request, call_next):
        seen.append(request.path)
        response = await call_next(request)
        response.headers["x-tagged"] = "1"
        return response

    app = App()

    @app.get("/tagged")
    @use(tag)
    async def tagged(request):
        return {"ok": True}

    @app.get("/plain")
    async def plain(request):
        return {"ok": True}

    client = TestClient(app)
    assert client.get("/tagged").headers["x-tagged"] == "1"
    assert "x-tagged" not in client.get("/plain").headers
    assert seen == ["/tagged"]


class RecordedStream:
    """A streamed body that records whether it was read and whether it was closed."""

    def __init__(self) -> None:
        self.closed = False
        self.read = False

    def __aiter__(self) -> RecordedStream:
        return self

    async def __anext__(self) -> bytes:
        self.read = True
        raise StopAsyncIteration

    async def aclose(self) -> None:
        self.closed = True


def framing_app(stream: RecordedStream, log: RequestLog | None = None) -> App:
    app = App(request_log=log or True)

    @app.get("/stream")
    async def streamed(request):
        return Response(stream=stream, media_type="text/plain")

    @app.get("/status")
    async def status(request):
        return Response(b"content", int(request.query.get("s") or 200))

    @app.get("/status-stream")
    async def status_stream(request):
        return Response(stream=stream, status=int(request.query.get("s") or 200))

    return app


def test_head_closes_the_stream_it_drops() -> None:
    stream = RecordedStream()
    response = TestClient(framing_app(stream)).head("/stream")
    assert (response.status, response.content, stream.closed) == (200, b"", True)


@pytest.mark.parametrize("status", [204, 205, 304])
def test_content_given_to_a_status_without_content_is_dropped_on_every_runtime(
    status: int,
) -> None:
    response = TestClient(framing_app(RecordedStream())).get(f"/status?s={status}")
    assert (response.status, response.content) == (status, b"")


@pytest.mark.parametrize("status", [204, 304])
def test_a_stream_given_to_a_status_without_content_is_closed_unread(status: int) -> None:
    stream = RecordedStream()
    response = TestClient(framing_app(stream)).get(f"/status-stream?s={status}")
    assert (response.status, response.content, stream.closed) == (status, b"", True)
    assert not stream.read


def test_a_content_length_given_to_a_204_is_not_sent() -> None:
    app = App()

    @app.get("/")
    async def no_content(request):
        return Response.empty(204, {"content-length": "7"})

    assert "content-length" not in TestClient(app).get("/").headers


async def fails_after(request, call_next):  # type: ignore[no-untyped-def]
    await call_next(request)
    raise RuntimeError("audit store down")


class FailsAfter(Phased):
    def after(self, request, response):  # type: ignore[no-untyped-def]
        raise RuntimeError("audit store down")


@pytest.mark.parametrize("failing", [fails_after, FailsAfter()], ids=["middleware", "phased"])
def test_a_streamed_answer_dropped_by_middleware_failing_after_the_route_is_closed(
    failing: object,
) -> None:
    # The 500 took its place and the route's stream was never closed: what it held (an
    # upstream connection, a file) stayed held until the collector found it.
    stream = RecordedStream()
    app = App(request_log=False)

    @app.get("/stream", middleware=[failing])  # type: ignore[list-item]
    async def streamed(request):
        return Response(stream=stream, media_type="text/plain")

    assert TestClient(app).get("/stream").status == 500
    assert (stream.closed, stream.read) == (True, False)


def test_a_middleware_answering_with_the_routes_stream_rewrapped_keeps_it_open() -> None:
    stream = RecordedStream()
    app = App(request_log=False)

    async def rewrap(request, call_next):  # type: ignore[no-untyped-def]
        inner = await call_next(request)
        return Response(stream=inner.stream, status=inner.status, media_type="text/plain")

    @app.get("/stream", middleware=[rewrap])
    async def streamed(request):
        return Response(stream=stream, media_type="text/plain")

    client = TestClient(app)
    response = asyncio.run(client.app.handle(Request("GET", "/stream")))
    assert response.stream is stream
    assert (stream.read, stream.closed) == (False, False)
    assert client.get("/stream").status == 200
    assert (stream.read, stream.closed) == (True, True)  # read, then closed as sent


class UnclosableStream(RecordedStream):
    """A streamed body whose closing fails."""

    async def aclose(self) -> None:
        self.closed = True
        raise RuntimeError("closing failed: password=hunter2-on-close")


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [
        ("HEAD", "/stream", 200),
        ("GET", "/status-stream?s=204", 204),
        ("GET", "/status-stream?s=99", 500),
    ],
)
def test_a_dropped_stream_that_fails_to_close_is_answered_and_logged_once(
    method: str, target: str, status: int
) -> None:
    # The close's error escaped the app: no answer, no log line (a failed Lambda
    # invocation; uvicorn printed its text, unredacted), and the request's trace stayed
    # current for whatever that task or thread served next.
    import asyncio

    from daloy_edge.observability import LogConfig, MemorySink, current_trace

    sink, stream = MemorySink(), UnclosableStream()
    log = RequestLog(LogConfig(stdout=False, sinks=[sink], env={}))
    client = TestClient(framing_app(stream, log))

    async def served() -> tuple[int, object]:
        response = await client.arequest(method, target)
        return response.status, current_trace()

    assert asyncio.run(served()) == (status, None)
    assert stream.closed
    (record,) = sink.records
    attributes = record["Attributes"]
    assert attributes["http.response.status_code"] == status  # type: ignore[index]
    assert "hunter2" not in sink.lines[0]


@pytest.mark.parametrize("status", [100, 101, 103, 199, 600, 999])
def test_a_status_no_runtime_can_send_as_final_is_a_500_problem(status: int) -> None:
    stream = RecordedStream()
    response = TestClient(framing_app(stream)).get(f"/status-stream?s={status}")
    assert response.status == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert stream.closed


def test_head_of_a_status_no_runtime_can_send_is_a_bodiless_500() -> None:
    response = TestClient(framing_app(RecordedStream())).head("/status?s=100")
    assert (response.status, response.content) == (500, b"")
    assert int(response.headers["content-length"]) > 0


def test_a_decorated_lifespan_hook_keeps_its_type_for_a_users_checker(type_errors):
    # Typed as any hook once decorated, an async one could no longer be awaited or run
    # (asyncio.run(open_pool()) in a test failed mypy --strict).
    assert (
        type_errors(
            """
            import asyncio
            from daloy_edge import App

            app = App()


            @app.on_startup
            async def open_pool() -> None: ...


            @app.on_shutdown
            async def close_pool() -> None: ...


            asyncio.run(open_pool())
            asyncio.run(close_pool())
            """
        )
        == []
    )


def test_head_states_the_byte_length_of_a_str_body_middleware_set() -> None:
    async def rewrite(request, call_next):
        response = await call_next(request)
        response.body = "café"
        return response

    app = App(middleware=[rewrite], request_log=False)

    @app.get("/x")
    async def x(request):
        return {"ok": True}

    client = TestClient(app)
    assert client.get("/x").content == "café".encode()
    assert client.head("/x").headers["content-length"] == "5"


def test_a_path_under_the_root_path_is_routed_below_it():
    # An HTTP API's named stage or a custom domain's base path mapping leads the path.
    client = TestClient(App(root_path="/prod"))
    client.app.add_route("/where", lambda request: {"path": request.path, "url": request.url})
    assert client.get("/prod/where", headers={"host": "h.example"}).json() == {
        "path": "/where",
        "url": "https://h.example/prod/where",
    }


def test_a_path_without_the_root_path_is_routed_as_it_is():
    # A REST API's execute-api URL leaves the stage out of the path it sends.
    app = App(root_path="/prod")
    app.add_route("/where", lambda request: {"root": request.root_path})
    assert TestClient(app).get("/where").json() == {"root": ""}


def test_the_root_path_is_only_taken_off_a_whole_segment():
    app = App(root_path="/prod")
    app.add_route("/uction/where", lambda request: {})
    assert TestClient(app).get("/production/where").status == 404


def test_a_dot_segment_below_the_root_path_is_still_refused():
    app = App(root_path="/prod")
    assert TestClient(app).get("/prod/%2e%2e/admin").status == 400


@pytest.mark.parametrize("root", ["prod", "/prod/", "/", "/a//b", "/..", "/a/.", "/a%2f", "/a?b"])
def test_a_root_path_that_is_not_plain_path_segments_is_refused(root):
    with pytest.raises(ConfigError):
        App(root_path=root)


def _head_app(body: bytes, declared: list[str], stream: bool = False) -> App:
    app = App(request_log=False)

    async def chunks():
        yield body

    @app.get("/x")
    async def x(request):
        headers = [("content-length", value) for value in declared]
        if stream:
            return Response(headers=headers, stream=chunks())
        return Response(body, headers=headers)

    return app


def test_head_states_its_bodys_length_not_a_contradicting_one_the_handler_gave() -> None:
    # GET sends the body's 5 bytes with their own length; HEAD sent the handler's 3.
    client = TestClient(_head_app(b"hello", ["3"]))
    assert client.get("/x").headers["content-length"] == "5"
    assert client.head("/x").headers.get_all("content-length") == ["5"]


@pytest.mark.parametrize("stream", [False, True], ids=["bytes", "stream"])
@pytest.mark.parametrize(
    "declared",
    [[""], ["abc"], ["-1"], ["+5"], ["0x10"], ["5, 5"], ["\u00b2"], ["5", "5"]],
    ids=["empty", "word", "negative", "signed", "hex", "list", "superscript-digit", "twice"],
)
def test_head_drops_a_content_length_that_is_no_length(declared: list[str], stream: bool) -> None:
    # Sent as given, h11 (uvicorn) refused it and dropped the connection, and gunicorn
    # (functions-framework) answered with its own bare 500.
    response = TestClient(_head_app(b"", declared, stream)).head("/x")
    assert response.status == 200
    assert "content-length" not in response.headers


@pytest.mark.parametrize("stream", [False, True], ids=["bytes", "stream"])
def test_head_keeps_the_length_a_bodiless_head_route_declares(stream: bool) -> None:
    response = TestClient(_head_app(b"", ["1234"], stream)).head("/x")
    assert response.headers.get_all("content-length") == ["1234"]
